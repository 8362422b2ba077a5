"""DEST, a Parquet dataset (outputs/parquet_parts.py: part files that a kill never leaves half written nor a
retry writes twice), written by Ray's write tasks and read back to tell which photos are done.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
from ray.data import Datasink
from ray.data.block import Block, BlockAccessor

from gendersort.errors import FatalError
from gendersort.outputs.parquet_parts import KEY_COLUMNS, RESULT_SCHEMA, photo_keys, write_part, written_rows
from gendersort.pipeline.results import ERROR, OK


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


def done_keys(filesystem: pafs.FileSystem, parts: list[str], model_version: str, faces: str = "main"
              ) -> tuple[pa.Array, pa.Array]:
    """The photos that have rows in DEST (photo_keys), all by the model `model_version` and with `faces`
    (a face's row is numbered with --faces all, not with main), and those of them whose row is an error
    (they stand, so a run that leaves them out still ends with errors)."""
    table = written_rows(filesystem, parts, [*KEY_COLUMNS, "model_version", "status", "face_index"])
    versions = set(table.column("model_version").unique().to_pylist()) - {model_version}
    if versions:
        raise FatalError(f"the destination holds rows of model {', '.join(sorted(versions))}, not "
                         f"{model_version}; write this model's rows to another destination")
    with_faces = table.filter(pc.equal(table.column("status"), OK)).column("face_index")
    written = {"all" if numbered else "main" for numbered in pc.is_valid(with_faces).unique().to_pylist()}
    if others := sorted(written - {faces}):
        raise FatalError(f"the destination holds rows of --faces {others[0]}, not {faces}; resume with "
                         f"--faces {others[0]}, or write to another destination")
    errors = table.filter(pc.equal(table.column("status"), ERROR))
    return pc.unique(photo_keys(table)), pc.unique(photo_keys(errors))


def is_done(table: pa.Table, done: pa.Array) -> pa.ChunkedArray:
    """Which rows of `table` (listed files or result rows) are photos in `done`."""
    return pc.is_in(photo_keys(table), value_set=done)
