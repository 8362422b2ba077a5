"""The Python API that the CLI wraps: paths or PIL images in, results out, streamed.

    from gendersort import classify_paths
    for result in classify_paths(["photos"]):
        print(result.path, result.status, result.label, result.p_male)

Photos are decoded and searched for faces one at a time; their face chips wait in a small queue and go
through the classifier together, `batch_size` faces (or photos) at once. Only the chips are kept, so
memory stays flat however many files there are.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from gendersort.analysis import FaceAnalyzer
from gendersort.decode import UnreadableImageError, open_upright
from gendersort.errors import BadOptionError
from gendersort.faces import Face
from gendersort.files import FoundFile, find_images
from gendersort.imaging import upright_rgb
from gendersort.results import (
    ERROR,
    FACE_MODES,
    NO_FACE,
    OK,
    FacePrediction,
    ImageResult,
    label_for,
)

BATCH_SIZE = 32


@cache
def shared_analyzer(device: str = "auto") -> FaceAnalyzer:
    """The models for a device, loaded once per process."""
    return FaceAnalyzer(device=device)


def load(found: FoundFile) -> tuple[Image.Image | None, str]:
    """A found file as an upright RGB image, or the reason there is none (the one place files are decoded)."""
    if found.error:
        return None, found.error
    try:
        return open_upright(found.path), ""
    except UnreadableImageError as error:
        return None, str(error)


def classify_paths(paths: Iterable[str | Path], *, recursive: bool = True, faces: str = "largest",
                   min_confidence: float = 0.0, device: str = "auto", batch_size: int = BATCH_SIZE,
                   exclude: Iterable[str | Path] = (), analyzer: FaceAnalyzer | None = None
                   ) -> Iterator[ImageResult]:
    """One result per image under the given files and folders, in a deterministic order.

    `faces="largest"` labels each photo by its largest face; `faces="all"` classifies every face.
    A face whose confidence is below `min_confidence` is labelled unknown. Missing paths raise
    MissingPathError at once; unreadable files come back as results with status "error".
    """
    found = find_images(paths, recursive=recursive, exclude=exclude)
    return classify_files(found, faces=faces, min_confidence=min_confidence, batch_size=batch_size,
                          analyzer=analyzer or shared_analyzer(device))


def classify_files(found_files: Iterable[FoundFile], *, analyzer: FaceAnalyzer, faces: str = "largest",
                   min_confidence: float = 0.0, batch_size: int = BATCH_SIZE) -> Iterator[ImageResult]:
    """Results for files already found (see files.find_images), in their order."""
    check_options(faces, min_confidence, batch_size)
    queue = ClassifierQueue(analyzer, every_face=faces == "all", min_confidence=min_confidence)
    for found in found_files:
        queue.add(found)
        if queue.faces >= batch_size or len(queue.pending) >= batch_size:
            yield from queue.drain()
    yield from queue.drain()


def classify_image(image: Image.Image, *, min_confidence: float = 0.0, device: str = "auto",
                   analyzer: FaceAnalyzer | None = None) -> list[FacePrediction]:
    """Every face in a PIL image (any mode; EXIF orientation applied), largest first."""
    check_options("all", min_confidence, 1)
    analyzer = analyzer or shared_analyzer(device)
    found = analyzer.analyze(upright_rgb(image))
    return predictions([item.face for item in found], [item.p_male for item in found], min_confidence)


def check_options(faces: str, min_confidence: float, batch_size: int) -> None:
    if faces not in FACE_MODES:
        raise BadOptionError(f"faces must be one of {', '.join(FACE_MODES)}, not {faces!r}")
    if not 0.0 <= min_confidence <= 1.0:
        raise BadOptionError(f"min_confidence must lie between 0 and 1, not {min_confidence}")
    if batch_size < 1:
        raise BadOptionError(f"batch_size must be at least 1, not {batch_size}")


def predictions(faces: list[Face], p_male: Iterable[float], min_confidence: float) -> list[FacePrediction]:
    return [FacePrediction(index, face.box, float(p), label_for(float(p), min_confidence))
            for index, (face, p) in enumerate(zip(faces, p_male, strict=False))]  # largest: one p_male


@dataclass
class Pending:
    """A photo whose faces are found and cropped, waiting for the classifier."""

    found: FoundFile
    faces: list[Face] = field(default_factory=list)
    chips: np.ndarray | None = None
    error: str = ""


class ClassifierQueue:
    """Photos waiting for one batched classifier run, released in the order they came."""

    def __init__(self, analyzer: FaceAnalyzer, every_face: bool, min_confidence: float) -> None:
        self.analyzer = analyzer
        self.every_face = every_face
        self.min_confidence = min_confidence
        self.pending: list[Pending] = []
        self.faces = 0

    def add(self, found: FoundFile) -> None:
        image, error = load(found)
        if image is None:
            self.pending.append(Pending(found, error=error))
            return
        faces = self.analyzer.detector.detect(image)
        chips = self.analyzer.chips(image, faces if self.every_face else faces[:1])
        self.pending.append(Pending(found, faces, chips))
        self.faces += len(chips)

    def drain(self) -> Iterator[ImageResult]:
        pending, self.pending, self.faces = self.pending, [], 0
        readable = [item for item in pending if item.chips is not None]
        p_male = iter(self.analyzer.p_male_per_image([item.chips for item in readable]))
        version = self.analyzer.classifier.version
        for item in pending:
            found = item.found
            common = {"path": str(found.path), "model_version": version, "size": found.size,
                      "mtime": found.mtime, "every_face": self.every_face}
            if item.chips is None:
                yield ImageResult(status=ERROR, error=item.error, **common)
                continue
            chosen = predictions(item.faces, next(p_male), self.min_confidence)
            yield ImageResult(status=OK if item.faces else NO_FACE, face_count=len(item.faces),
                              predictions=tuple(chosen), **common)
