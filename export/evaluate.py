"""Evaluate a gender ONNX model through gendersort's own pipeline (decode, detect, align, classify).

    python -m export.evaluate celeba fairface utkface allagefaces scut --out build/eval  # the val parts
    python -m export.evaluate celeba --shrink 4 --name celeba-quarter  # small, blurry faces
    python -m export.evaluate fairface --degrade thumbnail --name fairface-thumbnail  # export/degrade.py's

`--degrade` changes each whole photo as export/degrade.py's kinds do (a thumbnail's face made about 30 px
wide from the face export/detections.py found in it, so build/detections must hold the set's val part).

Every image counts: an image without a detected face counts as wrong. For each set writes {out}/{name}.json
with the metrics (women's and men's accuracy, and, where the set's labels.csv has them, per race group of
adults and per age band, scored by gendersort.review.evaluation.scoring as `gendersort evaluate --labels`
scores them, 95% intervals included), {out}/{name}.npz with every image's p_male (NaN: no face) for
calibration and candidate tables, and a confusion matrix PNG. Only val parts are read: choose on them,
never on anything else.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from export.common import LABELLED_SETS, labelled_images, set_root
from export.degrade import KINDS, face_thumbnail_factor, greyscale, sepia, thumbnail
from gendersort.faces.detector import DETECTOR_PATH
from gendersort.labels import LABELS
from gendersort.models.classifier import CLASSIFIER_PATH
from gendersort.photos.imaging import load_upright
from gendersort.pipeline.analysis import FaceAnalyzer
from gendersort.review.evaluation.grouping import GroupBy
from gendersort.review.evaluation.scoring import Scored, by_group, overall

# 0-2, 3-9, 10-17, 18-29, 30-44, 45-59, 60-74, 75+: `evaluate --labels --by age:0,3,10,18,30,45,60,75`.
AGE_BANDS = GroupBy("age", (0, 3, 10, 18, 30, 45, 60, 75))
# FairFace labels an age band, not an age; its bands below 20 are not adults'.
FAIRFACE_MINOR_BANDS = {"0-2", "3-9", "10-19"}
MALE = LABELS.index("male")

_analyzer: FaceAnalyzer | None = None
_shrink = 1.0
_degrade = ""


def _init_worker(classifier_path: Path, detector_path: Path, quantized: bool, shrink: float,
                 degrade: str) -> None:
    global _analyzer, _shrink, _degrade
    _analyzer = FaceAnalyzer(device="cpu", threads=1, classifier_path=classifier_path,
                             detector_path=detector_path, quantized=quantized)
    _shrink = shrink
    _degrade = degrade


def degraded(image: Image.Image, kind: str, eye_distance_px: float) -> Image.Image:
    """The photo as `kind` (export/degrade.py's) changes it (a face without a detection: the photo's
    shorter side taken for the face's width)."""
    if kind == "thumbnail":
        if not np.isfinite(eye_distance_px):
            eye_distance_px = min(image.size) / 1.9
        return thumbnail(image, face_thumbnail_factor(eye_distance_px))
    return {"greyscale": greyscale, "sepia": sepia}[kind](image)


def p_male_of_largest_face(path_and_eyes: tuple[str, float]) -> float:
    """The largest face's probability of 'male', or NaN when no face is found."""
    assert _analyzer is not None
    path, eye_distance_px = path_and_eyes
    image = load_upright(path)
    if _shrink > 1:
        image = image.resize((round(image.width / _shrink), round(image.height / _shrink)),
                             Image.Resampling.BILINEAR)
    if _degrade:
        image = degraded(image, _degrade, eye_distance_px / _shrink)
    results = _analyzer.analyze(image, main_only=True)
    return results[0].p_male if results else float("nan")


def labelled_items(name: str) -> list[dict]:
    """The val part of a set: path and truth, with age band, adulthood and race where the set has them."""
    root = set_root(name)
    labels_csv = root / "labels.csv"
    extra: dict[str, dict] = {}
    if labels_csv.exists():
        with labels_csv.open() as handle:
            extra = {str(root / row["path"]): row for row in csv.DictReader(handle) if row["split"] == "val"}
    items = []
    for path, label in labelled_images(name, "val"):
        item = {"path": str(path), "is_male": label == MALE}
        row = extra.get(str(path), {})
        if row.get("race"):
            item["race"] = row["race"]
        if row.get("age"):
            item["age_band"], item["adult"] = age_band(row["age"])
        items.append(item)
    return items


def sampled(items: list[dict], limit: int) -> list[dict]:
    """Up to `limit` items spread evenly over the whole part, or all for 0: the same photos for every model
    and every kind of degrading. The part lists its women first, so a sample must reach its end to keep its
    gender mix (a whole-number step cut short took FairFace's val part at 36% men, UTKFace's at 26%, and a
    calibrated model's male rows then look over-confident)."""
    if not limit or limit >= len(items):
        return items
    return [items[index] for index in np.linspace(0, len(items) - 1, limit).round().astype(int)]


def age_band(age: str) -> tuple[str, bool]:
    """A label's age as (band, adult): FairFace's own bands, or an age in years put in AGE_BANDS."""
    if not age.isdigit():
        return age, age not in FAIRFACE_MINOR_BANDS
    return AGE_BANDS.group_of(age), int(age) >= 18


def scored(items: list[dict], p_male: np.ndarray) -> Scored:
    return Scored.of([item["is_male"] for item in items], p_male)


def score(items: list[dict], p_male: np.ndarray) -> dict:
    """The whole set (audit.overall: no face is wrong), and the accuracy on the faces found."""
    every = scored(items, p_male)
    found = every.found
    on_found = float(every.correct[found].mean()) if found.any() else 0.0
    return overall(every) | {"accuracy_on_found_faces": on_found}


def grouped(items: list[dict], p_male: np.ndarray) -> dict:
    """Breakdowns where the labels allow: adults, adults per race group, every age band (lists of
    audit.GroupScore records, in the groups' natural order)."""
    every = scored(items, p_male)
    report: dict = {}
    has_age = all("adult" in item for item in items)
    adult = np.array([item.get("adult", True) for item in items], bool)
    if has_age:
        report["adults"] = score([item for item in items if item["adult"]], p_male[adult])
        bands = [item["age_band"] for item in items]
        order = GroupBy("age").ordered(bands)
        report["by_age_band"] = [group.record() for group in by_group(every, bands, order)]
    if all("race" in item for item in items):
        races = np.array([item["race"] for item in items], dtype=object)
        order = GroupBy("race").ordered(races)  # every race group, one without adults too
        key = "adults_by_race" if has_age else "by_race"
        report[key] = [group.record() for group in by_group(every.subset(adult), races[adult], order)]
    return report


def plot_confusion(matrix: list[list[int]], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3.6))
    ax.imshow(matrix, cmap="Blues")
    for i in range(2):
        for j in range(2):
            ax.text(j, i, str(matrix[i][j]), ha="center", va="center", fontsize=12)
    ax.set_xticks([0, 1], ["female", "male"])
    ax.set_yticks([0, 1], ["female", "male"])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def eye_distances(name: str, paths: list[str], detections: Path) -> list[float]:
    """Each photo's eye distance in pixels as export/detections.py found it (NaN: no face)."""
    found = np.load(detections / f"{name}-val.npz")
    keypoints = dict(zip(found["paths"].tolist(), found["keypoints"], strict=True))
    missing = [path for path in paths if path not in keypoints]
    if missing:
        raise SystemExit(f"{len(missing)} photos of {name} have no detection in {detections}, "
                         f"e.g. {missing[0]}: run python -m export.detections {name} --splits val")
    return [float(np.linalg.norm(keypoints[path][1] - keypoints[path][0])) for path in paths]


