"""Face chips: the documented size, and the eyes exactly where CHIP_GEOMETRY puts them."""

from __future__ import annotations

import numpy as np
from PIL import Image

from gendersort.faces.align import CHIP_GEOMETRY, align_face, chip_to_image_matrix, eye_targets
from gendersort.faces.face import Face


def synthetic_face(left_eye, right_eye) -> Face:
    keypoints = np.zeros((6, 2))
    keypoints[0], keypoints[1] = left_eye, right_eye
    return Face((0.0, 0.0, 1.0, 1.0), keypoints, 1.0)


def test_chip_has_the_documented_size(detector, astronaut):
    face = detector.detect(astronaut)[0]
    chip = align_face(astronaut, face)
    assert chip.size == (CHIP_GEOMETRY.size, CHIP_GEOMETRY.size)
    assert chip.mode == "RGB"


def test_eyes_land_where_the_geometry_says():
    """Paint two dots as 'eyes' on a tilted axis; after alignment they sit level at the targets."""
    image = Image.new("RGB", (400, 300))
    left, right = np.array([150.0, 170.0]), np.array([230.0, 130.0])
    pixels = np.asarray(image).copy()
    for x, y in (left, right):
        pixels[int(y) - 4:int(y) + 5, int(x) - 4:int(x) + 5] = 255  # still a few pixels once scaled down
    chip = np.asarray(align_face(Image.fromarray(pixels), synthetic_face(left, right)))
    bright = chip[..., 0] > 100
    ys, xs = np.nonzero(bright)
    targets = eye_targets()
    for target in targets:
        near = (np.abs(xs - target[0]) < 6) & (np.abs(ys - target[1]) < 6)
        assert near.sum() > 4, f"no eye dot near {target}"
        assert abs(xs[near].mean() - target[0]) < 1.5 and abs(ys[near].mean() - target[1]) < 1.5


def test_matrix_maps_eye_targets_onto_the_eyes():
    left, right = np.array([10.0, 50.0]), np.array([60.0, 20.0])
    matrix = chip_to_image_matrix(synthetic_face(left, right))
    for target, eye in zip(eye_targets(), (left, right), strict=True):
        assert np.allclose(matrix @ np.append(target, 1.0), eye)


def test_real_chip_puts_the_astronauts_eyes_level(detector, astronaut):
    face = detector.detect(astronaut)[0]
    chip = align_face(astronaut, face)
    again = detector.detect(chip)
    assert len(again) == 1
    eyes = again[0].keypoints[:2]
    assert abs(eyes[0][1] - eyes[1][1]) < 0.05 * CHIP_GEOMETRY.size
