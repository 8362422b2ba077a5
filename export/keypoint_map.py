"""Fit the map from gendersort's face (six keypoints and box) to dlib's five landmarks, for Cydral's chip.

    python -m export.keypoint_map --sets celeba fairface utkface allagefaces scut \\
        --out export/second_chip.json

On up to --limit photos of each val part, where both pipelines find the same face, dlib's 5-point shape
predictor (run by the peer's own pipeline, export/peer_faces.py, in its own virtualenv) gives the
landmarks. In the frame our eyes set (their midpoint at 0, the vector between them 1), each landmark's
coordinates are a linear function of our other keypoints and box corners there
(gendersort/faces/dlib_chip.py, face_features), fitted by least squares, once more without the worst-fitted
faces (where dlib's landmarks or ours missed). Every val part weighs the same. The JSON written is the
second chip's whole description (size, padding, dlib's mean face, the map): export.stack_onnx puts it in
the graph's metadata, and the runtime reads it from there.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from export.second_opinion import CYDRAL_SIZE, DLIB_MEAN_FACE, DLIB_PADDING, shared_faces
from gendersort.faces.dlib_chip import (
    DLIB_PIXEL_SHIFT,
    DlibChipSpec,
    eye_frame,
    face_features,
    predicted_landmarks,
)
from gendersort.faces.face import Face

SECOND_CHIP_JSON = Path(__file__).resolve().parent / "second_chip.json"
# The share of faces left out of the second fit: those the first fits worst.
TRIMMED = 0.05
RIDGE = 1e-3


@dataclass
class PartFaces:
    """One val part's faces both pipelines found: ours, dlib's landmarks (our pixel convention), and the
    peer's chip and answer."""

    name: str
    paths: np.ndarray
    faces: list[Face]
    landmarks: np.ndarray
    peer_chips: np.ndarray
    peer_p_male: np.ndarray


def part_faces(name: str, detections: Path, limit: int) -> PartFaces:
    paths, ours, peer = shared_faces(name, detections, limit)
    faces = [Face(tuple(float(value) for value in box), points.astype(np.float64), 1.0)
             for box, points in zip(ours["boxes"], ours["keypoints"], strict=True)]
    return PartFaces(name, paths, faces, peer["landmarks"].astype(np.float64) + DLIB_PIXEL_SHIFT,
                     peer["chips"], peer["p_male"])


def in_eye_frame(face: Face, landmarks: np.ndarray) -> np.ndarray:
    """Five landmarks in the face's eye frame, flattened as the map gives them (x's, then y's)."""
    origin, unit = eye_frame(face.keypoints)
    points = ((landmarks[:, 0] + 1j * landmarks[:, 1]) - origin) / unit
    return np.concatenate([points.real, points.imag])


def weighted_fit(features: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(targets, features) weights of the ridge-regularised weighted least-squares fit."""
    scaled = features * weights[:, None]
    gram = scaled.T @ features + RIDGE * np.eye(features.shape[1])
    return np.linalg.solve(gram, scaled.T @ targets).T


def fit_map(parts: list[PartFaces]) -> np.ndarray:
    """The keypoint map fitted on these parts, each weighing the same; refitted without the TRIMMED worst."""
    features = np.concatenate([[face_features(face) for face in part.faces] for part in parts])
    targets = np.concatenate([[in_eye_frame(face, marks) for face, marks in
                               zip(part.faces, part.landmarks, strict=True)] for part in parts])
    weights = np.concatenate([np.full(len(part.faces), 1 / len(part.faces)) for part in parts])
    weights /= weights.mean()
    matrix = weighted_fit(features, targets, weights)
    error = np.linalg.norm(targets - features @ matrix.T, axis=1)
    kept = error <= np.quantile(error, 1 - TRIMMED)
    return weighted_fit(features[kept], targets[kept], weights[kept])


def chip_spec(keypoint_map: np.ndarray) -> DlibChipSpec:
    return DlibChipSpec(CYDRAL_SIZE, DLIB_PADDING,
                        tuple(tuple(float(value) for value in point) for point in DLIB_MEAN_FACE),
                        tuple(tuple(float(value) for value in row) for row in keypoint_map))


def landmark_error(part: PartFaces, spec: DlibChipSpec) -> float:
    """Median distance between predicted and dlib's landmarks, in eye distances."""
    errors = [np.linalg.norm(predicted_landmarks(face, spec) - marks, axis=1).mean()
              / np.linalg.norm(face.keypoints[1] - face.keypoints[0])
              for face, marks in zip(part.faces, part.landmarks, strict=True)]
    return float(np.median(errors))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["celeba", "fairface", "utkface", "allagefaces", "scut"])
    parser.add_argument("--detections", type=Path, default=Path("build/detections"))
    parser.add_argument("--limit", type=int, default=1500, help="photos per val part, evenly spread")
    parser.add_argument("--out", type=Path, default=SECOND_CHIP_JSON)
    args = parser.parse_args()
    parts = [part_faces(name, args.detections, args.limit) for name in args.sets]
    spec = chip_spec(fit_map(parts))
    for part in parts:
        print(f"{part.name}: {len(part.faces)} faces, median landmark error {landmark_error(part, spec):.3f} "
              "eye distances (fitted here)")
    fitted_on = {part.name: len(part.faces) for part in parts}
    args.out.write_text(json.dumps({**json.loads(spec.to_json()), "fitted_on_faces": fitted_on}) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
