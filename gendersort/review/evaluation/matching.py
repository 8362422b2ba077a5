"""Pairing result rows with the labelled photos by path, so that an earlier `classify` run can be scored
without loading a model; nothing is dropped without being counted.

A photo's row is the one that labels it: the row with no face index (a row per photo), or face 0 (`--faces
all`). Relative paths in results are read from the current folder, as classify wrote them, or else from
the results file's folder (results_file.located). A labelled photo
without a row is left out of the figures and listed; so is a row without a label. A photo with two rows
(two runs' outputs joined) is scored by the first and listed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from gendersort.review.evaluation.labels_file import LabelledPhoto, photo_key
from gendersort.review.results_file import ResultRow


@dataclass
class Matched:
    pairs: list[tuple[LabelledPhoto, ResultRow]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # labelled photos that have no row
    unlabelled: list[str] = field(default_factory=list)  # photos with rows but no label
    duplicates: list[str] = field(default_factory=list)  # photos with more than one row of their own


def photo_rows(rows: Iterable[ResultRow]) -> tuple[dict[str, ResultRow], list[str]]:
    """Each photo's row by its key (labels_file.photo_key), and the photos that have more than one."""
    chosen: dict[str, ResultRow] = {}
    duplicates: dict[str, None] = {}
    for row in rows:
        if row.face_index not in (None, 0):
            continue  # another face of a photo whose face 0 decides
        key = photo_key(row.path)
        if chosen.setdefault(key, row) is not row:
            duplicates[key] = None
    return chosen, list(duplicates)


def match(photos: Iterable[LabelledPhoto], rows: Iterable[ResultRow]) -> Matched:
    by_path, duplicates = photo_rows(rows)
    matched = Matched(duplicates=duplicates)
    labelled = set()
    for photo in photos:
        labelled.add(photo.path)
        row = by_path.get(photo.path)
        if row is None:
            matched.missing.append(photo.path)
        else:
            matched.pairs.append((photo, row))
    matched.unlabelled = [path for path in by_path if path not in labelled]
    return matched


def nothing_matched(matched: Matched, source: object) -> str:
    """Why no labelled photo got a row: the paths on either side, and how relative ones are read."""
    theirs = f"; {source} names e.g. {matched.unlabelled[0]}" if matched.unlabelled else ""
    return (f"none of the {len(matched.missing)} labelled photos has a row in {source}: the labels name e.g. "
            f"{matched.missing[0]}{theirs}; relative paths in results are read from the current folder, or "
            "else from the results file's folder, and in a labels file from its folder")
