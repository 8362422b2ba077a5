"""A results dataset in Parquet, as both engines write it: a folder of part files in one explicit schema,
each written whole or not at all. Needs pyarrow (the `parquet` or `ray` extra).

- The schema is the CSV's columns in its order, with their types: every part file has the same types
  whatever its rows hold (a file of error rows alone included), so any reader joins them.
- A part file's name is a hash of the photos it holds: a write task that Ray retries (its worker died)
  writes the same name again, not a second copy of the rows.
- A path is text as Parquet's strings must be, UTF-8, and tells every file apart (arrow_path): the bytes of a
  name that are not UTF-8 are written as `\\xNN` escapes, and every backslash is doubled, so a file really
  named `bad\\xff.jpg` is written `bad\\\\xff.jpg`; readers get the name back (file_path).
- On a local disk a part is written under a dot name (which Parquet readers pass over) and renamed once
  complete; an object store shows an object only once its upload is complete. So a run killed at any
  moment (even SIGKILL) leaves only complete files, and a photo's rows (one per face) stay in one file.
"""

from __future__ import annotations

import hashlib
import re
import uuid

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from gendersort.errors import FatalError
from gendersort.pipeline.results import COLUMNS

FLOAT_COLUMNS = ("p_male", "confidence", "box_x0", "box_y0", "box_x1", "box_y1", "mtime")
INT_COLUMNS = ("faces", "face_index", "size")
PART_PREFIX, PART_SUFFIX, TEMPORARY_SUFFIX = "part-", ".parquet", ".tmp"
KEY_COLUMNS = ("path", "size", "mtime")
ESCAPE = re.compile(r"\\(\\|x[0-9a-fA-F]{2})")


def column_type(name: str) -> pa.DataType:
    if name in FLOAT_COLUMNS:
        return pa.float64()
    return pa.int64() if name in INT_COLUMNS else pa.string()


# The CSV's columns, in its order, with their types.
RESULT_SCHEMA = pa.schema([pa.field(name, column_type(name)) for name in COLUMNS])


def arrow_path(path: str) -> str:
    """A path (its undecodable bytes held by surrogateescape) as UTF-8 text that no other path gives."""
    doubled = path.replace("\\", "\\\\")
    return doubled.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def file_path(text: str) -> str:
    """The path that arrow_path wrote as `text`; a backslash that starts no escape is itself."""
    pieces = ESCAPE.split(text)  # text, escape, text, escape, ...: every odd piece an escape's body
    raw = b"".join(piece.encode("utf-8") if index % 2 == 0 else
                   b"\\" if piece == "\\" else bytes([int(piece[1:], 16)])
                   for index, piece in enumerate(pieces))
    return raw.decode("utf-8", "surrogateescape")


def part_name(table: pa.Table) -> str:
    digest = hashlib.sha256()
    for key in photo_keys(table).to_pylist():
        digest.update(key.encode("utf-8", "surrogateescape") + b"\n")
    return f"{PART_PREFIX}{digest.hexdigest()[:32]}{PART_SUFFIX}"


def write_part(filesystem: pafs.FileSystem, root: str, table: pa.Table, name: str | None = None) -> None:
    """Write the rows as one part file under `root`, named by their photos unless `name` replaces a part."""
    name = name or part_name(table)
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


def photo_keys(table: pa.Table) -> pa.ChunkedArray:
    """Each row's photo as one string: path, size and mtime (its shortest exact decimal) joined by NUL, so
    that Arrow compares millions of them at once. A missing size or mtime (a file that could not be
    reached) is empty."""
    size, mtime = (pc.cast(table.column(name), pa.string()) for name in KEY_COLUMNS[1:])
    return pc.binary_join_element_wise(table.column("path"), size, mtime, "\x00", null_handling="replace",
                                       null_replacement="")
