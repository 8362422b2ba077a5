"""Listing SRC ourselves, so that every file gets a row, with the size and mtime that resuming compares.

Ray's read_binary_files passes over paths with a part that starts with `_` or `.` without a word, and
records no mtime. Local trees are walked by gendersort's own walker (the files local classify takes, in its
order, with its errors for unreachable ones); object-store URIs are listed with pyarrow.fs.FileSelector,
a folder (prefix) at a time, in sorted order. Objects are taken whatever their names: reading.py passes
over those whose bytes are no image, as the walker does, without a request per object here.

Rows become Arrow a chunk at a time, and an object store is listed a folder at a time, so that the
driver never holds millions of files as Python objects (about 140 bytes a file in Arrow).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from itertools import islice

import pyarrow as pa
import pyarrow.fs as pafs

from gendersort.engines.ray.schema import LISTING_SCHEMA
from gendersort.outputs.parquet_parts import arrow_path
from gendersort.photos.walk import MissingPathError, find_images

Row = dict[str, object]
CHUNK_ROWS = 65536


def is_uri(source: str) -> bool:
    return "://" in source


def filesystem_of(source: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem a folder or URI lies on and the path in it (a URI's query, its options, left out)."""
    if is_uri(source):
        return pafs.FileSystem.from_uri(source)
    return pafs.LocalFileSystem(), os.path.abspath(source)


def list_photos(source: str, recursive: bool = True) -> tuple[pafs.FileSystem, pa.Table]:
    """The filesystem to read from and a table of the files under `source` (LISTING_SCHEMA)."""
    filesystem, root = filesystem_of(source)
    if is_uri(source):
        rows = object_rows(source, filesystem, root, recursive)
    else:
        rows = walked_rows(source, recursive)
    return filesystem, arrow_table(rows)


def arrow_table(rows: Iterable[Row]) -> pa.Table:
    rows = iter(rows)
    chunks = []
    while chunk := list(islice(rows, CHUNK_ROWS)):
        chunks.append(pa.Table.from_pylist(chunk, schema=LISTING_SCHEMA))
    return pa.concat_tables(chunks) if chunks else LISTING_SCHEMA.empty_table()


def walked_rows(folder: str, recursive: bool) -> Iterator[Row]:
    for found in find_images([folder], recursive=recursive):
        yield {"path": arrow_path(str(found.path)), "location": os.path.abspath(found.path),
               "size": found.size, "mtime": found.mtime, "error": found.error}


def object_rows(uri: str, filesystem: pafs.FileSystem, root: str, recursive: bool) -> Iterator[Row]:
    scheme = uri.split("://", 1)[0]
    top = filesystem.get_file_info(root)
    if top.type == pafs.FileType.NotFound:
        raise MissingPathError(f"{uri}: no such object or prefix")
    for info in [top] if top.type == pafs.FileType.File else listed(filesystem, root, recursive):
        yield {"path": f"{scheme}://{info.path}", "location": info.path, "size": info.size,
               "mtime": info.mtime.timestamp() if info.mtime else None, "error": ""}


def listed(filesystem: pafs.FileSystem, folder: str, recursive: bool) -> Iterator[pafs.FileInfo]:
    """The files in a folder and, when recursive, its sub-folders', in sorted order, one folder at a time."""
    for info in sorted(filesystem.get_file_info(pafs.FileSelector(folder)), key=lambda info: info.path):
        if info.type == pafs.FileType.File:
            yield info
        elif info.type == pafs.FileType.Directory and recursive:
            yield from listed(filesystem, info.path, recursive)
