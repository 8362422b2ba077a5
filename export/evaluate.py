"""Evaluate the shipped ONNX model through gendersort's own pipeline (decode, detect, align, classify).

    python -m export.evaluate celeba-val   --out build/eval     # ../shared/data/celeba-gender/val
    python -m export.evaluate utkface64    --out build/eval     # once, at the end: never to tune on
    python -m export.evaluate celeba-val --shrink 4 --name celeba-val-quarter   # small, blurry faces

Every image counts: an image without a detected face counts as wrong. Writes {out}/{set}.json with the
metrics (and, for utkface64, adults, per race group of adults and per age band) and a confusion matrix PNG.
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

from export.common import SHARED_DIR
from gendersort.analysis import FaceAnalyzer
from gendersort.classifier import CLASSIFIER_PATH
from gendersort.imaging import load_upright
from gendersort.metrics import classification_metrics

DATA = SHARED_DIR / "data"
RACES = {0: "White", 1: "Black", 2: "Asian", 3: "Indian", 4: "Others"}
AGE_BANDS = [(0, 2), (3, 9), (10, 17), (18, 29), (30, 44), (45, 59), (60, 74), (75, 200)]

_analyzer: FaceAnalyzer | None = None
_shrink = 1.0


def _init_worker(classifier_path: Path, shrink: float) -> None:
    global _analyzer, _shrink
    _analyzer = FaceAnalyzer(device="cpu", threads=1, classifier_path=classifier_path)
    _shrink = shrink


def p_male_of_largest_face(path: str) -> float:
    """The largest face's probability of 'male', or NaN when no face is found."""
    assert _analyzer is not None
    image = load_upright(path)
    if _shrink > 1:
        image = image.resize((round(image.width / _shrink), round(image.height / _shrink)),
                             Image.Resampling.BILINEAR)
    results = _analyzer.analyze(image, largest_only=True)
    return results[0].p_male if results else float("nan")


def labelled_items(name: str) -> list[dict]:
    if name == "celeba-val":
        root = DATA / "celeba-gender" / "val"
        return [{"path": str(p), "is_male": label == "male"}
                for label in ("female", "male") for p in sorted((root / label).glob("*.jpg"))]
    if name == "utkface64":
        root = DATA / "utkface64"
        with (root / "labels.csv").open() as handle:
            return [{"path": str(root / row["path"]), "is_male": row["label"] == "male",
                     "age": int(row["age"]), "race": int(row["race"])} for row in csv.DictReader(handle)]
    raise SystemExit(f"unknown set {name!r}")


def score(items: list[dict], p_male: np.ndarray) -> dict:
    """Metrics where no face is wrong: such images are predicted as the opposite of the truth."""
    truth = np.array([item["is_male"] for item in items])
    found = ~np.isnan(p_male)
    predicted = np.where(found, p_male >= 0.5, ~truth)
    scores = np.where(found, p_male, np.where(truth, 0.0, 1.0))
    metrics = classification_metrics(truth, predicted, scores)
    metrics["no_face"] = int((~found).sum())
    on_found = predicted[found] == truth[found]
    metrics["accuracy_on_found_faces"] = float(on_found.mean()) if found.any() else 0.0
    return metrics


def grouped(items: list[dict], p_male: np.ndarray) -> dict:
    """UTKFace breakdowns: adults, adults per race group, every age band."""
    ages = np.array([item["age"] for item in items])
    races = np.array([item["race"] for item in items])

    def subset(mask: np.ndarray) -> dict:
        return score([item for item, keep in zip(items, mask, strict=True) if keep], p_male[mask])

    adults = ages >= 18
    return {
        "adults": subset(adults),
        "adults_by_race": {RACES[r]: subset(adults & (races == r)) for r in sorted(RACES)},
        "by_age_band": {f"{lo}-{hi}" if hi < 200 else f"{lo}+": subset((ages >= lo) & (ages <= hi))
                        for lo, hi in AGE_BANDS},
    }


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("set", choices=["celeba-val", "utkface64"])
    parser.add_argument("--out", type=Path, default=Path("build/eval"))
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--model", type=Path, default=CLASSIFIER_PATH, help="the gender ONNX model")
    parser.add_argument("--name", help="file name stem for the outputs (default: the set's name)")
    parser.add_argument("--shrink", type=float, default=1.0,
                        help="shrink every image this many times first (faces smaller than the crops')")
    args = parser.parse_args()
    items = labelled_items(args.set)
    if args.limit:
        items = items[:: max(1, len(items) // args.limit)][: args.limit]
    start = time.perf_counter()
    setup = (args.model, args.shrink)
    with ProcessPoolExecutor(args.workers, initializer=_init_worker, initargs=setup) as pool:
        p_male = np.array(list(pool.map(p_male_of_largest_face, [i["path"] for i in items], chunksize=128)))
    elapsed = time.perf_counter() - start
    report = {"set": args.set, "model": str(args.model), "shrink": args.shrink, "images": len(items),
              "images_per_s": len(items) / elapsed, "all": score(items, p_male)}
    if args.set == "utkface64":
        report.update(grouped(items, p_male))
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.name or args.set
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2))
    plot_confusion(report["all"]["confusion_matrix"], f"{args.set} (every image)",
                   args.out / f"{stem}-confusion.png")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
