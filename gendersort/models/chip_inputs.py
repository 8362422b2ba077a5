"""What a classifier takes for each face, as its metadata describes it: the aligned chip, and for a graph
with a second input the second chip (Cydral's, cut as dlib cuts it: faces/dlib_chip.py cuts it by
DlibChipSpec, faces/align.py cuts both in one pass into FaceChips).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from gendersort.models.chip_geometry import ChipGeometry


@dataclass(frozen=True)
class DlibChipSpec:
    """What the model's metadata says of its second chip.

    `template`: dlib's mean face, five (x, y) points in the unit square; `padding`: the margin added on
    every side, in units of that square; `keypoint_map`: (LANDMARKS * 2, features) weights giving the
    landmarks, in the eye frame, from `face_features`.
    """

    size: int
    padding: float
    template: tuple[tuple[float, float], ...]
    keypoint_map: tuple[tuple[float, ...], ...]

    @classmethod
    def from_json(cls, text: str) -> DlibChipSpec:
        fields = json.loads(text)
        return cls(int(fields["size"]), float(fields["padding"]),
                   tuple(tuple(point) for point in fields["template"]),
                   tuple(tuple(row) for row in fields["keypoint_map"]))

    def to_json(self) -> str:
        return json.dumps(asdict(self))



@dataclass(frozen=True)
class FaceChips:
    """The chips of some faces as the classifier takes them: the aligned chip of each, (N, S, S, 3) uint8,
    and, for a classifier that takes one, its second chip, (N, s, s, 3) uint8."""

    aligned: np.ndarray
    second: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.aligned)

    def __getitem__(self, index: slice) -> FaceChips:
        return FaceChips(self.aligned[index], None if self.second is None else self.second[index])

    @classmethod
    def empty(cls, count: int, geometry: ChipGeometry, second: DlibChipSpec | None) -> FaceChips:
        """Room for `count` faces' chips, filled in with `put`."""
        return cls(np.zeros((count, geometry.size, geometry.size, 3), np.uint8),
                   None if second is None else np.zeros((count, second.size, second.size, 3), np.uint8))

    def put(self, where: list[int], chips: FaceChips) -> None:
        self.aligned[where] = chips.aligned
        if self.second is not None and chips.second is not None:
            self.second[where] = chips.second

    @classmethod
    def concatenate(cls, parts: list[FaceChips]) -> FaceChips:
        seconds = [part.second for part in parts]
        return cls(np.concatenate([part.aligned for part in parts]),
                   None if any(second is None for second in seconds) else np.concatenate(seconds))
