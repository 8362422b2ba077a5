"""Faces per second of the ONNX gender classifier alone, at batch 1, 8 and 32, on real chips.

    python -m benchmarks.classifier_speed [--chips build/chips/val.npz] [--device cpu] [--seconds 5]

Without a chip cache it cuts chips from the shipped fixture photos. Prints each batch size's rate and its
ratio to batch 1, measured in the same process.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from gendersort.photos.imaging import load_upright
from gendersort.pipeline.analysis import FaceAnalyzer

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"


def real_chips(cache: Path, analyzer: FaceAnalyzer, count: int = 256) -> np.ndarray:
    if cache.exists():
        with np.load(cache) as data:
            return data["chips"][:count]
    chips = []
    for path in sorted(FIXTURES.glob("*.png")):
        image = load_upright(path)
        chips.append(analyzer.chips(image, analyzer.detector.detect(image)))
    found = np.concatenate(chips)
    return np.resize(found, (count, *found.shape[1:]))


def faces_per_second(analyzer: FaceAnalyzer, chips: np.ndarray, batch: int, seconds: float) -> float:
    analyzer.classifier.p_male(chips[:batch])
    done, start, offset = 0, time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        analyzer.classifier.p_male(chips[offset:offset + batch])
        done += batch
        offset = (offset + batch) % (len(chips) - batch)
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chips", type=Path, default=Path("build/chips/val.npz"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    analyzer = FaceAnalyzer(device=args.device)
    chips = real_chips(args.chips, analyzer)
    print(f"model {analyzer.classifier.version}, provider {analyzer.classifier.model.provider}, "
          f"chip {chips.shape[1]} px")
    baseline = None
    for batch in (1, 8, 32):
        rate = faces_per_second(analyzer, chips, batch, args.seconds)
        baseline = baseline or rate
        print(f"batch {batch:>2}: {rate:7.1f} faces/s  ({rate / baseline:.2f}x batch 1)")


if __name__ == "__main__":
    main()
