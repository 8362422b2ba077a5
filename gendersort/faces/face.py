"""The face record passed between detection, alignment and classification."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Face:
    """A detected face in the pixel coordinates of the upright image.

    `box` is (x0, y0, x1, y1); `keypoints` is a (6, 2) array in the detector's order: the eye on the
    image's left, the eye on the image's right, nose tip, mouth, left tragion, right tragion.
    """

    box: tuple[float, float, float, float]
    keypoints: np.ndarray
    score: float

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def area(self) -> float:
        return self.width * self.height
