"""The Arrow schemas the Ray engine passes between its stages and writes: explicit, so that every Parquet
file of a dataset has the same types whatever its rows hold (a file of error rows alone included)."""

from __future__ import annotations

import pyarrow as pa

from gendersort.outputs.results import COLUMNS

FLOAT_COLUMNS = ("p_male", "confidence", "box_x0", "box_y0", "box_x1", "box_y1", "mtime")
INT_COLUMNS = ("faces", "face_index", "size")


def column_type(name: str) -> pa.DataType:
    if name in FLOAT_COLUMNS:
        return pa.float64()
    return pa.int64() if name in INT_COLUMNS else pa.string()


# The CSV's columns, in its order, with their types.
RESULT_SCHEMA = pa.schema([pa.field(name, column_type(name)) for name in COLUMNS])

# One row per listed file: `path` as the rows will record it, `location` where the filesystem finds it.
LISTING_SCHEMA = pa.schema([
    ("path", pa.string()), ("location", pa.string()), ("size", pa.int64()), ("mtime", pa.float64()),
    ("error", pa.string()),
])

# A listed file with its content (null when it could not be read: then `error` says why).
PHOTO_SCHEMA = LISTING_SCHEMA.append(pa.field("bytes", pa.large_binary()))
