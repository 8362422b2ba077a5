"""A whole run on Ray, as `classify SRC --engine ray --out DEST` makes it: list SRC, leave out what DEST
holds already, classify the rest on the cluster's actors, write it to DEST.

A photo is done when DEST has a row with its path, size and mtime (so a rerun after a crash, or a SIGKILL of
the driver, writes only what is missing and never a row twice: Ray itself would append every row again).
Error rows count as done too: their files are tried again once they change, or with --overwrite.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs

from gendersort.engines.ray.cluster import LOCAL, connect, strict_datasets
from gendersort.engines.ray.dataset import PHOTOS_PER_BLOCK, TASK_RETRIES, classify_dataset, photos_of
from gendersort.engines.ray.listing import filesystem_of, is_uri, list_photos
from gendersort.engines.ray.parquet import ParquetSink, done_keys, is_done
from gendersort.engines.ray.resources import IO_CPUS, block_photos, io_tasks, plan_actors
from gendersort.errors import BadOptionError
from gendersort.faces.detector import FaceDetector
from gendersort.models.classifier import GenderClassifier
from gendersort.models.registry import DEFAULT_MODEL, model_path
from gendersort.outputs.parquet_parts import KEY_COLUMNS, dest_files, photo_keys, written_rows
from gendersort.outputs.writers import ROWS_PER_FILE, OutputExistsError, OutputLock
from gendersort.pipeline.analysis import run_version
from gendersort.pipeline.api import BATCH_SIZE
from gendersort.pipeline.results import ERROR, FACE_MODE_ALIASES, Tally
from gendersort.wording import counted


@dataclass
class RayRun:
    """What a run found and did: photos listed, already in DEST (with an error row among them), and the rows
    it wrote (by photo)."""

    listed: int = 0
    done_before: int = 0
    errors_before: int = 0
    written: Tally = field(default_factory=Tally)

    @property
    def errors(self) -> int:
        """Listed photos whose row in DEST is an error, written now or before: a resumed run that leaves
        them out ends with errors as the first run did (exit 2)."""
        return self.errors_before + self.written.errors


def classify_to_parquet(source: str, dest: str, *, resume: bool = False, overwrite: bool = False,
                        faces: str = "main", min_confidence: float = 0.0, device: str = "auto",
                        recursive: bool = True, batch_size: int = BATCH_SIZE, actors: int | None = None,
                        actor_cpus: int | None = None, rows_per_file: int = ROWS_PER_FILE,
                        photos_per_block: int | None = None, model: str = DEFAULT_MODEL,
                        address: str = LOCAL, note: Callable[[str], None] = print) -> RayRun:
    """Classify every photo under `source` (a folder or URI) into the Parquet dataset `dest`.

    Joins the cluster at `address` unless this process has joined one already, and only when there is
    something to do. An existing `dest` needs `resume` (do what is missing) or `overwrite`. `note` gets
    a line on what is done already and what is left. `model` names the classifier (models/registry.py); a
    photo is done when DEST has a row of it by that model's version. `photos_per_block` defaults to
    PHOTOS_PER_BLOCK, fewer in a job too small to give every actor several blocks (resources.block_photos).
    """
    if resume and overwrite:
        raise BadOptionError("--resume and --overwrite contradict each other; choose one")
    filesystem, listing = list_photos(source, recursive)
    dest_filesystem, root = filesystem_of(dest)
    version = run_version(GenderClassifier(device="cpu", threads=1, model_path=model_path(model)),
                          FaceDetector(device="cpu", threads=1))
    run = RayRun(listed=listing.num_rows)
    with nullcontext() if is_uri(dest) else OutputLock(Path(dest)):
        parts, temporary = dest_files(dest_filesystem, root)
        if parts and not (resume or overwrite):
            raise OutputExistsError(f"{dest} holds results; add --resume to finish it or --overwrite to "
                                    "replace it")
        if overwrite:
            for path in parts + temporary:
                dest_filesystem.delete_file(path)
        done, errors = done_keys(dest_filesystem, [] if overwrite else parts, version,
                                 FACE_MODE_ALIASES.get(faces, faces))
        todo = listing.filter(pc.invert(is_done(listing, done)))
        run.done_before = listing.num_rows - todo.num_rows
        run.errors_before = pc.sum(is_done(listing, errors)).as_py() or 0
        if run.done_before:
            errors_note = f" ({counted(run.errors_before, 'error')})" if run.errors_before else ""
            note(f"{counted(run.done_before, 'file')} already done in {dest}{errors_note}")
        if todo.num_rows:
            run.written = Tally()  # the rate counts from here: the cluster's start, the models' loading too
            connect(address)
            strict_datasets()
            plan = plan_actors(actors, actor_cpus, device)
            note(f"{counted(todo.num_rows, 'file')} to classify on Ray: {counted(plan.actors, 'actor')} of "
                 f"{counted(plan.cpus, 'CPU')}{' and a GPU' if plan.gpus else ''}")
            dest_filesystem.create_dir(root, recursive=True)
            per_block = photos_per_block or block_photos(todo.num_rows, plan.actors, PHOTOS_PER_BLOCK)
            photos = photos_of(todo, filesystem, per_block)
            rows = classify_dataset(photos, faces=faces, min_confidence=min_confidence, device=device,
                                    actors=plan.actors, actor_cpus=plan.cpus, batch_size=batch_size,
                                    photos_per_call=per_block, model=model)
            rows.write_datasink(ParquetSink(dest_filesystem, root, rows_per_file),
                                ray_remote_args={"num_cpus": IO_CPUS, "max_retries": TASK_RETRIES},
                                concurrency=io_tasks())
            for path, error in count_new(run.written, dest_filesystem, root, done):
                note(f"{path}: {error}")
    return run


def count_new(tally: Tally, filesystem: pafs.FileSystem, root: str, done: pa.Array) -> list[tuple[str, str]]:
    """Count, by photo, the rows in DEST that were not there before this run; the new errors' paths and
    messages."""
    columns = [*KEY_COLUMNS, "status", "faces", "error"]
    table = written_rows(filesystem, dest_files(filesystem, root)[0], columns)
    new = table.filter(pc.invert(is_done(table, done)))
    seen: set[str] = set()
    errors = []
    for key, path, status, faces, error in zip(photo_keys(new).to_pylist(), *(
            new.column(name).to_pylist() for name in ("path", "status", "faces", "error")), strict=True):
        if key not in seen:  # a photo's first row (there is one per face with --faces all)
            seen.add(key)
            tally.count(status, faces)
            if status == ERROR:
                errors.append((path, error))
    return errors
