"""Files written whole or not at all (reports, --json, --misclassified): a run that fails midway, or is
killed, leaves no empty or half file behind to be refused as existing by the rerun."""

from __future__ import annotations

import os
from pathlib import Path

# UTF-8; names that are not valid UTF-8 keep their bytes (as the results files keep them).
ENCODING = {"encoding": "utf-8", "errors": "surrogateescape"}


def write_whole(path: str | Path, text: str) -> None:
    """Write the text through a hidden temporary file beside `path`, synced, then renamed over it."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with open(temporary, "w", newline="", **ENCODING) as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
