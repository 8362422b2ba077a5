"""The chip's geometry: where the eyes land in the square a face is cut to. It is the classifier's metadata:
the export writes it into the ONNX file, classifier.py reads it back, faces/align.py cuts by it.

CHIP_GEOMETRY is the only place these numbers live; the runtime checks that the model's metadata agrees.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ChipGeometry:
    """Where the eyes land in a square chip of `size` pixels (fractions of the side).

    Eyes 0.34 of the side apart at 0.40 of its height: the chip shows hair, ears and chin, which real
    photos show and gender is read from; v2's tight chip (0.42, 0.42: brow to chin, cheek to cheek, the
    shape of CelebA's crops) lost to it under the choosing rule (MODEL_CARD.md, "Choosing"). 112 px keeps
    the classifier as fast as before.
    """

    size: int = 112
    eye_distance: float = 0.34
    eye_y: float = 0.40

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


CHIP_GEOMETRY = ChipGeometry()
