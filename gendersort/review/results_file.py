"""Reading a results file (CSV, JSONL or Parquet, as `gendersort classify` writes them) back into typed rows.

The report must work on files written by older or trimmed-down runs, so every column but `path` is optional
and a missing one is inferred from the others where that is unambiguous. A value no classify run writes
(p_male 1.7 or NaN, status `done`, a row cut short) stops the reading, naming the line: scoring or showing
the rest would give figures that look right and are not.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gendersort.errors import FatalError
from gendersort.labels import LABELS, UNKNOWN
from gendersort.outputs.csv_text import checked_records
from gendersort.outputs.writers import parquet_support
from gendersort.pipeline.results import ERROR, NO_FACE, OK
from gendersort.wording import confidence_of

Box = tuple[float, float, float, float]
BOX_COLUMNS = ("box_x0", "box_y0", "box_x1", "box_y1")
STATUSES = (OK, NO_FACE, ERROR)
CUT_SHORT = " (cut short by a stopped run? classify --resume finishes it)"
LOOKED_AT = 100  # relative paths checked to tell where they are read from


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


def _float(name: str, value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} {value!r} is not a number") from None


def _probability(name: str, value: Any) -> float | None:
    number = _float(name, value)
    if number is not None and not 0.0 <= number <= 1.0:  # NaN too
        raise ValueError(f"{name} {value!r} is not a number from 0 to 1")
    return number


def _count(name: str, value: Any) -> int | None:
    if value is None or value == "":
        return None
    if not re.fullmatch(r"[0-9]+", str(value)):
        raise ValueError(f"{name} {value!r} is not a whole number of 0 or more")
    return int(value)


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{name} {value!r} is none of {', '.join(allowed)}")
    return value


def row_from_mapping(record: Any) -> ResultRow:
    """A ResultRow from a CSV or JSON record (strings or typed values); only `path` is required. A value
    that no classify run writes (p_male 1.7, status done, face_index x) is a ValueError saying which."""
    if not isinstance(record, Mapping):
        raise ValueError(f"{record!r} is not a row (an object with a path)")
    if not record.get("path"):
        raise ValueError("a row without a path")
    p_male = _probability("p_male", record.get("p_male"))
    corners = [_float(column, record.get(column)) for column in BOX_COLUMNS]
    box = None if None in corners else tuple(corners)
    error = _text(record.get("error"))
    status = _text(record.get("status")) or (ERROR if error else OK if p_male is not None else NO_FACE)
    if _one_of("status", status, STATUSES) == OK and p_male is None:
        raise ValueError("status ok without a p_male")
    guessed_label = UNKNOWN if p_male is None else "male" if p_male >= 0.5 else "female"
    label = _one_of("label", _text(record.get("label")) or guessed_label, (*LABELS, UNKNOWN))
    confidence = _probability("confidence", record.get("confidence"))
    return ResultRow(
        path=str(record["path"]),
        status=status,
        label=label,
        p_male=p_male,
        confidence=confidence if confidence is not None or p_male is None else confidence_of(p_male),
        faces=_count("faces", record.get("faces")),
        face_index=_count("face_index", record.get("face_index")),
        box=box,  # type: ignore[arg-type]
        error=error,
        model_version=_text(record.get("model_version")),
        truth=_text(record.get("truth")) or None,
    )


def _records(path: Path) -> Iterator[tuple[str, Any]]:
    """(where, record) for every record: Parquet for a folder (either engine's dataset) or a .parquet file;
    otherwise JSONL when the first non-blank character opens an object, CSV when not, whatever the suffix.
    A line that is no record (cut short by a stopped run, or never one) is a FatalError saying where."""
    if path.is_dir() or path.suffix.lower() == ".parquet":
        for number, record in enumerate(parquet_support().read_parquet_rows(path), 1):
            yield f"row {number}", record
        return
    # surrogateescape: names that are not valid UTF-8 come back as the bytes that classify wrote.
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        first = handle.read(4096).lstrip()[:1]
        handle.seek(0)
        if first == "{":
            for number, line in enumerate(handle, 1):
                if line.strip():
                    yield f"line {number}", _json_record(path, number, line)
            return
        reader = csv.DictReader(handle)
        for record in checked_records(reader, path, reader.reader):
            if None in record or None in record.values():
                few = None in record.values()
                raise FatalError(f"{path}, line {reader.line_num}: {'fewer' if few else 'more'} fields than "
                                 f"its header{CUT_SHORT if few else ''}")
            yield f"line {reader.line_num}", record


def _json_record(path: Path, number: int, line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        cut = "" if line.endswith("\n") else CUT_SHORT
        raise FatalError(f"{path}, line {number}: not a JSON row ({error.msg}){cut}") from None


def read_results(path: str | Path) -> list[ResultRow]:
    """Every row of a results CSV, JSONL or Parquet file, its relative paths located (located()); a row
    that no classify run writes is a FatalError naming the file, the line and the value."""
    path = Path(path)
    rows = []
    for where, record in _records(path):
        try:
            rows.append(row_from_mapping(record))
        except ValueError as error:
            raise FatalError(f"{path}, {where}: {error}; not a results file that classify wrote") from None
    return located(rows, path)


def located(rows: list[ResultRow], results: Path) -> list[ResultRow]:
    """The rows, their relative paths as seen from the current folder. classify writes them relative to
    the folder it ran in, so they are read from here; when none of them (LOOKED_AT of them are tried) is
    found here but some are from the results file's folder, they are taken from there."""
    relative = {row.path for row in rows if not os.path.isabs(row.path) and "://" not in row.path}
    sample = list(relative)[:LOOKED_AT]
    base = results.parent
    if not sample or any(os.path.exists(path) for path in sample) or \
            not any(os.path.exists(base / path) for path in sample):
        return rows
    return [row if row.path not in relative else replace(row, path=os.path.normpath(base / row.path))
            for row in rows]


def as_rows(rows: Iterable[ResultRow | Mapping[str, Any]]) -> list[ResultRow]:
    """Accept ResultRows or plain records (the CLI's dicts) alike."""
    return [row if isinstance(row, ResultRow) else row_from_mapping(row) for row in rows]
