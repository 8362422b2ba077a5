"""Which face is a photo's main face: the one that decides its row, its folder, its sentence.

"Largest" is not "main": in news photos the subject stands in the centre while a man beside her, cut by
the photo's edge, can have the larger box. A face's prominence is the area of its box that lies inside the
photo, weighted by the square of the share of the box inside (a face cut in half counts an eighth of its
size), down with its distance from the photo's centre, and by the detector's confidence. How the weights were
chosen, on composites made from val photos: benchmarks/main_face.py and docs/how-it-works.md, "The main face".
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from gendersort.faces.face import Face

# A face in a corner weighs (1 - CENTRE_WEIGHT) of the same face in the centre (distance measured in
# half-sides of the photo, so its corners are at 1).
CENTRE_WEIGHT = 0.5
# The share of the box inside the photo counts this many times over (besides the visible area itself).
INSIDE_POWER = 2.0


def inside_share(face: Face, size: tuple[int, int]) -> float:
    """The share of the face's box that lies inside a photo of `size` (width, height) pixels."""
    width, height = size
    x0, y0, x1, y1 = face.box
    inside_w = max(0.0, min(x1, width) - max(x0, 0.0))
    inside_h = max(0.0, min(y1, height) - max(y0, 0.0))
    return inside_w * inside_h / face.area if face.area > 0 else 0.0


def centre_distance(face: Face, size: tuple[int, int]) -> float:
    """How far the face's centre is from the photo's, 0 in the centre and 1 in a corner."""
    width, height = size
    centre_x, centre_y = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
    # plain floats: numpy's functions on single numbers cost more than the rest of the ordering
    dx = min(max((centre_x - width / 2) / (width / 2), -1.0), 1.0)
    dy = min(max((centre_y - height / 2) / (height / 2), -1.0), 1.0)
    return math.sqrt((dx * dx + dy * dy) / 2)


def prominence(face: Face, size: tuple[int, int], centre_weight: float = CENTRE_WEIGHT,
               inside_power: float = INSIDE_POWER) -> float:
    """The face's claim to be the photo's main face (larger is more prominent)."""
    inside = inside_share(face, size)
    visible_area = face.area * inside
    centred = 1.0 - centre_weight * centre_distance(face, size) ** 2
    return visible_area * inside**inside_power * centred * face.score


def by_prominence(faces: Sequence[Face], size: tuple[int, int]) -> list[Face]:
    """The faces, the main face first (ties keep the larger box first)."""
    return sorted(faces, key=lambda face: (prominence(face, size), face.area), reverse=True)
