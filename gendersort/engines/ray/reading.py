"""Read tasks: the content of listed files, fetched by a few threads per task (object-store reads wait on
the network far more than on a CPU), so the actors get bytes and spend their CPUs on the models."""

from __future__ import annotations

from functools import partial

import pyarrow as pa
import pyarrow.fs as pafs

from gendersort.engines.ray.schema import PHOTO_SCHEMA
from gendersort.photos.walk import HEAD_BYTES, describe_os_error, named_like_image, sniff_format
from gendersort.pipeline.ordered import ordered_map

FETCH_THREADS = 8

Row = dict[str, object]


def fetch_batch(listing: pa.Table, filesystem: pafs.FileSystem) -> pa.Table:
    """A listing batch with each file's bytes (PHOTO_SCHEMA); files whose bytes are no image and whose name
    does not claim one are passed over, as the local walker passes over them."""
    fetched = ordered_map(partial(fetch, filesystem), listing.to_pylist(), FETCH_THREADS, 2 * FETCH_THREADS)
    return pa.Table.from_pylist([row for row in fetched if is_photo(row)], schema=PHOTO_SCHEMA)


def fetch(filesystem: pafs.FileSystem, row: Row) -> Row:
    if row["error"]:
        return row | {"bytes": None}
    try:
        with filesystem.open_input_stream(row["location"]) as stream:
            return row | {"bytes": stream.readall()}
    except OSError as error:
        return row | {"bytes": None, "error": describe_os_error(error)}


def is_photo(row: Row) -> bool:
    data = row["bytes"]
    return data is None or named_like_image(str(row["path"])) or sniff_format(data[:HEAD_BYTES]) is not None
