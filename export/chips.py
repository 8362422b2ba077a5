"""Cut face chips from cached detections with gendersort's own aligner, so training sees the runtime's crops.

    python -m export.chips celeba fairface utkface allagefaces scut --detections build/detections \\
        --out build/chips/context [--eye-distance 0.34 --eye-y 0.40] [--margin 16]

Writes {out}/{set}-{split}.npz with `chips` (N, S + 2 margin, S + 2 margin, 3) uint8, `labels` (N,),
`paths` (N,) and `geometry` (JSON of the ChipGeometry), for the images where a face was found. The chip
carries `margin` pixels of real photo around the runtime's chip, at the same scale: the chip that
`gendersort classify` cuts is exactly its centre, and training can shift, scale and turn the window the
way a face found a pixel or two apart would (export/train.py) without showing black corners.

    python -m export.chips celeba fairface utkface allagefaces scut --splits val \
        --second-chip export/second_chip.json --out build/chips/second

cuts the second chip instead (Cydral's, as dlib cuts it: gendersort/faces/dlib_chip.py, described by
export.keypoint_map's JSON, kept as `second_chip` in the file), of the same faces in the same order.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from export.common import cache_arguments, missing_outputs, save_npz, set_stem
from gendersort.faces.align import CHIP_GEOMETRY, ChipGeometry, eye_targets, similarity_matrix, warp
from gendersort.faces.dlib_chip import dlib_chip
from gendersort.faces.face import Face
from gendersort.models.chip_inputs import DlibChipSpec
from gendersort.photos.imaging import load_upright


def margin_matrix(keypoints: np.ndarray, geometry: ChipGeometry, margin: int) -> np.ndarray:
    """The chip-to-photo matrix of the chip grown by `margin` pixels on every side, at the same scale."""
    matrix = similarity_matrix(keypoints[:2], eye_targets(geometry))
    matrix[:, 2] -= margin * (matrix[:, 0] + matrix[:, 1])
    return matrix


def cut_chip(job: tuple[str, np.ndarray, np.ndarray, ChipGeometry, int, DlibChipSpec | None]) -> np.ndarray:
    path, keypoints, box, geometry, margin, second = job
    image = load_upright(path)
    if second is not None:
        return dlib_chip(image, Face(tuple(box), keypoints, 1.0), second)
    side = geometry.size + 2 * margin
    return np.asarray(warp(image, margin_matrix(keypoints, geometry, margin), side))


def cut_split(detections: Path, out_file: Path, geometry: ChipGeometry, margin: int, workers: int,
              second: DlibChipSpec | None = None) -> None:
    with np.load(detections) as data:
        found = ~np.isnan(data["keypoints"][:, 0, 0])
        paths, labels = data["paths"][found], data["labels"][found]
        keypoints, boxes = data["keypoints"][found], data["boxes"][found]
    start = time.perf_counter()
    jobs = [(str(path), points.astype(np.float64), box.astype(np.float64), geometry, margin, second)
            for path, points, box in zip(paths, keypoints, boxes, strict=True)]
    with ProcessPoolExecutor(workers) as pool:
        chips = np.stack(list(pool.map(cut_chip, jobs, chunksize=256)))
    described = {"geometry": json.dumps(geometry.as_dict()), "margin": margin} if second is None else {
        "second_chip": second.to_json(), "margin": 0}
    save_npz(out_file, chips=chips, labels=labels, paths=paths, **described)
    print(f"{detections.stem}: {len(chips)} chips, {len(chips) / (time.perf_counter() - start):.0f}/s "
          f"-> {out_file}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cache_arguments(parser, "build/chips")
    parser.add_argument("--detections", type=Path, default=Path("build/detections"))
    parser.add_argument("--eye-distance", type=float, default=CHIP_GEOMETRY.eye_distance)
    parser.add_argument("--eye-y", type=float, default=CHIP_GEOMETRY.eye_y)
    parser.add_argument("--margin", type=int, default=16)
    parser.add_argument("--second-chip", type=Path, help="export.keypoint_map's JSON: cut the second chip")
    args = parser.parse_args()
    geometry = ChipGeometry(CHIP_GEOMETRY.size, args.eye_distance, args.eye_y)
    second = DlibChipSpec.from_json(args.second_chip.read_text()) if args.second_chip else None
    print(f"second chip: {second.size} px, padding {second.padding}, from {args.second_chip}" if second
          else f"chip geometry: {geometry}, margin {args.margin}", flush=True)
    for name, split, out_file in missing_outputs(args.out, args.sets, args.splits):
        cut_split(args.detections / f"{set_stem(name)}-{split}.npz", out_file, geometry, args.margin,
                  args.workers, second)


if __name__ == "__main__":
    main()
