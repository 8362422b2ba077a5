"""Plain sentences about a photo, for a person at a terminal (`gendersort predict`), in the wording bands
that the viewer and the report use too."""

from __future__ import annotations

from gendersort.labels import UNKNOWN
from gendersort.pipeline.results import ERROR, FacePrediction, ImageResult
from gendersort.wording import likelihood_phrase


def describe(result: ImageResult) -> list[str]:
    """One sentence per face, e.g. "photo.jpg: it is very likely a man (98.7%)"; one when there is none."""
    if result.status == ERROR:
        return [f"{result.path}: cannot read it: {result.error}"]
    if not result.predictions:
        return [f"{result.path}: no face found"]
    if len(result.predictions) == 1:
        return [f"{result.path}: {verdict(result.predictions[0])}"]
    count = result.face_count
    return [f"{result.path}, face {face.index + 1} of {count}{' (main)' if face.index == 0 else ''}: "
            f"{verdict(face)}" for face in result.predictions]


def verdict(face: FacePrediction) -> str:
    if face.label == UNKNOWN:
        return f"cannot tell whether it is a man or a woman ({face.p_male:.1%} man)"
    return f"it is {likelihood_phrase(face.p_male)} ({face.confidence:.1%})"
