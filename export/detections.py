"""Find the face in every labelled training or validation image once, with gendersort's own detector.

    python -m export.detections celeba fairface utkface allagefaces scut --out build/detections

Writes build/detections/{set}-{split}.npz: `paths`, `labels` (index into LABELS), `keypoints` (N, 6, 2)
and `boxes` (N, 4) of the largest face, found as `gendersort classify` finds it by default, with NaN
where no face was found. Detection is the slow part of making chips (tens of milliseconds a photo, the
warp a fraction of one), so it runs once and every chip geometry (export/chips.py) is cut from this.
Already written files are kept: a killed run resumes with the next set.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from export.common import cache_arguments, labelled_images, missing_outputs, save_npz
from gendersort.faces.detector import DETECTOR_PATH, FaceDetector
from gendersort.photos.imaging import load_upright

_detector: FaceDetector | None = None


def _init_worker(detector_path: Path, quantized: bool) -> None:
    global _detector
    _detector = FaceDetector(device="cpu", threads=1, model_path=detector_path, quantized=quantized)


def largest_face(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The keypoints and box of the largest face (NaN when none is found), found as classify finds it."""
    assert _detector is not None
    faces = _detector.detect(load_upright(path), main_only=True)
    if not faces:
        return np.full((6, 2), np.nan, np.float32), np.full(4, np.nan, np.float32)
    return faces[0].keypoints.astype(np.float32), np.array(faces[0].box, np.float32)


def detect_split(name: str, split: str, out_file: Path, workers: int, detector: tuple[Path, bool]) -> None:
    items = labelled_images(name, split)
    start = time.perf_counter()
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=detector) as pool:
        found = list(pool.map(largest_face, [path for path, _ in items], chunksize=64))
    keypoints = np.stack([points for points, _ in found])
    save_npz(out_file, paths=np.array([str(path) for path, _ in items]),
             labels=np.array([label for _, label in items], np.int64),
             keypoints=keypoints, boxes=np.stack([box for _, box in found]))
    missed = int(np.isnan(keypoints[:, 0, 0]).sum())
    elapsed = time.perf_counter() - start
    print(f"{name} {split}: {len(items)} images, {missed} without a face ({missed / len(items):.2%}), "
          f"{len(items) / elapsed:.0f} images/s -> {out_file}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cache_arguments(parser, "build/detections")
    parser.add_argument("--detector", type=Path, default=DETECTOR_PATH, help="the face detector's ONNX graph")
    parser.add_argument("--float", action="store_true",
                        help="the float graph even where an int8 one lies beside it (the CPU's default)")
    args = parser.parse_args()
    for name, split, out_file in missing_outputs(args.out, args.sets, args.splits):
        detect_split(name, split, out_file, args.workers, (args.detector, not args.float))


if __name__ == "__main__":
    main()
