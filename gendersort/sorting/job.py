"""Sorting photos into DEST/male, DEST/female and DEST/unknown without ever losing or overwriting a file.

- Nothing is overwritten: a name already taken gets a suffix, "name (1).jpg", "name (2).jpg", ...
- A copy goes to a hidden partial file, is checked (size and SHA-256) and only then takes its name
  (transfers.py).
- A move puts the file in place first (a hard link on the same filesystem, else such a verified copy),
  then deletes the original, then records it in the manifest. An original that cannot be deleted is that
  file's error: its new copy is removed and it stays where it was. A file reached through a symbolic link
  to a folder outside SRC is copied, never deleted there.
- The manifest (DEST/gendersort-manifest.csv by default) gets a row per file once it is placed; files it
  lists are not sorted again. Before each file is placed, its row goes to a journal beside the manifest
  (`<manifest>.journal`, removed when the run ends): a rerun after an interruption at any moment finds
  there the files that were placed but not yet recorded, records them (deleting a move's original first
  when it is still there and matches), and sorts the others again. Only that record of this very
  placement makes a file in DEST "found done": equal bytes alone (another source's file) never do.
- Unreadable files stay where they are, listed in the manifest with their error (and tried again by
  the next run).
- `results`: placed by an earlier run's rows, no model loaded (earlier.py). `target_accuracy` without
  them: every photo to sort is classified first into `<manifest>.classifying.csv` (written, and resumed
  after a kill, as `classify --resume` does), renamed `<manifest>.classified.csv` once complete and
  placed from there, with the threshold chosen over all of it; a rerun after a kill during the placing
  finds it complete and places by the same threshold; it is removed when the sort ends.
- The expected accuracy of each folder, over every file the manifest lists, goes beside the manifest
  (`<manifest>.accuracy.json`) at the end of each run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from gendersort.errors import BadOptionError
from gendersort.labels import LABELS, UNKNOWN
from gendersort.models.registry import DEFAULT_MODEL
from gendersort.outputs.resume import finished_rows, unfinished
from gendersort.outputs.whole_files import write_whole
from gendersort.outputs.writers import ENCODING, RowWriter, json_text, open_results, read_rows
from gendersort.photos.walk import EVERY_FILE, FoundFile, MissingPathError, Patterns, find_images
from gendersort.pipeline.analysis import FaceAnalyzer
from gendersort.pipeline.api import BATCH_SIZE, WORKERS, classify_files, shared_analyzer, threads_beside
from gendersort.pipeline.expected_accuracy import ExpectedAccuracy, Threshold, check_target, choose_threshold
from gendersort.pipeline.results import ERROR, ImageResult, label_for
from gendersort.sorting.earlier import EarlierRun, Verdict, as_written
from gendersort.sorting.transfers import TRANSFERS, already_placed, candidate_names

MODES = ("copy", "move", "link")
FOLDERS = (*LABELS, UNKNOWN)
MANIFEST_NAME = "gendersort-manifest.csv"
MANIFEST_COLUMNS = ("source", "destination", "label", "p_male", "status", "action", "error")
LEFT = "left in place"
COPIED_OUTSIDE = "copy (outside SRC)"  # --move of a file whose folder lies outside SRC (a symbolic link)
FOUND_DONE = " (found done)"


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
                 patterns: Patterns = EVERY_FILE, analyzer: FaceAnalyzer | None = None,
                 results: str | Path | None = None, target_accuracy: float | None = None) -> None:
        self.source, self.destination = Path(source), Path(destination)
        check_folders(self.source, self.destination)
        if mode not in MODES:
            raise BadOptionError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        if target_accuracy is not None and min_confidence:
            raise BadOptionError("target_accuracy chooses the threshold itself; min_confidence goes alone")
        self.mode, self.dry_run, self.flatten, self.recursive = mode, dry_run, flatten, recursive
        self.patterns = patterns  # --include and --exclude
        self.min_confidence, self.batch_size, self.workers = min_confidence, batch_size, workers
        self.manifest = Path(manifest) if manifest else self.destination / MANIFEST_NAME
        self.journal = self.manifest.with_name(self.manifest.name + ".journal")
        self.recorded = sorted_before(read_manifest(self.manifest))  # as the run starts
        self.real_source = Path(os.path.realpath(self.source))
        self.target_accuracy = None if target_accuracy is None else check_target(target_accuracy)
        self.threshold: Threshold | None = None
        self.classifying, self.classified = (self.manifest.with_name(f"{self.manifest.stem}.{step}.csv")
                                             for step in ("classifying", "classified"))
        self.earlier = EarlierRun.read(results) if results else None
        if self.earlier:
            self.earlier.check_covers(self.unsorted())
            self.choose_threshold()
        self.analyzer = None if self.earlier else (
            analyzer or shared_analyzer(device, threads_beside(workers), model))
        self.already_sorted = 0
        self.planned: set[Path] = set()  # names a dry run has handed out
        self.journal_writer: RowWriter | None = None
        self.passed_over: list[Path] = []  # files of SRC that are not images, as the run meets them

    @property
    def classifies_first(self) -> bool:
        """Whether the photos are classified before any is placed (--target-accuracy without --results)."""
        return self.target_accuracy is not None and self.analyzer is not None

    def classify_first(self) -> Iterator[ImageResult]:
        """--target-accuracy without --results: classify every photo to sort (yielding each result as it
        comes), then choose the threshold over them all. Once complete, the rows are kept until the sort
        ends, so that a rerun after a kill places by the same threshold (see the module's docstring)."""
        if not self.classifies_first or self.earlier:
            return
        if self.dry_run:
            rows: list[dict[str, object]] = []
            for result in self.classified_results(self.unsorted()):
                rows += result.rows()
                yield result
            self.earlier = EarlierRun(rows, "this run's classification")
        else:
            if not self.classified.exists():
                self.manifest.parent.mkdir(parents=True, exist_ok=True)
                version = self.analyzer.version
                with open_results(str(self.classifying), "csv", resume=True,
                                  keep=partial(finished_rows, model_version=version)) as (writer, kept):
                    for result in self.classified_results(unfinished(self.unsorted(), kept)):
                        writer.write(result.rows())
                        yield result
                os.replace(self.classifying, self.classified)
            self.earlier = EarlierRun.read(self.classified)
        self.choose_threshold()

    def classified_results(self, photos: Iterable[FoundFile]) -> Iterator[ImageResult]:
        return classify_files(photos, analyzer=self.analyzer, min_confidence=self.min_confidence,
                              batch_size=self.batch_size, workers=self.workers)

    def choose_threshold(self) -> None:
        if self.target_accuracy is not None and self.earlier:
            self.threshold = choose_threshold(self.earlier.confidences(), self.target_accuracy)

    def label(self, row: dict[str, object], p_male: float) -> str:
        """An earlier row's label: by the threshold, by min_confidence when given, else as it was written."""
        if self.threshold:
            return self.threshold.label(p_male)
        return label_for(p_male, self.min_confidence) if self.min_confidence else as_written(row, p_male)

    def run(self) -> Iterator[Placement]:
        for _ in self.classify_first():  # when the caller has not (to follow it with a progress bar)
            pass
        if self.dry_run:
            yield from self.place_all(self.recorded)
            return
        self.manifest.parent.mkdir(parents=True, exist_ok=True)
        with open_results(str(self.manifest), "csv", resume=True, keep=placed_rows,
                          columns=MANIFEST_COLUMNS) as (writer, rows):
            done = sorted_before(rows)
            for placement in self.recover(done):
                writer.write([placement.row()])
                yield placement
            with journal(self.journal) as self.journal_writer:
                for placement in self.place_all(done):
                    writer.write([placement.row()])
                    yield placement
        accuracy = {"manifest": str(self.manifest), "folders": self.folders().record(),
                    "rule": "expected accuracy: the mean max(p_male, 1 - p_male) of a folder's files"}
        write_whole(self.accuracy_path, json_text(accuracy, indent=2) + "\n")
        if self.classifies_first:
            self.classified.unlink(missing_ok=True)

    @property
    def accuracy_path(self) -> Path:
        return self.manifest.with_name(f"{self.manifest.stem}.accuracy.json")

    def folders(self) -> ExpectedAccuracy:
        """Each folder's files, by the manifest, with their expected accuracy."""
        return ExpectedAccuracy().add_rows(placed_rows(read_manifest(self.manifest)))

    def recover(self, done: set[str]) -> Iterator[Placement]:
        """The files an interrupted run journaled but did not record: those in place are recorded now (a
        move's original, if still there and the same, deleted first); the others are sorted again."""
        for row in read_manifest(self.journal):
            source, destination = Path(str(row["source"])), Path(str(row["destination"]))
            if str(source) in done or not os.path.lexists(destination):
                continue
            if os.path.lexists(source) and not already_placed(source, destination, row["action"] == "link"):
                continue
            p_male = float(str(row["p_male"])) if row["p_male"] not in (None, "") else None
            placement = Placement(source, destination, str(row["label"]), p_male, str(row["status"]),
                                  f"{row['action']}{FOUND_DONE}")
            if row["action"] == "move" and os.path.lexists(source):
                placement = delete_original(placement)
            done.add(str(source))
            yield placement

    def found(self, passed_over: Callable[[Path], None] | None = None) -> Iterator[FoundFile]:
        """Every photo under SRC; DEST's label folders are never entered; `passed_over` is told of the
        files that are not images."""
        label_folders = [self.destination / folder for folder in FOLDERS]
        return find_images([self.source], recursive=self.recursive, exclude=label_folders,
                           patterns=self.patterns, passed_over=passed_over)

    def unsorted(self) -> Iterator[FoundFile]:
        """The photos that the manifest did not list as the run started: those it will place (what the
        progress bar counts)."""
        return (item for item in self.found() if os.path.abspath(item.path) not in self.recorded)

    def place_all(self, done: set[str]) -> Iterator[Placement]:
        to_place = self.not_sorted(self.found(self.passed_over.append), done)
        results = (self.earlier.verdicts(to_place, self.label) if self.earlier else
                   self.classified_results(to_place))
        for result in results:
            yield self.place(result)

    def not_sorted(self, found: Iterable[FoundFile], done: set[str]) -> Iterator[FoundFile]:
        """The files the manifest does not list (one it lists that is back in SRC is left alone)."""
        for item in found:
            if os.path.abspath(item.path) in done:
                self.already_sorted += 1
            else:
                yield item

    def place(self, result: ImageResult | Verdict) -> Placement:
        source = Path(result.path)
        left = Placement(source, None, result.label, result.p_male, result.status, LEFT, result.error)
        if result.status == ERROR:
            return left
        folder = self.destination / result.label
        if not self.flatten:
            folder = folder / source.parent.relative_to(self.source)
        mode = "copy" if self.mode == "move" and self.outside_source(source) else self.mode
        destination = self.free_name(folder, source.name)
        action = COPIED_OUTSIDE if mode != self.mode else mode
        placement = replace(left, destination=destination, action=action)
        if self.dry_run:
            self.planned.add(destination)
            return placement
        self.journal_writer.write([placement.row()])
        try:
            folder.mkdir(parents=True, exist_ok=True)
            TRANSFERS[mode](source, destination)
        except OSError as error:
            return replace(left, status=ERROR, error=f"could not {mode}: {error}")
        return delete_original(placement) if mode == "move" else placement

    def free_name(self, folder: Path, name: str) -> Path:
        """The first of name.jpg, name (1).jpg, ... neither in DEST nor handed out by a dry run."""
        return next(candidate for candidate in candidate_names(folder, name)
                    if candidate not in self.planned and not os.path.lexists(candidate))

    def outside_source(self, source: Path) -> bool:
        """Whether the file's folder lies outside SRC (reached through a symbolic link to a folder):
        deleting it would delete a file there. A linked file's own link is inside, and is what goes."""
        folder = Path(os.path.realpath(source.parent))
        return folder != self.real_source and self.real_source not in folder.parents


def delete_original(placement: Placement) -> Placement:
    """A move's last step, once the file is in place: an original that cannot be deleted is that file's
    error, and its new copy is removed, so that it stays whole where it was and nowhere else."""
    try:
        placement.source.unlink()
    except OSError as error:
        assert placement.destination is not None
        placement.destination.unlink()
        return replace(placement, destination=None, status=ERROR, action=LEFT,
                       error=f"could not move: the original cannot be deleted ({error.strerror or error})")
    return placement


@contextmanager
def journal(path: Path) -> Iterator[RowWriter]:
    """The journal of this run's placements, each row written before its file is placed; removed when
    the run ends (an interrupted run leaves it for the next, see SortJob.recover)."""
    with open(path, "w", newline="", **ENCODING) as stream:
        yield RowWriter(stream, "csv", write_header=True, columns=MANIFEST_COLUMNS)
    path.unlink()


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


def sorted_before(rows: list[dict[str, object]]) -> set[str]:
    """The sources the manifest says were placed."""
    return {str(row["source"]) for row in placed_rows(rows)}


