"""Aligned face chips: the one crop that both training and classification see.

A similarity transform (rotation, uniform scale, shift) puts the two eyes level, at a fixed distance
apart and centred left-right, at a fixed height, as the classifier's metadata says (models/chip_geometry.py).
A classifier whose graph takes a second chip (Cydral's, cut as dlib cuts it: dlib_chip.py) gets it from here
too, cut from the same decode of the photo in the same pass over its faces (face_chips).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from gendersort.faces.dlib_chip import dlib_chip, dlib_chip_box
from gendersort.faces.face import Face
from gendersort.models.chip_geometry import CHIP_GEOMETRY, ChipGeometry
from gendersort.models.chip_inputs import DlibChipSpec, FaceChips
from gendersort.photos.imaging import Box

FILL_COLOUR = (0, 0, 0)


def eye_targets(geometry: ChipGeometry = CHIP_GEOMETRY) -> np.ndarray:
    """Chip pixel positions of the image-left and image-right eye."""
    half = geometry.eye_distance * geometry.size / 2
    centre_x, eye_y = geometry.size / 2, geometry.eye_y * geometry.size
    return np.array([[centre_x - half, eye_y], [centre_x + half, eye_y]])


def similarity_matrix(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2x3 affine matrix (rotation, uniform scale, shift) mapping target points onto source points.

    `source` and `target` are two (x, y) points each; Image.transform wants output-to-input matrices,
    so target is in the output (chip) and source in the photo.
    """
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    source_vec, target_vec = source[1] - source[0], target[1] - target[0]
    # Complex division gives the rotation+scale taking target vectors onto source vectors.
    ratio = complex(*source_vec) / complex(*target_vec)
    linear = np.array([[ratio.real, -ratio.imag], [ratio.imag, ratio.real]])
    offset = source.mean(axis=0) - linear @ target.mean(axis=0)
    return np.hstack([linear, offset[:, None]])


def chip_to_image_matrix(face: Face, geometry: ChipGeometry = CHIP_GEOMETRY) -> np.ndarray:
    """The matrix mapping chip pixels to image pixels for this face's eyes."""
    return similarity_matrix(face.keypoints[:2], eye_targets(geometry))


def warp(image: Image.Image, matrix: np.ndarray, size: int) -> Image.Image:
    """A square of `size` pixels whose pixel (u, v) shows image point matrix @ (u, v, 1)."""
    return image.transform((size, size), Image.Transform.AFFINE, tuple(matrix.ravel()),
                           resample=Image.Resampling.BILINEAR, fillcolor=FILL_COLOUR)


def align_face(image: Image.Image, face: Face, geometry: ChipGeometry = CHIP_GEOMETRY,
               reduction: int = 1) -> Image.Image:
    """Cut the square, eyes-level chip of one face from an upright RGB image.

    `reduction` > 1: the image is the photo decoded at that fraction of the scale the face was found at.
    """
    return warp(image, chip_to_image_matrix(face, geometry) / reduction, geometry.size)


def eye_distance(face: Face) -> float:
    """How far apart the face's eyes are, in the pixels it was found in."""
    return float(np.linalg.norm(face.keypoints[1] - face.keypoints[0]))


def chips_box(face: Face, geometry: ChipGeometry = CHIP_GEOMETRY, second: DlibChipSpec | None = None,
              reduction: int = 1) -> Box:
    """The part of the photo (in the face's pixels) that face_chips reads for this face from a decode at
    1/reduction: its aligned chip's square, a pixel of that decode more for bilinear reading, and the
    second chip's."""
    side = geometry.size
    corners = np.array([[0, 0, 1], [side, 0, 1], [0, side, 1], [side, side, 1]])
    reached = corners @ chip_to_image_matrix(face, geometry).T
    (x0, y0), (x1, y1) = reached.min(axis=0) - reduction, reached.max(axis=0) + reduction
    if second is None:
        return x0, y0, x1, y1
    left, top, right, bottom = dlib_chip_box(face, second, reduction)
    return min(x0, left), min(y0, top), max(x1, right), max(y1, bottom)


def face_chips(image: Image.Image, faces: list[Face], geometry: ChipGeometry = CHIP_GEOMETRY,
               second: DlibChipSpec | None = None, reduction: int = 1) -> FaceChips:
    """Every chip the classifier takes for these faces of one decoded image (or of the image `reduction`
    times as large): the aligned chip and, when `second` describes one, the second chip."""
    chips = FaceChips.empty(len(faces), geometry, second)
    for index, face in enumerate(faces):
        chips.aligned[index] = np.asarray(align_face(image, face, geometry, reduction))
        if chips.second is not None and second is not None:
            chips.second[index] = dlib_chip(image, face, second, reduction)
    return chips
