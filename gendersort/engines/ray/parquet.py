"""DEST, a Parquet dataset: part files that a kill never leaves half written nor a retry writes twice, read
back to tell which photos are done.

- A part file's name is a hash of the photos it holds: a write task that Ray retries (its worker died)
  writes the same name again, not a second copy of the rows.
- On a local disk a part is written under a dot name (which Parquet readers pass over) and renamed once
  complete; an object store shows an object only once its upload is complete. So a run killed at any
  moment (even SIGKILL) leaves only complete files, and a photo's rows (one per face) stay in one file.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from ray.data import Datasink
from ray.data.block import Block, BlockAccessor

from gendersort.engines.ray.schema import RESULT_SCHEMA
from gendersort.errors import FatalError

PART_PREFIX, PART_SUFFIX, TEMPORARY_SUFFIX = "part-", ".parquet", ".tmp"
KEY_COLUMNS = ("path", "size", "mtime")


class ParquetSink(Datasink[None]):
    """Writes each write task's rows as one part file under `root`, in RESULT_SCHEMA."""

    def __init__(self, filesystem: pafs.FileSystem, root: str, rows_per_file: int) -> None:
        self.filesystem = filesystem
        self.root = root
        self.rows_per_file = rows_per_file

    @property
    def min_rows_per_write(self) -> int:
        return self.rows_per_file

    def write(self, blocks: Iterable[Block], ctx: object) -> None:
        tables = [table for table in map(to_arrow, blocks) if table.num_rows]  # empty ones have no columns
        if tables:
            write_part(self.filesystem, self.root, pa.concat_tables(tables).cast(RESULT_SCHEMA))


def to_arrow(block: Block) -> pa.Table:
    return BlockAccessor.for_block(block).to_arrow()


def part_name(table: pa.Table) -> str:
    digest = hashlib.sha256()
    for key in photo_keys(table).to_pylist():
        digest.update(key.encode("utf-8", "surrogateescape") + b"\n")
    return f"{PART_PREFIX}{digest.hexdigest()[:32]}{PART_SUFFIX}"


def write_part(filesystem: pafs.FileSystem, root: str, table: pa.Table) -> None:
    name = part_name(table)
    if not isinstance(filesystem, pafs.LocalFileSystem):
        pq.write_table(table, f"{root}/{name}", filesystem=filesystem)
        return
    temporary = f"{root}/.{name}.{uuid.uuid4().hex}{TEMPORARY_SUFFIX}"
    pq.write_table(table, temporary, filesystem=filesystem)
    filesystem.move(temporary, f"{root}/{name}")


def dest_files(filesystem: pafs.FileSystem, root: str) -> tuple[list[str], list[str]]:
    """The part files under `root`, and the temporary files killed runs left there."""
    infos = filesystem.get_file_info(pafs.FileSelector(root, allow_not_found=True))
    names = sorted(info.path for info in infos if info.type == pafs.FileType.File)
    parts = [path for path in names if is_part(path.rsplit("/", 1)[-1])]
    temporary = [path for path in names if path.rsplit("/", 1)[-1].startswith(".") and
                 path.endswith(TEMPORARY_SUFFIX)]
    return parts, temporary


def is_part(name: str) -> bool:
    return name.startswith(PART_PREFIX) and name.endswith(PART_SUFFIX)


def written_rows(filesystem: pafs.FileSystem, parts: list[str], columns: list[str]) -> pa.Table:
    """These columns of every row in the part files; an error when a part is not gendersort's."""
    if not parts:
        return RESULT_SCHEMA.empty_table().select(columns)
    try:
        dataset = pads.dataset(parts, filesystem=filesystem, format="parquet")
        if not dataset.schema.equals(RESULT_SCHEMA):
            raise pa.ArrowInvalid(f"columns {dataset.schema.names}")
        return dataset.to_table(columns=columns)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise FatalError(f"the Parquet files in the destination are not all gendersort's ({error}); "
                         "name another destination") from error


def done_keys(filesystem: pafs.FileSystem, parts: list[str], model_version: str) -> pa.Array:
    """The photos that have rows in DEST (photo_keys), all by the model `model_version`."""
    table = written_rows(filesystem, parts, [*KEY_COLUMNS, "model_version"])
    versions = set(table.column("model_version").unique().to_pylist()) - {model_version}
    if versions:
        raise FatalError(f"the destination holds rows of model {', '.join(sorted(versions))}, not "
                         f"{model_version}; write this model's rows to another destination")
    return pc.unique(photo_keys(table))


def photo_keys(table: pa.Table) -> pa.ChunkedArray:
    """Each row's photo as one string: path, size and mtime (its shortest exact decimal) joined by NUL, so
    that Arrow compares millions of them at once. A missing size or mtime (a file that could not be
    reached) is empty."""
    size, mtime = (pc.cast(table.column(name), pa.string()) for name in KEY_COLUMNS[1:])
    return pc.binary_join_element_wise(table.column("path"), size, mtime, "\x00", null_handling="replace",
                                       null_replacement="")


def is_done(table: pa.Table, done: pa.Array) -> pa.ChunkedArray:
    """Which rows of `table` (listed files or result rows) are photos in `done`."""
    return pc.is_in(photo_keys(table), value_set=done)
