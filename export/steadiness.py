"""How steady the classifier's answer is when the face is found a little differently.

    python -m export.steadiness celeba fairface utkface allagefaces scut --per-set 400 [--model M]

On a sample of each val part, for every photo with a face: the eye keypoints moved by up to 2 px (each eye
its own random offset, four draws), the photo mirrored (found again from scratch), and the largest face as
`classify` finds it (coarse to fine) against every view at once (as `--faces all` finds it). Prints and
writes {out}/steadiness.json: the share of faces whose label changes, and the median |change in p_male|.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from export.common import LABELLED_SETS, labelled_images
from gendersort.faces.face import Face
from gendersort.models.classifier import CLASSIFIER_PATH
from gendersort.photos.imaging import load_upright
from gendersort.pipeline.analysis import FaceAnalyzer

EYE_SHIFT_PX = 2.0
DRAWS = 4


def shifted_eyes(face: Face, rng: np.random.Generator) -> Face:
    """The face with each eye keypoint moved in a random direction by up to EYE_SHIFT_PX."""
    angle = rng.uniform(0, 2 * np.pi, 2)
    radius = EYE_SHIFT_PX * np.sqrt(rng.uniform(0, 1, 2))
    keypoints = face.keypoints.copy()
    keypoints[:2] += np.stack([np.cos(angle), np.sin(angle)], axis=1) * radius[:, None]
    return replace(face, keypoints=keypoints)


class Probe:
    def __init__(self, model: Path) -> None:
        self.analyzer = FaceAnalyzer(device="cpu", threads=2, classifier_path=model)
        self.detector = self.analyzer.detector

    def p_male(self, image: Image.Image, faces: list[Face]) -> np.ndarray:
        return self.analyzer.classifier.p_male(self.analyzer.chips(image, faces))

    def measure(self, path: Path, rng: np.random.Generator) -> dict | None:
        image = load_upright(path)
        faces = self.detector.detect(image, main_only=True)
        if not faces:
            return None
        face = faces[0]
        p_shifted = self.p_male(image, [face, *(shifted_eyes(face, rng) for _ in range(DRAWS))])
        mirrored = ImageOps.mirror(image)
        mirror_faces = self.detector.detect(mirrored, main_only=True)
        every_view = self.detector.detect(image, main_only=False)
        return {
            "p": float(p_shifted[0]),
            "shift_dp": np.abs(p_shifted[1:] - p_shifted[0]).tolist(),
            "shift_flip": [bool((p >= 0.5) != (p_shifted[0] >= 0.5)) for p in p_shifted[1:]],
            "mirror_p": float(self.p_male(mirrored, mirror_faces[:1])[0]) if mirror_faces else None,
            "all_views_p": float(self.p_male(image, every_view[:1])[0]) if every_view else None,
        }


def summarise(rows: list[dict]) -> dict:
    def agreement(key: str) -> float:
        pairs = [(row["p"], row[key]) for row in rows if row[key] is not None]
        return float(np.mean([(a >= 0.5) == (b >= 0.5) for a, b in pairs])) if pairs else float("nan")

    return {
        "faces": len(rows),
        "eye_shift_label_changes": float(np.mean([flip for row in rows for flip in row["shift_flip"]])),
        "eye_shift_median_abs_dp": float(np.median([dp for row in rows for dp in row["shift_dp"]])),
        "mirror_same_label": agreement("mirror_p"),
        "coarse_to_fine_vs_all_views_same_label": agreement("all_views_p"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*", default=list(LABELLED_SETS))
    parser.add_argument("--per-set", type=int, default=400)
    parser.add_argument("--model", type=Path, default=CLASSIFIER_PATH)
    parser.add_argument("--out", type=Path, default=Path("build/eval"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    probe, rng = Probe(args.model), np.random.default_rng(args.seed)
    report, every_row = {"model": str(args.model)}, []
    for name in args.sets:
        items = labelled_images(name, "val")
        items = items[:: max(1, len(items) // args.per_set)][: args.per_set]
        rows = [row for path, _ in items if (row := probe.measure(path, rng)) is not None]
        report[name] = summarise(rows)
        every_row += rows
        print(name, json.dumps(report[name]), flush=True)
    report["all"] = summarise(every_row)
    print("all", json.dumps(report["all"]))
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.model.stem
    (args.out / f"steadiness-{stem}.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
