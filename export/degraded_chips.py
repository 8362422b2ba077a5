"""Both chips of the val photos degraded, cut as the runtime cuts them: what a stack is fitted on to know
the photo's quality.

    python -m export.degraded_chips celeba fairface utkface allagefaces scut \\
        --kinds greyscale sepia thumbnail --limit 1500 --model build/chip5/v5-chip.onnx --out build/q/chips

Each sampled photo (the photos `export.evaluate --degrade KIND --limit N` scores, export/degrade.py's kinds,
the whole photo changed first) is decoded, its main face found and both chips cut by gendersort's own
FaceAnalyzer, as `classify` would on that photo; the model only says which chips (its geometry and its
second chip). Writes {out}/{set}-{kind}.npz: every sampled photo's `paths` and `is_male`, `found` (a face
was found), and for the faces found `aligned` (N, S, S, 3) and `second` (N, s, s, 3) uint8 chips and
`eye_px`, the eye distance in the photo's pixels. The plain photos need no such step: their chips are
cached already (export.chips). A file already written is kept, so a killed run resumes.
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from export.common import save_npz
from export.degrade import KINDS
from export.evaluate import degraded, eye_distances, labelled_items, sampled
from gendersort.faces.align import eye_distance
from gendersort.photos.imaging import load_upright
from gendersort.pipeline.analysis import FaceAnalyzer

FaceCut = tuple[np.ndarray, np.ndarray, float] | None

_analyzer: FaceAnalyzer | None = None


def _init_worker(model: Path) -> None:
    global _analyzer
    _analyzer = FaceAnalyzer(device="cpu", threads=1, classifier_path=model)


def main_face_chips(job: tuple[str, str, float]) -> FaceCut:
    """The main face's aligned and second chips and its eye distance in the degraded photo, or None."""
    assert _analyzer is not None
    path, kind, eye_px = job
    image = degraded(load_upright(path), kind, eye_px)
    faces = _analyzer.detector.detect(image, main_only=True)
    if not faces:
        return None
    chips = _analyzer.chips(image, faces[:1])
    if chips.second is None:
        raise SystemExit("the model takes no second chip: give a two-input graph (--model)")
    return chips.aligned[0], chips.second[0], eye_distance(faces[0])


def cut_part(name: str, kind: str, args: argparse.Namespace, out_file: Path) -> None:
    items = sampled(labelled_items(name), args.limit)
    paths = [item["path"] for item in items]
    eyes = eye_distances(name, paths, args.detections)
    start = time.perf_counter()
    with ProcessPoolExecutor(args.workers, initializer=_init_worker, initargs=(args.model,)) as pool:
        cuts: list[FaceCut] = list(pool.map(main_face_chips, [(path, kind, eye) for path, eye in
                                                              zip(paths, eyes, strict=True)], chunksize=32))
    found = [cut for cut in cuts if cut is not None]
    save_npz(out_file, paths=np.array(paths), is_male=np.array([item["is_male"] for item in items]),
             found=np.array([cut is not None for cut in cuts]),
             aligned=np.stack([cut[0] for cut in found]), second=np.stack([cut[1] for cut in found]),
             eye_px=np.array([cut[2] for cut in found]))
    print(f"{name} {kind}: {len(found)} faces in {len(items)} photos, "
          f"{len(items) / (time.perf_counter() - start):.1f} photos/s -> {out_file}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--limit", type=int, default=1500)
    parser.add_argument("--model", type=Path, required=True, help="a two-input graph: which chips to cut")
    parser.add_argument("--detections", type=Path, default=Path("build/detections"))
    parser.add_argument("--out", type=Path, default=Path("build/q/chips"))
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    args = parser.parse_args()
    for kind in args.kinds:
        for name in args.sets:
            out_file = args.out / f"{name}-{kind}.npz"
            if not out_file.exists():
                cut_part(name, kind, args, out_file)


if __name__ == "__main__":
    main()
