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

    def shifted(self, origin: tuple[float, float]) -> Face:
        """The same face in the pixels of a part of the image whose top-left corner lies at `origin`."""
        dx, dy = origin
        x0, y0, x1, y1 = self.box
        return Face((x0 - dx, y0 - dy, x1 - dx, y1 - dy), self.keypoints - np.array([dx, dy]), self.score)
