"""Cut and cache face chips with gendersort's own detector and aligner, so training sees the runtime's crops.

    python -m export.chips ../shared/data/celeba-gender --out build/chips [--splits train val] [--limit N]

Writes build/chips/{split}.npz with `chips` (N, S, S, 3) uint8, `labels` (N,) int (index into LABELS),
`paths` (N,). Images without a detected face are left out and counted (and listed in {split}.missed.txt).
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from gendersort.align import CHIP_GEOMETRY, align_face
from gendersort.detector import FaceDetector
from gendersort.imaging import load_upright
from gendersort.labels import LABELS

_detector: FaceDetector | None = None


def _init_worker() -> None:
    global _detector
    _detector = FaceDetector(device="cpu", threads=1)


def cut_chip(path: Path) -> np.ndarray | None:
    """The chip of the largest face, or None when no face is found: found as `gendersort classify` finds
    it by default (largest_only), so that the training chips are cut exactly as the main job cuts them."""
    assert _detector is not None
    image = load_upright(path)
    faces = _detector.detect(image, largest_only=True)
    return np.asarray(align_face(image, faces[0])) if faces else None


def labelled_paths(split_dir: Path) -> list[tuple[Path, int]]:
    return [(path, index) for index, label in enumerate(LABELS)
            for path in sorted((split_dir / label).glob("*.jpg"))]


def cache_split(split_dir: Path, out_file: Path, workers: int, limit: int) -> None:
    items = labelled_paths(split_dir)
    if limit:
        items = items[:: max(1, len(items) // limit)][:limit]
    start = time.perf_counter()
    with ProcessPoolExecutor(workers, initializer=_init_worker) as pool:
        chips = list(pool.map(cut_chip, [path for path, _ in items], chunksize=128))
    found = [i for i, chip in enumerate(chips) if chip is not None]
    missed = [str(items[i][0]) for i, chip in enumerate(chips) if chip is None]
    out_file.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out_file, chips=np.stack([chips[i] for i in found]),
             labels=np.array([items[i][1] for i in found], np.int64),
             paths=np.array([str(items[i][0]) for i in found]))
    out_file.with_suffix(".missed.txt").write_text("\n".join(missed) + "\n")
    elapsed = time.perf_counter() - start
    print(f"{split_dir.name}: {len(found)} chips of {len(items)} images, {len(missed)} without a face "
          f"({len(missed) / len(items):.3%}), {len(items) / elapsed:.0f} images/s -> {out_file}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="a labelled tree {split}/{female,male}/*.jpg")
    parser.add_argument("--out", type=Path, default=Path("build/chips"))
    parser.add_argument("--splits", nargs="+", default=["val", "train"])
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--limit", type=int, default=0, help="images per split (0: all)")
    args = parser.parse_args()
    print(f"chip geometry: {CHIP_GEOMETRY}", flush=True)
    for split in args.splits:
        cache_split(args.root / split, args.out / f"{split}.npz", args.workers, args.limit)


if __name__ == "__main__":
    main()