def evaluate_set(name: str, args: argparse.Namespace) -> dict:
    items = sampled(labelled_items(name), args.limit)
    paths = [item["path"] for item in items]
    eyes = (eye_distances(name, paths, args.detections) if args.degrade == "thumbnail"
            else [float("nan")] * len(paths))
    start = time.perf_counter()
    setup = (args.model, args.detector, not args.float, args.shrink, args.degrade)
    with ProcessPoolExecutor(args.workers, initializer=_init_worker, initargs=setup) as pool:
        p_male = np.array(list(pool.map(p_male_of_largest_face, zip(paths, eyes, strict=True), chunksize=64)))
    elapsed = time.perf_counter() - start
    report = {"set": name, "split": "val", "model": str(args.model), "detector": str(args.detector),
              "shrink": args.shrink,
              "degrade": args.degrade or None, "images": len(items), "images_per_s": len(items) / elapsed,
              "all": score(items, p_male),
              **grouped(items, p_male)}
    stem = args.name or (f"{name}-{args.degrade}" if args.degrade else name)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2))
    np.savez(args.out / f"{stem}.npz", paths=np.array(paths),
             is_male=np.array([i["is_male"] for i in items]), p_male=p_male)
    plot_confusion(report["all"]["confusion_matrix"], f"{name} val (every image)",
                   args.out / f"{stem}-confusion.png")
    overall = report["all"]
    print(f"{stem}: {len(items)} images, balanced {overall['balanced_accuracy']:.2%}, women "
          f"{overall['women']:.2%}, men {overall['men']:.2%}, no face {overall['no_face']}", flush=True)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*", default=list(LABELLED_SETS), help="val parts to evaluate")
    parser.add_argument("--out", type=Path, default=Path("build/eval"))
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--model", type=Path, default=CLASSIFIER_PATH, help="the gender ONNX model")
    parser.add_argument("--detector", type=Path, default=DETECTOR_PATH, help="the face detector's ONNX model")
    parser.add_argument("--float", action="store_true",
                        help="the float graphs even where int8 ones lie beside them (the CPU's default)")
    parser.add_argument("--name", help="file name stem of the outputs (one set only; default: the set's)")
    parser.add_argument("--shrink", type=float, default=1.0,
                        help="shrink every image this many times first (faces smaller than the crops')")
    parser.add_argument("--degrade", choices=KINDS, default="",
                        help="change every photo so first (export/degrade.py); names the outputs NAME-KIND")
    parser.add_argument("--detections", type=Path, default=Path("build/detections"),
                        help="export/detections.py's output: the faces' sizes for --degrade thumbnail")
    args = parser.parse_args()
    if args.name and len(args.sets) != 1:
        raise SystemExit("--name needs exactly one set")
    for name in args.sets:
        evaluate_set(name, args)


if __name__ == "__main__":
    main()
