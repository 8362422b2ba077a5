"""Reading a results file (CSV, JSONL or Parquet, as `gendersort classify` writes them) back into typed rows.

The report must work on files written by older or trimmed-down runs, so every column but `path` is optional
and a missing one is inferred from the others where that is unambiguous.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gendersort.errors import FatalError
from gendersort.labels import UNKNOWN
from gendersort.outputs.writers import parquet_support
from gendersort.review.wording import confidence_of

Box = tuple[float, float, float, float]
BOX_COLUMNS = ("box_x0", "box_y0", "box_x1", "box_y1")


@dataclass(frozen=True)
class ResultRow:
    """One row of a results file: one image, or one face of an image with `--faces all`."""

    path: str
    status: str = "ok"
    label: str = UNKNOWN
    p_male: float | None = None
    confidence: float | None = None
    faces: int | None = None
    face_index: int | None = None
    box: Box | None = None
    error: str = ""
    model_version: str = ""
    truth: str | None = None

    @property
    def category(self) -> str:
        """What the report's filters sort rows by: male, female, unknown (no face) or error."""
        return "error" if self.status == "error" else self.label


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _float(value: Any) -> float | None:
    return None if value is None or value == "" else float(value)


def _int(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def row_from_mapping(record: Mapping[str, Any]) -> ResultRow:
    """A ResultRow from a CSV or JSON record (strings or typed values); only `path` is required."""
    p_male = _float(record.get("p_male"))
    corners = [_float(record.get(column)) for column in BOX_COLUMNS]
    box = None if None in corners else tuple(corners)
    error = _text(record.get("error"))
    status = _text(record.get("status")) or ("error" if error else "ok" if p_male is not None else "no_face")
    guessed_label = UNKNOWN if p_male is None else "male" if p_male >= 0.5 else "female"
    label = _text(record.get("label")) or guessed_label
    confidence = _float(record.get("confidence"))
    return ResultRow(
        path=str(record["path"]),
        status=status,
        label=label,
        p_male=p_male,
        confidence=confidence if confidence is not None or p_male is None else confidence_of(p_male),
        faces=_int(record.get("faces")),
        face_index=_int(record.get("face_index")),
        box=box,  # type: ignore[arg-type]
        error=error,
        model_version=_text(record.get("model_version")),
        truth=_text(record.get("truth")) or None,
    )


def _records(path: Path) -> Iterator[Mapping[str, Any]]:
    """Parquet for a folder (either engine's dataset) or a .parquet file; otherwise JSONL when the first
    non-blank character opens an object, CSV when not, whatever the suffix."""
    if path.is_dir() or path.suffix.lower() == ".parquet":
        yield from parquet_support().read_parquet_rows(path)
        return
    # surrogateescape: names that are not valid UTF-8 come back as the bytes that classify wrote.
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        first = handle.read(4096).lstrip()[:1]
        handle.seek(0)
        if first == "{":
            yield from (json.loads(line) for line in handle if line.strip())
        else:
            yield from csv.DictReader(handle)


def read_results(path: str | Path) -> list[ResultRow]:
    """Every row of a results CSV, JSONL or Parquet file; a file without paths is refused, saying so."""
    rows = []
    for record in _records(Path(path)):
        if not record.get("path"):
            raise FatalError(f"{path} has a row without a 'path': not a results file that classify wrote")
        rows.append(row_from_mapping(record))
    return rows


def as_rows(rows: Iterable[ResultRow | Mapping[str, Any]]) -> list[ResultRow]:
    """Accept ResultRows or plain records (the CLI's dicts) alike."""
    return [row if isinstance(row, ResultRow) else row_from_mapping(row) for row in rows]
