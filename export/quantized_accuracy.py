"""Whether the int8 graphs may run on the CPU: every val part's balanced accuracy and detection rate with the
float and the int8 detector and classifier, each swapped alone and both together (issue #26).

    python -m export.detections $S --splits val --detector gendersort/models/face_detector.int8.onnx \
        --out build/int8/detections
    python -m export.chips $S --splits val --detections build/int8/detections --out build/int8/chips \
        --eye-distance 0.34 --eye-y 0.40
    python -m export.quantized_accuracy $S --float-detections build/detections \
        --float-chips build/chips/context --int8-detections build/int8/detections \
        --int8-chips build/int8/chips
    python -m export.quantized_accuracy $S --float-detections build/detections \
        --float-chips build/chips/context --float-second-chips build/chips/second   # the classifier alone

Every image counts, as in export/evaluate.py: an image without a face is wrong. The chips are the ones
classify cuts (export.chips' centre crop) from the faces each detector found, so a swap changes only the
graph swapped; a classifier that also takes Cydral's chip (v5 on) gets export.chips --second-chip's chips
of the same faces. Without --int8-detections only the classifier is swapped. A model passes where no val
part loses more than MAX_ACCURACY_LOSS of balanced accuracy and MAX_DETECTION_LOSS of detection rate
against the float graphs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from export.common import LABELLED_SETS, centre_crop, set_stem
from gendersort.labels import LABELS
from gendersort.models.chip_inputs import FaceChips
from gendersort.models.classifier import CLASSIFIER_PATH, GenderClassifier
from gendersort.models.session import quantized_path

MAX_ACCURACY_LOSS = 0.002  # 0.2 point
MAX_DETECTION_LOSS = 0.0005  # 0.05 point
MALE = LABELS.index("male")
BATCH = 128  # chips per run: a whole val part at once would hold gigabytes of activations


def detection_rate(detections: Path) -> tuple[float, np.ndarray, np.ndarray]:
    """The share of images with a face, and every image's path and label, in the detections' order."""
    with np.load(detections) as data:
        found = ~np.isnan(data["keypoints"][:, 0, 0])
        return float(found.mean()), data["paths"], data["labels"]


def p_male_per_image(paths: np.ndarray, chips_file: Path, second_file: Path | None,
                     classifier: GenderClassifier) -> np.ndarray:
    """p_male of each image's face, NaN for an image without one; `second_file`: the same faces' second
    chips, for a classifier that takes them."""
    with np.load(chips_file) as data:
        chips = FaceChips(centre_crop(data["chips"], int(data["margin"])))
        chip_paths = data["paths"]
    if second_file is not None:
        with np.load(second_file) as data:
            if not np.array_equal(data["paths"], chip_paths):
                raise SystemExit(f"{second_file} holds other faces than {chips_file}")
            chips = FaceChips(chips.aligned, data["chips"])
    p_male = np.concatenate([classifier.p_male(chips[start:start + BATCH])
                             for start in range(0, len(chips), BATCH)])
    by_path = dict(zip(chip_paths.tolist(), p_male, strict=True))
    return np.array([by_path.get(path, np.nan) for path in paths.tolist()])


def balanced_accuracy(labels: np.ndarray, p_male: np.ndarray) -> float:
    """Mean of women's and men's accuracy; a NaN (no face) is wrong."""
    right = np.where(labels == MALE, p_male >= 0.5, p_male < 0.5)
    return float(np.mean([right[labels == label].mean() for label in range(len(LABELS))]))


def measure_set(name: str, args: argparse.Namespace, classifiers: dict[str, GenderClassifier]) -> dict:
    stem = set_stem(name)
    figures: dict = {}
    for detector in detectors(args):
        detections = getattr(args, f"{detector}_detections") / f"{stem}-val.npz"
        rate, paths, labels = detection_rate(detections)
        figures[f"detection_{detector}"] = rate
        chips_file = getattr(args, f"{detector}_chips") / f"{stem}-val.npz"
        second_dir = getattr(args, f"{detector}_second_chips")
        second_file = None if second_dir is None else second_dir / f"{stem}-val.npz"
        for classifier, model in classifiers.items():
            p_male = p_male_per_image(paths, chips_file, second_file, model)
            key = f"balanced_{detector}_detector_{classifier}_classifier"
            figures[key] = balanced_accuracy(labels, p_male)
    return figures


def detectors(args: argparse.Namespace) -> tuple[str, ...]:
    """The detectors measured: the float one, and the int8 one where its detections were given."""
    return ("float", "int8") if args.int8_detections else ("float",)


def verdicts(per_set: dict[str, dict]) -> dict[str, bool]:
    """Per model measured, whether it keeps every val part within the limits when swapped alone."""
    base = "balanced_float_detector_float_classifier"
    passed = {"classifier": all(f[base] - f["balanced_float_detector_int8_classifier"] <= MAX_ACCURACY_LOSS
                                for f in per_set.values())}
    if all("detection_int8" in f for f in per_set.values()):
        passed["detector"] = all(f[base] - f["balanced_int8_detector_float_classifier"] <= MAX_ACCURACY_LOSS
                                 and f["detection_float"] - f["detection_int8"] <= MAX_DETECTION_LOSS
                                 for f in per_set.values())
    return passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*", default=list(LABELLED_SETS))
    parser.add_argument("--classifier", type=Path, default=CLASSIFIER_PATH, help="the float classifier")
    parser.add_argument("--int8-classifier", type=Path, help="default: beside the float one")
    for detector in ("float", "int8"):
        parser.add_argument(f"--{detector}-detections", type=Path, required=detector == "float",
                            help=f"export.detections' val parts found with the {detector} detector")
        parser.add_argument(f"--{detector}-chips", type=Path,
                            help=f"export.chips' context chips of the {detector} detector's faces")
        parser.add_argument(f"--{detector}-second-chips", type=Path,
                            help=f"export.chips --second-chip's chips of the {detector} detector's faces "
                            "(a classifier that takes Cydral's chip)")
    parser.add_argument("--out", type=Path, default=Path("build/int8/accuracy.json"))
    args = parser.parse_args()
    for detector in detectors(args):
        if getattr(args, f"{detector}_chips") is None:
            parser.error(f"--{detector}-detections needs --{detector}-chips")
    int8_classifier = args.int8_classifier or quantized_path(args.classifier)
    classifiers = {"float": GenderClassifier(device="cpu", model_path=args.classifier, quantized=False),
                   "int8": GenderClassifier(device="cpu", model_path=int8_classifier, quantized=False)}
    per_set = {}
    for name in args.sets:
        per_set[name] = measure_set(name, args, classifiers)
        shown = ", ".join(f"{key} {value:.2%}" for key, value in per_set[name].items())
        print(f"{name}: {shown}", flush=True)
    passed = verdicts(per_set)
    print(f"int8 keeps every val part within {MAX_ACCURACY_LOSS:.1%} balanced accuracy and "
          f"{MAX_DETECTION_LOSS:.2%} detection rate: {passed}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"per_set": per_set, "passed": passed,
                                    "classifiers": {"float": str(args.classifier),
                                                    "int8": str(int8_classifier)}}, indent=2))


if __name__ == "__main__":
    main()
