"""Faces per second of the ONNX gender classifier alone, at batch 1, 8 and 32, on real chips.

    python -m benchmarks.classifier_speed [--chips build/chips/celeba-val.npz] [--against build/v2.onnx]

Without a chip cache it cuts chips from the shipped fixture photos. Prints each batch size's rate (the
best of the rounds), and with --against the shipped model's ratio to another one measured in the same
process, rounds alternating (this machine is shared and noisy: only the ratio is worth comparing).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from export.common import centre_crop
from gendersort.models.classifier import GenderClassifier
from gendersort.photos.imaging import load_upright
from gendersort.pipeline.analysis import FaceAnalyzer

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"


def real_chips(cache: Path, analyzer: FaceAnalyzer, count: int = 256) -> np.ndarray:
    """Chips from export.chips' cache (the centre of each margin chip), else cut from the fixtures."""
    if cache.exists():
        with np.load(cache) as data:
            return centre_crop(data["chips"][:count], int(data["margin"]))
    chips = []
    for path in sorted(FIXTURES.glob("*.png")):
        image = load_upright(path)
        chips.append(analyzer.chips(image, analyzer.detector.detect(image)))
    found = np.concatenate(chips)
    return np.resize(found, (count, *found.shape[1:]))


def faces_per_second(classifier: GenderClassifier, chips: np.ndarray, batch: int, seconds: float) -> float:
    classifier.p_male(chips[:batch])
    done, start, offset = 0, time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        classifier.p_male(chips[offset:offset + batch])
        done += batch
        offset = (offset + batch) % (len(chips) - batch)
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chips", type=Path, default=Path("build/chips/celeba-val.npz"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--against", type=Path, help="another gender ONNX model (e.g. the previous version), "
                        "measured in turn with the shipped one, rounds alternating")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    analyzer = FaceAnalyzer(device=args.device)
    chips = real_chips(args.chips, analyzer)
    models = {"shipped": analyzer.classifier}
    if args.against:
        models["against"] = GenderClassifier(device=args.device, model_path=args.against)
    for name, classifier in models.items():
        print(f"{name}: model {classifier.version}, provider {classifier.model.provider}, "
              f"chip {classifier.geometry.size} px")
    for batch in (1, 8, 32):
        rates: dict[str, list[float]] = {name: [] for name in models}
        for _ in range(args.rounds if args.against else 1):
            for name, classifier in models.items():
                rates[name].append(faces_per_second(classifier, chips, batch, args.seconds))
        best = {name: max(values) for name, values in rates.items()}
        line = f"batch {batch:>2}: shipped {best['shipped']:7.1f} faces/s"
        if args.against:
            line += f", against {best['against']:7.1f} faces/s ({best['shipped'] / best['against']:.2f}x)"
        print(line)


if __name__ == "__main__":
    main()
