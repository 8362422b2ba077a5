"""--resume: which rows of an earlier run still stand, and which files are left to do.

A row stands when its photo was finished (every face row present, no error) by the same model and the
same --faces, and the file at its path still has the size and mtime the row recorded. Everything else is
done again: a run resumed with another --faces redoes the photos with a face, as another --model does.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from gendersort.photos.walk import FoundFile
from gendersort.pipeline.results import NO_FACE, OK

Row = dict[str, object]


def resume_key(path: object, size: object, mtime: object) -> tuple[str, int, float]:
    """What makes a photo 'the same': its path as written, its size and its mtime."""
    return str(path), int(size), float(mtime)


def finished_rows(rows: list[Row], model_version: str, every_face: bool = False) -> list[Row]:
    """The rows that still stand for a run by `model_version`, with `every_face` (--faces all) or not, in
    their order; errors are left out so they are tried again."""
    by_path: dict[object, list[Row]] = {}
    for row in rows:
        by_path.setdefault(row["path"], []).append(row)
    return [row for group in by_path.values()
            if is_finished(group, model_version, every_face) and is_unchanged(group[0]) for row in group]


def is_finished(group: list[Row], model_version: str, every_face: bool) -> bool:
    """A photo's rows are whole and as this run would write them. A face's row without its index is the
    main face's alone (--faces main); a photo without a face has the same row either way."""
    first = group[0]
    if first["status"] not in (OK, NO_FACE) or first["model_version"] != model_version:
        return False
    indexes = [row["face_index"] for row in group]
    if indexes in ([None], [""]):
        return first["status"] == NO_FACE or not every_face
    numbered = sorted(int(index) for index in indexes if index not in (None, ""))
    return every_face and numbered == list(range(int(first["faces"])))


def is_unchanged(row: Row) -> bool:
    try:
        status = os.stat(str(row["path"]))
    except OSError:
        return False
    return resume_key(row["path"], status.st_size, status.st_mtime) == resume_key(
        row["path"], row["size"], row["mtime"])


def unfinished(found_files: Iterable[FoundFile], finished: Iterable[Row]) -> Iterator[FoundFile]:
    """The files that the standing rows do not cover."""
    done = {resume_key(row["path"], row["size"], row["mtime"]) for row in finished}
    for found in found_files:
        if found.error or resume_key(found.path, found.size, found.mtime) not in done:
            yield found
