"""Detection rate on face crops and recall on annotated group photos, with per-image timing.

    python -m benchmarks.detection_rate                 # everything, full sets (about 10 minutes)
    python -m benchmarks.detection_rate --limit 1000    # a quick look

Reads the val parts of the labelled sets (celeba-gender in ../shared/data, and the four that
../shared/data/facesets.py builds under build/data, where they exist): the share of images in which the
largest face is found as `classify` finds it; and ../shared/data/dlib-faces (recall of annotated faces at
IoU >= 0.3, false positives, dogs.jpg). Prints ms per image for a 500 px and a 12-megapixel photo, with and
without tiling. --no-turned-look measures the detector without its last look through turned views.
"""

from __future__ import annotations

import argparse
import os
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from export.common import LABELLED_SETS, labelled_images, set_root
from gendersort.faces.detector import FaceDetector
from gendersort.faces.nms import iou
from gendersort.photos.imaging import load_upright

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
IOU_MATCH = 0.3

_detector: FaceDetector | None = None


def _init_worker(options: dict) -> None:
    global _detector
    _detector = FaceDetector(device="cpu", threads=1, **options)


def _count_faces(path: Path) -> int:
    assert _detector is not None
    return len(_detector.detect(load_upright(path), main_only=True))


def crop_detection_rate(paths: list[Path], options: dict, workers: int) -> tuple[float, list[Path]]:
    """Share of images with at least one face, and the paths with none."""
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(options,)) as pool:
        counts = list(pool.map(_count_faces, paths, chunksize=64))
    missed = [path for path, count in zip(paths, counts, strict=True) if count == 0]
    return 1 - len(missed) / len(paths), missed


def annotated_boxes(folder: Path) -> dict[str, np.ndarray]:
    """Face boxes (x0, y0, x1, y1) per photo from dlib's training.xml and testing.xml."""
    boxes: dict[str, list[list[float]]] = {}
    for xml_name in ("training.xml", "testing.xml"):
        for image in ET.parse(folder / xml_name).getroot().iter("image"):
            for box in image.iter("box"):
                left, top = float(box.get("left")), float(box.get("top"))
                width, height = float(box.get("width")), float(box.get("height"))
                boxes.setdefault(image.get("file"), []).append([left, top, left + width, top + height])
    return {name: np.array(value) for name, value in boxes.items()}


def match_counts(detector: FaceDetector, image: Image.Image, truth: np.ndarray) -> tuple[int, int]:
    """Annotated faces found (IoU >= 0.3) and found boxes matching no annotated face."""
    found = np.array([face.box for face in detector.detect(image)]).reshape(-1, 4)
    matched = sum(bool(found.size) and iou(box, found).max() >= IOU_MATCH for box in truth)
    unmatched = sum(bool(truth.size) and iou(box, truth).max() < IOU_MATCH for box in found)
    return matched, unmatched


def group_photo_recall(folder: Path, detector: FaceDetector) -> None:
    found_total = annotated_total = false_positives = 0
    for name, truth in sorted(annotated_boxes(folder).items()):
        matched, unmatched = match_counts(detector, load_upright(folder / name), truth)
        found_total += matched
        annotated_total += len(truth)
        false_positives += unmatched
        print(f"  {name}: {matched}/{len(truth)} annotated faces found, {unmatched} other boxes")
    print(f"dlib-faces recall: {found_total}/{annotated_total} faces, {false_positives} false positives")
    for name in ("dogs.jpg", "bald_guys.jpg", "Tom_Cruise_avp_2014_4.jpg"):
        print(f"  {name}: {len(detector.detect(load_upright(folder / name)))} faces")


def threshold_sweep(folder: Path) -> None:
    """How the score threshold and the tiles trade recall against false positives on group photos."""
    truth = annotated_boxes(folder)
    images = {name: load_upright(folder / name) for name in [*truth, "dogs.jpg"]}
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7):
        for grid in (1, 2):
            detector = FaceDetector(device="cpu", score_threshold=threshold, tile_grid=grid)
            counts = np.array([match_counts(detector, images[name], boxes)
                               for name, boxes in truth.items()])
            dogs = len(detector.detect(images["dogs.jpg"]))
            annotated = sum(map(len, truth.values()))
            print(f"  threshold {threshold} tiles {grid}x{grid}: {counts[:, 0].sum()}/{annotated} found"
                  f", {counts[:, 1].sum()} false positives, {dogs} on dogs.jpg")


def ms_per_image(detector: FaceDetector, image: Image.Image, repeats: int = 10) -> float:
    detector.detect(image)
    start = time.perf_counter()
    for _ in range(repeats):
        detector.detect(image)
    return (time.perf_counter() - start) / repeats * 1000


def timing(options: dict) -> None:
    photo = load_upright(SHARED / "dlib-faces" / "2008_002470.jpg")
    sizes = {"500 px": photo.resize((500, round(500 * photo.height / photo.width))),
             "12 MP": photo.resize((4000, 3000))}
    for tiled in (True, False):
        detector = FaceDetector(device="cpu", threads=1, **{**options, "tile_grid": 2 if tiled else 1})
        for label, image in sizes.items():
            print(f"detection only, 1 thread, {'tiles' if tiled else 'no tiles'}: {label} "
                  f"({len(detector.views_for(*image.size))} views) {ms_per_image(detector, image):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="images per crop set (0: all)")
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--score-threshold", type=float, default=None)
    parser.add_argument("--pad-fraction", type=float, default=None)
    parser.add_argument("--tile-grid", type=int, default=None)
    parser.add_argument("--show-missed", type=int, default=5)
    parser.add_argument("--sweep", action="store_true", help="only the threshold sweep on group photos")
    parser.add_argument("--no-turned-look", action="store_true", help="without the last look, turned views")
    args = parser.parse_args()
    options = {key: value for key, value in (("score_threshold", args.score_threshold),
                                             ("pad_fraction", args.pad_fraction),
                                             ("tile_grid", args.tile_grid)) if value is not None}
    if args.no_turned_look:
        options["turned_look_degrees"] = ()
    print(f"options: {options or 'defaults'}")
    if args.sweep:
        threshold_sweep(SHARED / "dlib-faces")
        return
    for name in LABELLED_SETS:
        if not (set_root(name) / "val").is_dir():
            print(f"{name}: not built (../shared/data/README.md), skipped")
            continue
        paths = [path for path, _ in labelled_images(name, "val")]
        if args.limit:
            paths = paths[:: max(1, len(paths) // args.limit)][: args.limit]
        start = time.perf_counter()
        rate, missed = crop_detection_rate(paths, options, args.workers)
        elapsed = time.perf_counter() - start
        print(f"{name}: face found in {rate:.4%} of {len(paths)} images ({len(missed)} without), "
              f"{len(paths) / elapsed:.0f} images/s")
        for path in missed[: args.show_missed]:
            print(f"  no face: {path}")
    group_photo_recall(SHARED / "dlib-faces", FaceDetector(device="cpu", **options))
    timing(options)


if __name__ == "__main__":
    main()
