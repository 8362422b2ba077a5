"""Reading a labels file for `gendersort evaluate --labels`: a CSV with a `path` and a `label` column (or
others, named by --path-column and --label-column), separated by commas, semicolons or tabs (read from its
header).

Everything is checked here, before any model loads: the columns, every label, every value a `--by` band
reads. Paths are absolute or relative to the labels file's folder. Labels are `male` and `female` in any
case (FairFace's `Male`/`Female` too); other spellings (UTKFace's 0 and 1) need `--label-map 0=male`.
A path listed twice is scored once, by its first row, and counted; a row with an empty label is passed
over, and counted. A column named twice that the command reads is refused: which one is meant is a guess.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gendersort.errors import BadOptionError
from gendersort.labels import LABELS
from gendersort.outputs.csv_text import checked_records
from gendersort.review.evaluation.grouping import GroupBy
from gendersort.wording import counted

SHOWN = 5  # bad values quoted in a message
DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True)
class LabelColumns:
    """The names of the columns that hold the photo's path and its label (--path-column, --label-column)."""

    path: str = "path"
    label: str = "label"


DEFAULT_COLUMNS = LabelColumns()


@dataclass(frozen=True)
class LabelledPhoto:
    path: str  # absolute (or a URI), as results are matched against it
    truth: str  # male or female
    groups: tuple[str, ...]  # its group in each --by column, in their order


@dataclass
class LabelsFile:
    photos: list[LabelledPhoto]
    # Paths listed more than once, each with how many rows named it and whether their labels differ.
    duplicates: dict[str, tuple[int, bool]] = field(default_factory=dict)
    without_label: int = 0  # rows whose label is empty: passed over, and counted


def parse_label_map(items: Sequence[str]) -> dict[str, str]:
    """`0=male`, `1=female` (or `0=male,1=female`): more spellings of the two labels."""
    mapping = {}
    for item in (part for entry in items for part in entry.split(",") if part.strip()):
        value, sign, label = item.partition("=")
        if not sign or label.strip().lower() not in LABELS:
            raise BadOptionError(f"--label-map {item!r}: write VALUE=male or VALUE=female")
        mapping[value.strip()] = label.strip().lower()
    return mapping


def photo_key(path: str, base: str | Path = ".") -> str:
    """How a path is matched: URIs as written, other paths made absolute from `base` and normalised."""
    if "://" in path:
        return path
    return os.path.normpath(os.path.join(os.path.abspath(base), path))


def read_labels(path: Path, by: Sequence[GroupBy], label_map: dict[str, str],
                columns: LabelColumns = DEFAULT_COLUMNS) -> LabelsFile:
    """The labelled photos of a labels CSV; any problem is a BadOptionError that says where."""
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        delimiter = header_delimiter(handle.readline(), columns)
        handle.seek(0)
        reader = csv.DictReader(handle, delimiter=delimiter)
        names = [name.strip() for name in reader.fieldnames or []]
        check_columns(path, names, columns, by)
        reader.fieldnames = names
        records = list(checked_records(reader, path, reader.reader))
    base = path.parent
    spellings = {label: label for label in LABELS} | {key.lower(): value for key, value in label_map.items()}
    unreadable: Counter[str] = Counter()
    first_bad: dict[str, int] = {}
    photos: dict[str, LabelledPhoto] = {}
    duplicates: dict[str, tuple[int, bool]] = {}
    without_label = 0
    for line, record in enumerate(records, 2):
        raw_label = (record.get(columns.label) or "").strip()
        if not raw_label:
            without_label += 1
            continue
        truth = spellings.get(raw_label.lower())
        if truth is None:
            unreadable[raw_label] += 1
            first_bad.setdefault(raw_label, line)
            continue
        raw_path = (record.get(columns.path) or "").strip()
        if not raw_path:
            raise BadOptionError(f"{path}, line {line}: the path is empty")
        photo = LabelledPhoto(photo_key(raw_path, base), truth, groups_of(path, line, record, by))
        if (earlier := photos.setdefault(photo.path, photo)) is not photo:
            count, differ = duplicates.get(photo.path, (1, False))
            duplicates[photo.path] = (count + 1, differ or earlier.truth != truth)
    if unreadable:
        raise BadOptionError(unreadable_labels_message(path, unreadable, first_bad))
    return LabelsFile(list(photos.values()), duplicates, without_label)


def header_delimiter(header: str, columns: LabelColumns) -> str:
    """The first of , ; and tab that splits the header into the path and label columns (a spreadsheet set
    to a language that writes decimal commas saves `;`); a comma when none does."""
    for delimiter in DELIMITERS:
        names = {name.strip() for name in next(csv.reader([header], delimiter=delimiter), [])}
        if {columns.path, columns.label} <= names:
            return delimiter
    return DELIMITERS[0]


def paths_hint(path: Path, missing: Sequence[str]) -> str:
    """Where a labels file's paths are read from, and what a Windows path needs, for a message."""
    hint = f"relative paths are read from the labels file's folder, {path.parent.resolve()}"
    if any("\\" in name for name in missing):
        hint += "; write a Windows path's \\ as /"
    return hint


def check_columns(path: Path, names: list[str], columns: LabelColumns, by: Sequence[GroupBy]) -> None:
    listed = ", ".join(names) or "none"
    for name, option in ((columns.path, "--path-column"), (columns.label, "--label-column")):
        if name not in names:
            raise BadOptionError(f"{path} has no {name!r} column (its columns: {listed}); a labels file "
                                 f"needs a path and a label column ({option} names another)")
    seen = set()
    for group_by in by:
        if group_by.column not in names:
            raise BadOptionError(f"--by {group_by.column}: {path} has no such column (its columns: {listed})")
        if group_by.column in seen:
            raise BadOptionError(f"--by {group_by.column} is given twice")
        seen.add(group_by.column)
    for name in (columns.path, columns.label, *seen):
        if names.count(name) > 1:
            raise BadOptionError(f"{path} has {names.count(name)} columns named {name!r}: which one is "
                                 "meant? Rename the others")


def groups_of(path: Path, line: int, record: dict[str, str], by: Sequence[GroupBy]) -> tuple[str, ...]:
    groups = []
    for group_by in by:
        value = record.get(group_by.column) or ""
        try:
            groups.append(group_by.group_of(value))
        except ValueError:
            raise BadOptionError(f"{path}, line {line}: {group_by.column} {value!r} is not a number; bands "
                                 f"need numbers (--by {group_by.column} alone groups by value)") from None
    return tuple(groups)


def unreadable_labels_message(path: Path, unreadable: Counter[str], first_bad: dict[str, int]) -> str:
    quoted = ", ".join(f"{value!r} ({count}x, first on line {first_bad[value]})"
                       for value, count in unreadable.most_common(SHOWN))
    more = f" and {len(unreadable) - SHOWN} more" if len(unreadable) > SHOWN else ""
    example = next(iter(unreadable)) or "VALUE"
    total = sum(unreadable.values())
    return (f"{path}: {counted(total, 'label')} {'is' if total == 1 else 'are'} neither male nor female: "
            f"{quoted}{more}; say what they mean with --label-map {example}=male (or =female)")
