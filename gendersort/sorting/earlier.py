"""`sort --results FILE`: photos placed by an earlier run's rows instead of the models (none load), so that
one can classify, look at the report, and then sort; `sort --target-accuracy` places by such rows too.

A photo's row is the first with its path (its main face's: classify writes face 0 first), matched by the
path as the row holds it, a relative one read from the current folder (as classify wrote it). The row
stands only while the file has the size and mtime it recorded (as for --resume): a photo without a row, or
changed since, stays where it is, listed as an error. A results file with a row for none of the photos to
sort is refused before anything is done: it is another folder's, or was written from another folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from gendersort.errors import BadOptionError
from gendersort.labels import UNKNOWN
from gendersort.outputs.resume import resume_key
from gendersort.outputs.writers import read_output
from gendersort.photos.walk import FoundFile
from gendersort.pipeline.expected_accuracy import answered_confidences, p_male_of
from gendersort.pipeline.results import ERROR, OK

Row = dict[str, object]


@dataclass(frozen=True)
class Verdict:
    """What sorting needs of a photo's result (an ImageResult gives the same): where it goes and why."""

    path: str
    status: str
    label: str
    p_male: float | None
    error: str = ""


class EarlierRun:
    """The rows of an earlier run by photo (their absolute path), `name` saying where they came from."""

    def __init__(self, rows: Iterable[Row], name: str) -> None:
        self.name = name
        self.rows: dict[str, Row] = {}
        for row in rows:
            self.rows.setdefault(os.path.abspath(str(row["path"])), row)

    @classmethod
    def read(cls, path: str | Path) -> EarlierRun:
        return cls(read_output(path), str(path))

    def confidences(self) -> list[float]:
        """The confidence of each photo's answer: what --target-accuracy's threshold is chosen over."""
        return answered_confidences(self.rows.values())

    @property
    def model_versions(self) -> list[str]:
        return sorted({str(row["model_version"]) for row in self.rows.values() if row.get("model_version")})

    def check_covers(self, photos: Iterable[FoundFile]) -> None:
        """Refuse the rows when they have none for any of the photos (an empty list of photos is no
        mismatch: a rerun may have nothing left to sort)."""
        missing = 0
        first = None
        for photo in photos:
            if os.path.abspath(photo.path) in self.rows:
                return
            missing, first = missing + 1, first or photo.path
        if missing:
            raise BadOptionError(f"{self.name} has a row for none of the {missing} photos to sort (e.g. "
                                 f"{first}); its relative paths are read from the current folder, as "
                                 "classify wrote them")

    def verdicts(self, photos: Iterable[FoundFile], label: Callable[[Row, float], str]) -> Iterator[Verdict]:
        """Each photo's verdict by its row, an answer labelled by `label(row, p_male)`."""
        for photo in photos:
            path = str(photo.path)
            row = self.rows.get(os.path.abspath(path))
            if row is None or photo.error or (row["status"] != ERROR and not unchanged(photo, row)):
                yield Verdict(path, ERROR, UNKNOWN, None, photo.error or self.unusable(row))
            else:
                p_male = p_male_of(row)
                answered = row["status"] == OK and p_male is not None
                yield Verdict(path, str(row["status"]), label(row, p_male) if answered else UNKNOWN,
                              p_male, str(row.get("error") or ""))

    def unusable(self, row: Row | None) -> str:
        """Why a photo that could be read has no verdict in the rows."""
        if row is None:
            return f"no row in {self.name}: classify it, or sort without --results"
        return f"changed since {self.name} was written: classify it again"


def unchanged(photo: FoundFile, row: Row) -> bool:
    """Whether the file still has the size and mtime its row recorded."""
    try:
        recorded = resume_key(photo.path, row["size"], row["mtime"])
    except (TypeError, ValueError):  # a row without them: its file could not be reached then
        return False
    return resume_key(photo.path, photo.size, photo.mtime) == recorded


def as_written(row: Row, p_male: float) -> str:
    """The label the earlier run wrote."""
    return str(row["label"])
