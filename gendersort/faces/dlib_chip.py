"""The second chip: the small square a network trained on dlib's face chips sees, cut as dlib cuts it.

Cydral's gender network (the stack's second member) learnt from chips dlib cut around five landmarks (two
corners of each eye, the base of the nose): get_face_chip_details fits dlib's mean face, padded, onto them
by least squares (rotation, scale, shift), and extract_image_chip shrinks the photo through a 5-tap
Gaussian pyramid, halving it while the chip's square still covers more than the chip's pixels after a
halving, then reads the chip bilinearly, truncating to bytes, black outside. A 32 px network reads a face
from a handful of pixels, so this module repeats those steps, to the pixel, in numpy.

gendersort has no dlib landmarks: a small linear map, fitted at export time against dlib's shape predictor
and shipped in the model's metadata (`second_chip`), predicts them from the detector's six keypoints and
box in a frame set by the eyes. Nothing here imports dlib.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from gendersort.faces.face import Face
from gendersort.models.chip_inputs import DlibChipSpec
from gendersort.photos.imaging import Box

# Pixel centres: ours lie at +0.5 (the detector's), dlib's at integers.
DLIB_PIXEL_SHIFT = 0.5
LANDMARKS = 5


def eye_frame(keypoints: np.ndarray) -> tuple[complex, complex]:
    """(origin, unit) of the face's frame as complex numbers: the eyes' midpoint and the vector from the
    image-left eye to the image-right one (so the eyes lie at -0.5 and +0.5)."""
    left, right = complex(*keypoints[0]), complex(*keypoints[1])
    return (left + right) / 2, right - left


def face_features(face: Face) -> np.ndarray:
    """What the map reads: a 1, then the detector's nose, mouth, ears and three box corners (the fourth
    follows from them) in the eye frame, x's then y's."""
    origin, unit = eye_frame(face.keypoints)
    x0, y0, x1, y1 = face.box
    points = np.array([complex(*point) for point in face.keypoints[2:]]
                      + [complex(x0, y0), complex(x1, y0), complex(x0, y1)])
    in_frame = (points - origin) / unit
    return np.concatenate([[1.0], in_frame.real, in_frame.imag])


def predicted_landmarks(face: Face, spec: DlibChipSpec) -> np.ndarray:
    """dlib's five landmarks (5, 2) for this face, in its pixel coordinates (centres at +0.5, as ours)."""
    origin, unit = eye_frame(face.keypoints)
    flat = np.asarray(spec.keypoint_map) @ face_features(face)
    points = origin + unit * (flat[:LANDMARKS] + 1j * flat[LANDMARKS:])
    return np.stack([points.real, points.imag], axis=1)


@dataclass(frozen=True)
class ChipDetails:
    """dlib's chip_details: the chip's rectangle in the photo (l, t, r, b; inclusive, as drectangle), the
    rectangle's turn about its centre, and the chip's side."""

    rect: tuple[float, float, float, float]
    angle: float
    size: int


def chip_details(landmarks: np.ndarray, spec: DlibChipSpec) -> ChipDetails:
    """get_face_chip_details: the padded mean face fitted onto dlib-convention landmarks by least squares."""
    size = spec.size
    template = (spec.padding + np.asarray(spec.template)) / (2 * spec.padding + 1) * size
    source = template[:, 0] + 1j * template[:, 1]
    target = landmarks[:, 0] + 1j * landmarks[:, 1]
    source_mean, target_mean = source.mean(), target.mean()
    linear = np.sum(np.conj(source - source_mean) * (target - target_mean)) / np.sum(
        np.abs(source - source_mean) ** 2)
    centre = linear * complex(size / 2, size / 2) + target_mean - linear * source_mean
    half = (size * abs(linear) - 1) / 2  # centered_drect
    rect = (centre.real - half, centre.imag - half, centre.real + half, centre.imag + half)
    return ChipDetails(rect, math.atan2(linear.imag, linear.real), size)


def rect_down(rect: tuple[float, ...]) -> tuple[float, float, float, float]:
    """pyramid_down<2>::rect_down: where a rectangle lies after one halving, as dlib reckons it."""
    left, top, right, bottom = rect
    return (left / 2 - 1.25, top / 2 - 0.75, right / 2 - 1.25, bottom / 2 - 0.75)


def rect_area(rect: tuple[float, ...]) -> float:
    """drectangle::area (inclusive: a side is right - left + 1)."""
    width, height = rect[2] - rect[0] + 1, rect[3] - rect[1] + 1
    return 0.0 if width <= 0 or height <= 0 else width * height


def rotated_corners(rect: tuple[float, ...], angle: float) -> np.ndarray:
    """The rectangle's corners tl, tr, bl, br turned by `angle` about its centre (rotate_point), (4, 2)."""
    left, top, right, bottom = rect
    centre = complex((left + right) / 2, (top + bottom) / 2)
    corners = np.array([complex(left, top), complex(right, top), complex(left, bottom),
                        complex(right, bottom)])
    turned = (corners - centre) * complex(math.cos(angle), math.sin(angle)) + centre
    return np.stack([turned.real, turned.imag], axis=1)


