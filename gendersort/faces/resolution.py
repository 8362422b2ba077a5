"""How many pixels each step needs: the coarsest JPEG DCT scale for detection, and for a face chip.

Decoding a 12-megapixel JPEG costs more than detecting and classifying its faces, and most of that cost
is pixels nobody looks at: the detector sees the photo through 192 px views, and a face chip is 112 px.
Pillow's draft mode inverts the DCT at 1/2, 1/4 or 1/8 scale instead, for a fraction of the cost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gendersort.faces.align import eye_distance
from gendersort.faces.detector import FaceDetector
from gendersort.faces.face import Face
from gendersort.models.chip_geometry import ChipGeometry

DCT_REDUCTIONS = (8, 4, 2, 1)
# Decoded pixels per detector input pixel, at the least, in the smallest view (a tile of a large photo):
# the view is always a downscale of real pixels, with room to spare for antialiasing. Per 12-megapixel
# photo, 1 costs more CPU (a 1/8 decode leaves most largest faces too small for their chip, so most
# photos are decoded twice) and so does 4 (a 1/2 decode makes rendering the views dearer than it saves).
VIEW_DETAIL = 2.0


def coarsest_reduction(enough: Callable[[int], bool]) -> int:
    """The largest DCT reduction that is still enough (1, a full decode, when none is)."""
    return next((reduction for reduction in DCT_REDUCTIONS if enough(reduction)), 1)


def detection_reduction(detector: FaceDetector, size: tuple[int, int]) -> int:
    """The coarsest scale that keeps every detector view of a photo this size sharp."""
    smallest_view = min(view.side for view in detector.views_for(*size))
    needed = VIEW_DETAIL * detector.input_size
    return coarsest_reduction(lambda reduction: smallest_view / reduction >= needed)


def chip_reduction(faces: Sequence[Face], geometry: ChipGeometry) -> int:
    """The coarsest scale at which every face's eyes are at least as far apart as in its chip.

    Coarser than that, the chip would be an enlargement of pixels a finer decode has in full.
    """
    if not faces:
        return DCT_REDUCTIONS[0]
    closest = min(eye_distance(face) for face in faces)
    chip_eyes = geometry.eye_distance * geometry.size
    return coarsest_reduction(lambda reduction: closest / reduction >= chip_eyes)
