"""The Arrow schemas the Ray engine passes between its stages: explicit, so that every block has the same
types whatever its rows hold. The rows it writes have outputs/parquet_parts.py's RESULT_SCHEMA, as local
classify's Parquet does."""

from __future__ import annotations

import pyarrow as pa

# One row per listed file: `path` as the rows will record it, `location` where the filesystem finds it.
LISTING_SCHEMA = pa.schema([
    ("path", pa.string()), ("location", pa.string()), ("size", pa.int64()), ("mtime", pa.float64()),
    ("error", pa.string()),
])

# A listed file with its content (null when it could not be read: then `error` says why).
PHOTO_SCHEMA = LISTING_SCHEMA.append(pa.field("bytes", pa.large_binary()))
