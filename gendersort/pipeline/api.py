"""The Python API that the CLI wraps: paths or PIL images in, results out, streamed.

    from gendersort import classify_paths
    for result in classify_paths(["photos"]):
        print(result.path, result.status, result.label, result.p_male)

Photos are decoded and searched for faces by `workers` threads at once (reading.py); their face chips
wait in a small queue and go through the classifier together, `batch_size` faces (or photos) at once.
Only a bounded number of photos is read ahead and only their chips are kept, so memory stays flat
however many files there are.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path

from PIL import Image

from gendersort.errors import BadOptionError
from gendersort.faces.face import Face
from gendersort.models.registry import DEFAULT_MODEL, model_path
from gendersort.photos.imaging import upright_rgb
from gendersort.photos.walk import find_images
from gendersort.pipeline.analysis import FaceAnalyzer
from gendersort.pipeline.ordered import ordered_map
from gendersort.pipeline.reading import Pending, PhotoItem, PhotoReader
from gendersort.pipeline.results import (
    ERROR,
    FACE_MODE_ALIASES,
    FACE_MODES,
    NO_FACE,
    OK,
    FacePrediction,
    ImageResult,
    label_for,
)

BATCH_SIZE = 32
# One reading thread per core, each running its own inferences on one onnxruntime thread (see
# threads_beside); benchmarks/throughput.py --sweep-workers measures the alternatives.
WORKERS = os.cpu_count() or 1


@cache
def shared_analyzer(device: str = "auto", threads: int | None = None, model: str = DEFAULT_MODEL
                    ) -> FaceAnalyzer:
    """The models for a device, onnxruntime thread count and classifier (a name models/registry.py
    knows), loaded once per process; an unknown name or a missing file fails before any model loads."""
    return FaceAnalyzer(device=device, threads=threads, classifier_path=model_path(model))


def threads_beside(workers: int, cores: int | None = None) -> int:
    """onnxruntime threads per inference when `workers` threads run inferences side by side: the cores
    shared out, so that decoding and inference never ask for more threads than there are cores.

    `cores`: the cores this process may use, when not all of the machine's (a Ray actor's CPUs).
    """
    return max(1, (cores or os.cpu_count() or 1) // workers)


def read_ahead(workers: int, batch_size: int) -> int:
    """How many photos may be read ahead of the results: a classifier batch, plus enough that the
    reading threads go on while the batch is classified. The only bound memory needs."""
    return batch_size + 4 * workers


def classify_paths(paths: Iterable[str | Path], *, recursive: bool = True, faces: str = "main",
                   min_confidence: float = 0.0, device: str = "auto", batch_size: int = BATCH_SIZE,
                   workers: int = WORKERS, exclude: Iterable[str | Path] = (), model: str = DEFAULT_MODEL,
                   analyzer: FaceAnalyzer | None = None) -> Iterator[ImageResult]:
    """One result per image under the given files and folders, in a deterministic order.

    `faces="main"` labels each photo by its main face (faces/main_face.py; "largest" is its old name);
    `faces="all"` classifies every face, the main face first.
    A face whose confidence is below `min_confidence` is labelled unknown. `workers` photos are read
    at once. `model`: "default" or "open" (commercial use allowed; models/registry.py), unless an
    `analyzer` is given. Missing paths raise MissingPathError at once; unreadable files come back as
    results with status "error".
    """
    found = find_images(paths, recursive=recursive, exclude=exclude)
    analyzer = analyzer or shared_analyzer(device, threads_beside(workers), model)
    return classify_files(found, faces=faces, min_confidence=min_confidence, batch_size=batch_size,
                          workers=workers, analyzer=analyzer)


def classify_files(found_files: Iterable[PhotoItem], *, analyzer: FaceAnalyzer, faces: str = "main",
                   min_confidence: float = 0.0, batch_size: int = BATCH_SIZE, workers: int = WORKERS,
                   draft: bool = True) -> Iterator[ImageResult]:
    """Results for files already found (see photos.walk.find_images), or photos whose bytes an engine
    fetched (reading.PhotoBytes), in their order: the one per-photo path of every engine.

    `draft=False` decodes every pixel of every photo instead of what detection and the chips need: the
    same results, up to the small differences of a reduced decode, at a higher cost (reading.py).
    """
    check_options(faces, min_confidence, batch_size, workers)
    every_face = faces == "all"
    reader = PhotoReader(analyzer, every_face, draft)
    queue = ClassifierQueue(analyzer, every_face=every_face, min_confidence=min_confidence)
    for pending in ordered_map(reader.read, found_files, workers, read_ahead(workers, batch_size)):
        queue.add(pending)
        if queue.faces >= batch_size or len(queue.pending) >= batch_size:
            yield from queue.drain()
    yield from queue.drain()


def classify_image(image: Image.Image, *, min_confidence: float = 0.0, device: str = "auto",
                   model: str = DEFAULT_MODEL, analyzer: FaceAnalyzer | None = None) -> list[FacePrediction]:
    """Every face in a PIL image (any mode; EXIF orientation applied), the main face first; `model` as
    classify_paths takes it."""
    check_options("all", min_confidence, 1)
    analyzer = analyzer or shared_analyzer(device, model=model)
    found = analyzer.analyze(upright_rgb(image))
    return predictions([item.face for item in found], [item.p_male for item in found], min_confidence)


def check_options(faces: str, min_confidence: float, batch_size: int, workers: int = 1) -> None:
    if FACE_MODE_ALIASES.get(faces, faces) not in FACE_MODES:
        raise BadOptionError(f"faces must be one of {', '.join(FACE_MODES)}, not {faces!r}")
    if not 0.0 <= min_confidence <= 1.0:
        raise BadOptionError(f"min_confidence must lie between 0 and 1, not {min_confidence}")
    if batch_size < 1:
        raise BadOptionError(f"batch_size must be at least 1, not {batch_size}")
    if workers < 1:
        raise BadOptionError(f"workers must be at least 1, not {workers}")


def predictions(faces: list[Face], p_male: Iterable[float], min_confidence: float) -> list[FacePrediction]:
    return [FacePrediction(index, face.box, float(p), label_for(float(p), min_confidence))
            for index, (face, p) in enumerate(zip(faces, p_male, strict=False))]  # main only: one p_male


class ClassifierQueue:
    """Photos waiting for one batched classifier run, released in the order they came."""

    def __init__(self, analyzer: FaceAnalyzer, every_face: bool, min_confidence: float) -> None:
        self.analyzer = analyzer
        self.every_face = every_face
        self.min_confidence = min_confidence
        self.pending: list[Pending] = []
        self.faces = 0

    def add(self, pending: Pending) -> None:
        self.pending.append(pending)
        self.faces += 0 if pending.chips is None else len(pending.chips)

    def drain(self) -> Iterator[ImageResult]:
        pending, self.pending, self.faces = self.pending, [], 0
        readable = [item for item in pending if item.chips is not None]
        p_male = iter(self.analyzer.p_male_per_image([item.chips for item in readable]))
        version = self.analyzer.version
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
