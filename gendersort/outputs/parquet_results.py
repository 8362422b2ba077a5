"""`classify --out results.parquet` on the local engine: the Ray engine's dataset (a folder of part files,
parquet_parts.py), with CSV's rules for an existing output, resuming and the lock; and reading any of them
back. Needs pyarrow (the `parquet` extra); writers.parquet_support() says so when it is missing.

Rows are kept in memory and written as a part file every `rows_per_file` rows or FLUSH_INTERVAL_S seconds,
whichever comes first, a photo's rows always in one part; a run killed at any moment (even SIGKILL) leaves
the complete parts of the photos before, and loses at most the photos since the last part. `--resume`
keeps the rows that finished_rows keeps (as for CSV); each part holding others is replaced whole by its
kept rows under the same name (a rename), so that no photo ever has rows in two parts.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs

from gendersort.errors import FatalError
from gendersort.outputs.parquet_parts import (
    RESULT_SCHEMA,
    arrow_path,
    dest_files,
    file_path,
    write_part,
    written_rows,
)
from gendersort.pipeline.results import COLUMNS

Row = dict[str, object]
FLUSH_INTERVAL_S = 60.0


class PartWriter:
    """Takes a photo's rows at a time, writes them as part files under `root`."""

    def __init__(self, root: str, rows_per_file: int) -> None:
        self.filesystem = pafs.LocalFileSystem()
        self.root = root
        self.rows_per_file = rows_per_file
        self.rows: list[Row] = []
        self.since = time.monotonic()

    def write(self, rows: list[Row]) -> None:
        if not self.rows:
            self.since = time.monotonic()
        self.rows.extend(rows)
        if len(self.rows) >= self.rows_per_file or time.monotonic() - self.since >= FLUSH_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            write_part(self.filesystem, self.root, arrow_rows(self.rows))
            self.rows = []


def arrow_rows(rows: list[Row]) -> pa.Table:
    """The rows in RESULT_SCHEMA, each path as arrow_path writes it. Other text (an error message may
    quote a name) gets the bytes that are not UTF-8 as \\x escapes, readable, not read back."""
    records = [{key: utf8(value) for key, value in row.items()} | {"path": arrow_path(str(row["path"]))}
               for row in rows]
    return pa.Table.from_pylist(records, schema=RESULT_SCHEMA)


def utf8(value: object) -> object:
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return value


def python_rows(table: pa.Table) -> list[Row]:
    """The rows of a table read back, each path the file's own again (file_path)."""
    return [row | {"path": file_path(row["path"])} for row in table.to_pylist()]


@contextmanager
def open_parquet_results(path: Path, *, resume: bool, overwrite: bool, keep: Callable[[list[Row]], list[Row]],
                         rows_per_file: int) -> Iterator[tuple[PartWriter, list[Row]]]:
    """A writer for the dataset at `path` and the rows kept from an earlier run; the caller holds the lock
    and has refused an existing `path` that neither `resume` nor `overwrite` allows."""
    if path.exists() and not path.is_dir():
        if resume:
            raise FatalError(f"{path} is a file, not a folder of Parquet parts that gendersort wrote; "
                             "--overwrite replaces it")
        path.unlink()
    root = os.path.abspath(path)
    filesystem = pafs.LocalFileSystem()
    parts, temporary = dest_files(filesystem, root)
    for leftover in temporary:  # a killed run's; nothing else writes here while the lock is held
        filesystem.delete_file(leftover)
    kept = []
    for part in parts:
        if overwrite:
            filesystem.delete_file(part)
        else:
            kept += kept_in(filesystem, part, keep)
    path.mkdir(parents=True, exist_ok=True)
    writer = PartWriter(root, rows_per_file)
    try:
        yield writer, kept
    finally:
        writer.flush()


def kept_in(filesystem: pafs.FileSystem, part: str, keep: Callable[[list[Row]], list[Row]]) -> list[Row]:
    """The rows of one part that still stand; the part is replaced by them, or removed when none do."""
    rows = python_rows(written_rows(filesystem, [part], list(COLUMNS)))
    kept = keep(rows)
    if not kept:
        filesystem.delete_file(part)
    elif len(kept) < len(rows):
        replace_part(filesystem, part, kept)
    return kept


def replace_part(filesystem: pafs.FileSystem, part: str, rows: list[Row]) -> None:
    """The part file replaced whole by these rows under its own name (a rename: the old or the new, never
    half of either)."""
    root, name = part.rsplit("/", 1)
    write_part(filesystem, root, arrow_rows(rows), name=name)


def rewrite_parts(path: Path, change: Callable[[list[Row]], list[Row]]) -> None:
    """Each part file of the dataset at `path` replaced by its rows as `change` gives them back (a photo's
    rows stay in their part); a part that `change` leaves as it was is not written again."""
    filesystem = pafs.LocalFileSystem()
    for part in dest_files(filesystem, os.path.abspath(path))[0]:
        rows = python_rows(written_rows(filesystem, [part], list(COLUMNS)))
        changed = change(rows)
        if changed != rows:
            replace_part(filesystem, part, changed)


def read_parquet_rows(path: Path) -> list[Row]:
    """Every row of a results dataset (a folder either engine wrote) or of one Parquet file of its schema."""
    filesystem = pafs.LocalFileSystem()
    location = os.path.abspath(path)
    parts = dest_files(filesystem, location)[0] if path.is_dir() else [location]
    if not parts:
        raise FatalError(f"{path} holds no Parquet part files (part-*.parquet) that gendersort wrote")
    return python_rows(written_rows(filesystem, parts, list(COLUMNS)))
