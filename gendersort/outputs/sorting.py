"""Sorting photos into DEST/male, DEST/female and DEST/unknown without ever losing or overwriting a file.

- Nothing is overwritten: a name already taken gets a suffix, "name (1).jpg", "name (2).jpg", ...
- A copy goes to a hidden partial file, is checked (size and SHA-256) and only then takes its name.
- A move puts the file in place first (a hard link on the same filesystem, else such a verified copy),
  records it in the manifest, and only then deletes the original.
- The manifest (DEST/gendersort-manifest.csv by default) gets a row per file as soon as it is placed;
  files it lists are not sorted again. Rerunning after an interruption at any moment finishes the job
  with nothing lost and nothing twice: a file placed but not yet recorded is found, identical, at its
  destination and only recorded; a move recorded but whose original is still there is completed.
- Unreadable files stay where they are, listed in the manifest with their error (and tried again by
  the next run).
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from gendersort.errors import BadOptionError
from gendersort.labels import LABELS, UNKNOWN
from gendersort.models.registry import DEFAULT_MODEL
from gendersort.outputs.results import ERROR, ImageResult
from gendersort.outputs.writers import open_results, read_rows
from gendersort.photos.walk import FoundFile, MissingPathError, find_images
from gendersort.pipeline.analysis import FaceAnalyzer
from gendersort.pipeline.api import BATCH_SIZE, WORKERS, classify_files, shared_analyzer, threads_beside

MODES = ("copy", "move", "link")
FOLDERS = (*LABELS, UNKNOWN)
MANIFEST_NAME = "gendersort-manifest.csv"
MANIFEST_COLUMNS = ("source", "destination", "label", "p_male", "status", "action", "error")
LEFT = "left in place"
CHUNK = 1 << 20
# os.link fails with these where a hard link cannot be made (another filesystem, exFAT, some shares).
NO_HARD_LINK = frozenset({errno.EXDEV, errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK})


@dataclass(frozen=True)
class Placement:
    """What happened to one file: `destination` is None when it was left where it is."""

    source: Path
    destination: Path | None
    label: str
    p_male: float | None
    status: str
    action: str
    error: str = ""

    def row(self) -> dict[str, object]:
        return dict(zip(MANIFEST_COLUMNS, (
            os.path.abspath(self.source), os.path.abspath(self.destination) if self.destination else "",
            self.label, None if self.p_male is None else round(self.p_male, 4), self.status, self.action,
            self.error,
        ), strict=True))


class SortJob:
    """One sort of SRC into DEST; `run()` yields a Placement per file as it goes."""

    def __init__(self, source: str | Path, destination: str | Path, *, mode: str = "copy",
                 dry_run: bool = False, flatten: bool = False, recursive: bool = True,
                 min_confidence: float = 0.0, device: str = "auto", batch_size: int = BATCH_SIZE,
                 workers: int = WORKERS, manifest: str | Path | None = None, model: str = DEFAULT_MODEL,
                 analyzer: FaceAnalyzer | None = None) -> None:
        self.source, self.destination = Path(source), Path(destination)
        check_folders(self.source, self.destination)
        if mode not in MODES:
            raise BadOptionError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.mode, self.dry_run, self.flatten, self.recursive = mode, dry_run, flatten, recursive
        self.min_confidence, self.batch_size, self.workers = min_confidence, batch_size, workers
        self.manifest = Path(manifest) if manifest else self.destination / MANIFEST_NAME
        self.recorded = sorted_before(read_manifest(self.manifest))  # as the run starts
        self.analyzer = analyzer or shared_analyzer(device, threads_beside(workers), model)
        self.already_sorted = 0
        self.planned: set[Path] = set()  # names a dry run has handed out

    def run(self) -> Iterator[Placement]:
        if self.dry_run:
            yield from self.place_all(self.recorded)
            return
        self.manifest.parent.mkdir(parents=True, exist_ok=True)
        with open_results(str(self.manifest), "csv", resume=True, keep=placed_rows,
                          columns=MANIFEST_COLUMNS) as (writer, rows):
            for placement in self.place_all(sorted_before(rows)):
                writer.write([placement.row()])
                if self.mode == "move" and placement.destination:
                    placement.source.unlink()  # only now that the file is in place and recorded
                yield placement

    def found(self) -> Iterator[FoundFile]:
        """Every photo under SRC; DEST's label folders are never entered."""
        label_folders = [self.destination / folder for folder in FOLDERS]
        return find_images([self.source], recursive=self.recursive, exclude=label_folders)

    def unsorted(self) -> Iterator[FoundFile]:
        """The photos that the manifest did not list as the run started: those it will place (what the
        progress bar counts)."""
        return (item for item in self.found() if os.path.abspath(item.path) not in self.recorded)

    def place_all(self, done: dict[str, Path]) -> Iterator[Placement]:
        results = classify_files(self.not_sorted(self.found(), done), analyzer=self.analyzer,
                                 min_confidence=self.min_confidence, batch_size=self.batch_size,
                                 workers=self.workers)
        for result in results:
            yield self.place(result)

    def not_sorted(self, found: Iterable[FoundFile], done: dict[str, Path]) -> Iterator[FoundFile]:
        """The files the manifest does not list; a recorded move whose original is still there is finished."""
        for item in found:
            recorded = done.get(os.path.abspath(item.path))
            if recorded is None:
                yield item
                continue
            self.already_sorted += 1
            if self.mode == "move" and not self.dry_run and already_placed(item.path, recorded, "move"):
                item.path.unlink()

    def place(self, result: ImageResult) -> Placement:
        source = Path(result.path)
        left = Placement(source, None, result.label, result.p_male, result.status, LEFT, result.error)
        if result.status == ERROR:
            return left
        folder = self.destination / result.label
        if not self.flatten:
            folder = folder / source.parent.relative_to(self.source)
        try:
            destination, action = self.put(source, folder)
        except OSError as error:
            return Placement(source, None, result.label, result.p_male, ERROR, LEFT,
                             f"could not {self.mode}: {error}")
        return Placement(source, destination, result.label, result.p_male, result.status, action)

    def put(self, source: Path, folder: Path) -> tuple[Path, str]:
        """Place one file in a folder under a free name; the destination and what was done."""
        names = candidate_names(folder, source.name)
        candidate = next(names)
        while candidate in self.planned or (
                os.path.lexists(candidate) and not already_placed(source, candidate, self.mode)):
            candidate = next(names)
        if os.path.lexists(candidate):  # this very file, placed by an interrupted run
            return candidate, f"{self.mode} (found done)"
        if self.dry_run:
            self.planned.add(candidate)
        else:
            folder.mkdir(parents=True, exist_ok=True)
            TRANSFERS[self.mode](source, candidate)
        return candidate, self.mode