def pyramid_down(image: np.ndarray) -> np.ndarray:
    """dlib's pyramid_down<2> on an RGB image: a [1 4 6 4 1] filter each way, every other pixel kept, the
    sum (at most 16 * 16 * 255, so 16 bits hold it, as in dlib) floored after dividing by 256;
    (rows - 3) // 2 by (columns - 3) // 2 out.

    The sums are exact integers, so their order is free: rows first, whole rows being contiguous (1.7x
    as fast as columns first, the same bytes), and in place where numpy allows.
    """
    rows, columns = image.shape[:2]
    if rows <= 8 or columns <= 8:
        return np.zeros((0, 0, 3), np.uint8)
    out_rows, out_columns = (rows - 3) // 2, (columns - 3) // 2
    pixels = image.astype(np.uint16)
    down = taps(pixels[0::2], pixels[1::2], out_rows)
    across = taps(down[:, 0::2], down[:, 1::2], out_columns, axis=1)
    across >>= 8
    return across.astype(np.uint8)


def taps(even: np.ndarray, odd: np.ndarray, count: int, axis: int = 0) -> np.ndarray:
    """One pass of [1 4 6 4 1] along `axis`, at every other position: `count` sums e0 + 4 o0 + 6 e1 +
    4 o1 + e2 from the even and odd lines."""
    def lines(array: np.ndarray, start: int) -> np.ndarray:
        return array[start:start + count] if axis == 0 else array[:, start:start + count]

    total = lines(even, 0) + lines(even, 2)
    total += lines(even, 1) * np.uint16(6)
    pair = lines(odd, 0) + lines(odd, 1)
    pair <<= 2
    total += pair
    return total


def bilinear(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """interpolate_bilinear at points (x, y): truncated to bytes, black where a neighbour is outside."""
    height, width = image.shape[:2]
    if height < 2 or width < 2:  # no pixel has the neighbours it needs
        return np.zeros((*x.shape, 3), np.uint8)
    left, top = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    inside = (left >= 0) & (top >= 0) & (left + 1 < width) & (top + 1 < height)
    at = np.where(inside, top * width + left, 0)
    top_left, top_right, bottom_left, bottom_right = image.reshape(-1, 3)[
        np.stack([at, at + 1, at + width, at + width + 1])].astype(np.float64)
    across, down = (x - left)[..., None], (y - top)[..., None]
    value = ((1 - down) * ((1 - across) * top_left + across * top_right)
             + down * ((1 - across) * bottom_left + across * bottom_right))
    return np.where(inside[..., None], value, 0).astype(np.uint8)


def read_bounds(details: ChipDetails) -> tuple[float, float, float, float]:
    """What extract_image_chip reads of the image: the turned rectangle grown by the pyramid's border (left,
    top, right, bottom; before clipping to the image)."""
    shrunk, grow = rect_down(details.rect), 2.0
    while rect_area(shrunk) > details.size * details.size:
        shrunk, grow = rect_down(shrunk), grow * 2 + 2
    corners = rotated_corners(details.rect, details.angle)
    return (corners[:, 0].min() - grow, corners[:, 1].min() - grow, corners[:, 0].max() + grow,
            corners[:, 1].max() + grow)


def extract_chip(image: Image.Image, details: ChipDetails) -> np.ndarray:
    """extract_image_chip for one chip: the (size, size, 3) uint8 chip of an RGB image."""
    size, angle = details.size, details.angle
    left, top, right, bottom = read_bounds(details)
    # clipped to the image, rounded (lround)
    bounds = (max(left, 0.0), max(top, 0.0), min(right, image.width - 1.0), min(bottom, image.height - 1.0))
    left, top, right, bottom = (int(math.floor(value + 0.5)) for value in bounds)
    if right < left or bottom < top:
        return np.zeros((size, size, 3), np.uint8)
    level = np.asarray(image.crop((left, top, right + 1, bottom + 1)).convert("RGB"))
    rect = (details.rect[0] - left, details.rect[1] - top, details.rect[2] - left, details.rect[3] - top)
    while rect_area(rect_down(rect)) > size * size:
        level, rect = pyramid_down(level), rect_down(rect)
    tl, tr, bl, _ = rotated_corners(rect, angle)
    steps = np.arange(size) / (size - 1)
    points = tl + steps[None, :, None] * (tr - tl) + steps[:, None, None] * (bl - tl)  # (row, column, xy)
    return bilinear(level, points[..., 0], points[..., 1])


def details_at(face: Face, spec: DlibChipSpec, reduction: int) -> ChipDetails:
    """The second chip's details in the pixels of a decode at 1/reduction (dlib's convention)."""
    return chip_details(predicted_landmarks(face, spec) / reduction - DLIB_PIXEL_SHIFT, spec)


def dlib_chip(image: Image.Image, face: Face, spec: DlibChipSpec, reduction: int = 1) -> np.ndarray:
    """The second chip of one face from an upright RGB image (or that image `reduction` times as large,
    in whose pixels the face was found)."""
    return extract_chip(image, details_at(face, spec, reduction))


def dlib_chip_box(face: Face, spec: DlibChipSpec, reduction: int = 1) -> Box:
    """The part of the photo (in the face's pixels) that dlib_chip reads from a decode at 1/reduction."""
    left, top, right, bottom = read_bounds(details_at(face, spec, reduction))
    # dlib's pixel centres at integers, pixels read whole
    return ((left - 1) * reduction, (top - 1) * reduction, (right + 2) * reduction, (bottom + 2) * reduction)
