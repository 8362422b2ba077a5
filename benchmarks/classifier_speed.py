"""Faces per second of the ONNX gender classifier alone, at batch 1, 8 and 32, on real chips.

    python -m benchmarks.classifier_speed [--chips build/chips/celeba-val.npz] [--against build/v2.onnx] \\
        [--model build/candidate.onnx --second-chips build/chips/second/celeba-val.npz]

Without a chip cache it cuts chips from the shipped fixture photos. Prints each batch size's rate (the
best of the rounds), and with --against the measured model's ratio to another one measured in the same
process, rounds alternating (this machine is shared and noisy: only the ratio is worth comparing). A model
that takes a second chip (Cydral's, v5 on) gets it from --second-chips (the same faces, export.chips
--second-chip) or cut from the fixtures. Also prints how fast the runtime cuts each model's chips of the
fixtures' faces (FaceAnalyzer.chips: the aligned chip, and the second chip where the model takes one).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

from export.common import centre_crop
from gendersort.faces.face import Face
from gendersort.models.chip_inputs import FaceChips
from gendersort.models.classifier import CLASSIFIER_PATH, GenderClassifier
from gendersort.photos.imaging import load_upright
from gendersort.pipeline.analysis import FaceAnalyzer

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"


def fixture_faces(analyzer: FaceAnalyzer) -> list[tuple[Image.Image, list[Face]]]:
    """The fixture photos with the faces found in them."""
    images = [load_upright(path) for path in sorted(FIXTURES.glob("*.png"))]
    return [(image, analyzer.detector.detect(image)) for image in images]


def real_chips(cache: Path, second_cache: Path | None, analyzer: FaceAnalyzer, count: int = 256) -> FaceChips:
    """Chips from export.chips' caches (the centre of each margin chip, and the second chips where the
    model takes them), else cut from the fixtures as the runtime cuts them."""
    needs_second = analyzer.classifier.second_chip is not None
    if cache.exists() and (not needs_second or (second_cache and second_cache.exists())):
        with np.load(cache) as data:
            aligned = centre_crop(data["chips"][:count], int(data["margin"]))
        if not needs_second or second_cache is None:
            return FaceChips(aligned)
        with np.load(second_cache) as data:
            return FaceChips(aligned, data["chips"][:count])
    found = FaceChips.concatenate([analyzer.chips(image, faces) for image, faces in fixture_faces(analyzer)])
    repeat = np.arange(count) % len(found)
    return FaceChips(found.aligned[repeat], None if found.second is None else found.second[repeat])


def faces_per_second(classifier: GenderClassifier, chips: FaceChips, batch: int, seconds: float) -> float:
    classifier.p_male(chips[:batch])
    done, start, offset = 0, time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        classifier.p_male(chips[offset:offset + batch])
        done += batch
        offset = (offset + batch) % (len(chips) - batch)
    return done / (time.perf_counter() - start)


def cut_per_second(analyzer: FaceAnalyzer, seconds: float) -> float:
    """Faces a second whose chips FaceAnalyzer.chips cuts, from the fixtures' decoded photos."""
    photos = [(image, faces) for image, faces in fixture_faces(analyzer) if faces]
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for image, faces in photos:
            done += len(analyzer.chips(image, faces))
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chips", type=Path, default=Path("build/chips/celeba-val.npz"))
    parser.add_argument("--second-chips", type=Path, help="the same faces' second chips, for a model that "
                        "takes them")
    parser.add_argument("--model", type=Path, default=CLASSIFIER_PATH, help="the model measured")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--against", type=Path, help="another gender ONNX model (e.g. the previous version), "
                        "measured in turn with the first, rounds alternating")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, help="onnxruntime's threads (default: one per core; classify "
                        "gives each of its workers one core's share, 1 on 2 cores)")
    args = parser.parse_args()
    analyzers = {"model": FaceAnalyzer(device=args.device, threads=args.threads, classifier_path=args.model)}
    if args.against:
        analyzers["against"] = FaceAnalyzer(device=args.device, threads=args.threads,
                                            classifier_path=args.against)
    chips = {name: real_chips(args.chips, args.second_chips, analyzer)
             for name, analyzer in analyzers.items()}
    for name, analyzer in analyzers.items():
        classifier = analyzer.classifier
        second = classifier.second_chip
        print(f"{name}: model {classifier.version}, provider {classifier.model.provider}, "
              f"chip {classifier.geometry.size} px" + (f", second chip {second.size} px" if second else ""))
    rounds = args.rounds if args.against else 1
    for batch in (1, 8, 32):
        rates: dict[str, list[float]] = {name: [] for name in analyzers}
        for _ in range(rounds):
            for name, analyzer in analyzers.items():
                rates[name].append(faces_per_second(analyzer.classifier, chips[name], batch, args.seconds))
        print(ratio_line(f"batch {batch:>2}", {name: max(values) for name, values in rates.items()}))
    cuts: dict[str, list[float]] = {name: [] for name in analyzers}
    for _ in range(rounds):
        for name, analyzer in analyzers.items():
            cuts[name].append(cut_per_second(analyzer, args.seconds))
    print(ratio_line("chips cut", {name: max(values) for name, values in cuts.items()}))


def ratio_line(what: str, best: dict[str, float]) -> str:
    line = f"{what}: model {best['model']:7.1f} faces/s"
    if "against" in best:
        line += f", against {best['against']:7.1f} faces/s ({best['model'] / best['against']:.2f}x)"
    return line


if __name__ == "__main__":
    main()
