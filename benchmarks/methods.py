"""One way of getting through a list of photos, timed in a process of its own (run by throughput.py).

    python -m benchmarks.methods METHOD LIST --seconds S [--workers N]

METHOD is one of:
- decode: decoding alone, as classify decodes (the same reduced JPEG scale, threads and read-ahead);
- decode-full: decoding every pixel, in the same threads;
- naive: the same ONNX models called on one photo at a time, decoded whole, looking for the largest
  face as classify does (FaceAnalyzer.analyze);
- finer: how often the chip of the main face needs a finer decode than detection, and its cost;
- keras: the seeds' way, a Keras MobileNetV2 classifier (export.train.build_model, ImageNet weights),
  each photo decoded whole, resized to its input and passed to model.predict on its own.

The first photo warms the method up and is not counted; then photos are taken in order until all are
done or S seconds have passed. Prints one JSON line: {"images": N, "seconds": T} (or {"skipped": why}).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from gendersort.faces.resolution import chip_reduction
from gendersort.photos.imaging import load_upright
from gendersort.photos.walk import FoundFile, found
from gendersort.pipeline.api import WORKERS, read_ahead, shared_analyzer, threads_beside
from gendersort.pipeline.ordered import ordered_map
from gendersort.pipeline.reading import PhotoReader, load

METHODS = ("decode", "decode-full", "naive", "finer", "keras")


def timed(results: Iterator[object], seconds: float) -> dict[str, float]:
    """Consume results until they end or the time is up; how many, in how long."""
    start, count = time.perf_counter(), 0
    for _ in results:
        count += 1
        if time.perf_counter() - start >= seconds:
            break
    return {"images": count, "seconds": time.perf_counter() - start}


Stream = Callable[[list[FoundFile]], Iterator[object]]


def decoding(workers: int, draft: bool) -> Stream:
    reader = PhotoReader(shared_analyzer("cpu", threads_beside(workers)), every_face=False)
    rule = reader.detection_scale if draft else None
    return lambda files: ordered_map(lambda item: load(item, rule), files, workers, read_ahead(workers, 32))


def naive() -> Stream:
    analyzer = shared_analyzer("cpu")
    return lambda files: (analyzer.analyze(load_upright(item.path), main_only=True) for item in files)


def finer_decodes(files: list[FoundFile], seconds: float) -> dict[str, object]:
    """Photos whose main face is too small in the detection decode for a sharp chip (as PhotoReader
    decides), and the seconds spent decoding those again, finer (down to the rows its chip reaches)."""
    reader = PhotoReader(shared_analyzer("cpu"), every_face=False)
    geometry = reader.analyzer.classifier.geometry
    start, count, finer, finer_seconds = time.perf_counter(), 0, 0, 0.0
    for item in files:
        photo, _ = load(item, reader.detection_scale)
        if photo is not None:
            main = reader.analyzer.detector.detect_photo(photo, main_only=True)[:1]
            needed = chip_reduction(main, geometry)
            if needed < photo.reduction:
                decode_start = time.perf_counter()
                load(item, lambda size, needed=needed: needed, reader.analyzer.chips_box(main, needed))
                finer, finer_seconds = finer + 1, finer_seconds + time.perf_counter() - decode_start
        count += 1
        if time.perf_counter() - start >= seconds:
            break
    seconds_taken = time.perf_counter() - start
    return {"images": count, "seconds": seconds_taken, "finer": finer, "finer_seconds": finer_seconds}


def keras_predictions() -> Stream | str:
    """model.predict on one photo at a time, or why it cannot run here."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        from export.train import IMAGENET_WEIGHTS, build_model
    except ImportError as error:
        return f"needs TensorFlow and Keras (pip install -e '.[train]'): {error}"
    size = shared_analyzer("cpu").classifier.geometry.size
    model, _ = build_model(size, IMAGENET_WEIGHTS if IMAGENET_WEIGHTS.exists() else None)

    def predict(item: FoundFile) -> np.ndarray:
        with Image.open(item.path) as image:
            pixels = np.asarray(image.convert("RGB").resize((size, size)), np.float32)
        return model.predict(pixels[None], verbose=0)

    return lambda files: (predict(item) for item in files)


def run(method: str, files: list[FoundFile], seconds: float, workers: int) -> dict[str, object]:
    makers: dict[str, Callable[[], Stream | str]] = {
        "decode": lambda: decoding(workers, draft=True),
        "decode-full": lambda: decoding(workers, draft=False),
        "naive": naive,
        "keras": keras_predictions,
    }
    if method == "finer":
        return finer_decodes(files, seconds)
    stream = makers[method]()
    if isinstance(stream, str):
        return {"skipped": stream}
    list(stream(files[:1]))
    return timed(stream(files[1:]), seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("method", choices=METHODS)
    parser.add_argument("list", type=Path, help="a text file naming the photos, one a line")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=WORKERS)
    args = parser.parse_args()
    files = [found(Path(line)) for line in args.list.read_text().splitlines()]
    print(json.dumps(run(args.method, files, args.seconds, args.workers)))


if __name__ == "__main__":
    main()