def check_folders(source: Path, destination: Path) -> None:
    if not source.exists():
        raise MissingPathError(f"{source}: no such folder")
    if not source.is_dir():
        raise BadOptionError(f"{source} is not a folder; sort takes a folder of photos")
    if destination.exists() and not destination.is_dir():
        raise BadOptionError(f"{destination} exists and is not a folder")
    real_source = Path(os.path.realpath(source))
    for folder in FOLDERS:
        real_folder = Path(os.path.realpath(destination / folder))
        if real_source == real_folder or real_folder in real_source.parents:
            raise BadOptionError(f"{source} lies inside {destination / folder}, where sorting writes")


def read_manifest(path: Path) -> list[dict[str, object]]:
    return read_rows(path, "csv", MANIFEST_COLUMNS) if path.exists() else []


def placed_rows(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """The manifest rows kept from earlier runs: files placed; those left in place are tried again."""
    return [row for row in rows if row["destination"]]


def sorted_before(rows: list[dict[str, object]]) -> dict[str, Path]:
    """Where the manifest says each source went."""
    return {str(row["source"]): Path(str(row["destination"])) for row in placed_rows(rows)}


def candidate_names(folder: Path, name: str) -> Iterator[Path]:
    """name.jpg, then name (1).jpg, name (2).jpg, ... (endless)."""
    yield folder / name
    stem, suffix = os.path.splitext(name)
    number = 1
    while True:
        yield folder / f"{stem} ({number}){suffix}"
        number += 1


def already_placed(source: Path, candidate: Path, mode: str) -> bool:
    """True when the candidate is this very file, put there by an earlier, interrupted run."""
    if mode == "link":
        return candidate.is_symlink() and os.readlink(candidate) == os.path.abspath(source)
    if candidate.is_symlink() or not candidate.is_file():
        return False
    if os.path.samefile(source, candidate):
        return True
    return candidate.stat().st_size == source.stat().st_size and sha256(candidate) == sha256(source)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def copy_verified(source: Path, destination: Path) -> None:
    """Copy through a hidden partial file that takes its name only once its size and SHA-256 match."""
    partial = destination.with_name(f".{destination.name}.gendersort-partial")
    digest = hashlib.sha256()
    with open(source, "rb") as reader, open(partial, "wb") as writer:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
            writer.write(chunk)
        writer.flush()
        os.fsync(writer.fileno())
    shutil.copystat(source, partial)
    if partial.stat().st_size != source.stat().st_size or sha256(partial) != digest.hexdigest():
        partial.unlink()
        raise OSError(f"the copy of {source} does not match it; nothing was changed")
    os.replace(partial, destination)


def place_for_move(source: Path, destination: Path) -> None:
    """Give the file its new name without yet deleting the old: a hard link, else a verified copy.

    The original is deleted by the caller once the manifest records the move.
    """
    if not source.is_symlink():  # a symbolic link is moved as the file it points to
        try:
            os.link(source, destination)
            return
        except OSError as error:
            if error.errno not in NO_HARD_LINK:
                raise
    copy_verified(source, destination)


def link(source: Path, destination: Path) -> None:
    os.symlink(os.path.abspath(source), destination)


TRANSFERS = {"copy": copy_verified, "move": place_for_move, "link": link}
