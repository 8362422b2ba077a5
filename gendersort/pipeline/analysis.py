"""Detect, align and classify: from one upright photo to its faces with a probability of 'male' each."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from gendersort.faces.align import chips_box, face_chips
from gendersort.faces.detector import DETECTOR_PATH, FaceDetector
from gendersort.faces.face import Face
from gendersort.models.chip_inputs import FaceChips
from gendersort.models.classifier import CLASSIFIER_PATH, GenderClassifier
from gendersort.photos.imaging import Box

# Added to the classifier's version in every row when the detector that found the faces was its int8 graph
# (export/quantize.py; the CPU runs it where it lies beside the float one): other faces, other rows.
INT8_DETECTOR = "+int8-detector"


@dataclass(frozen=True)
class FaceResult:
    face: Face
    p_male: float


class FaceAnalyzer:
    """The two models together, created once and reused for every photo."""

    def __init__(self, device: str = "auto", threads: int | None = None,
                 classifier_path: Path = CLASSIFIER_PATH, detector_path: Path = DETECTOR_PATH,
                 quantized: bool = True) -> None:
        self.detector = FaceDetector(device=device, threads=threads, model_path=detector_path,
                                     quantized=quantized)
        self.classifier = GenderClassifier(device=device, threads=threads, model_path=classifier_path,
                                           quantized=quantized)

    @property
    def version(self) -> str:
        """What every row's model_version says: the classifier's version, and which detector graph ran."""
        return run_version(self.classifier, self.detector)

    def chips(self, image: Image.Image, faces: list[Face], reduction: int = 1) -> FaceChips:
        """The chips the classifier takes of faces found in an image (or in the image `reduction` times as
        large)."""
        return face_chips(image, faces, self.classifier.geometry, self.classifier.second_chip, reduction)

    def chips_box(self, faces: list[Face], reduction: int) -> Box:
        """The part of a photo (in the faces' pixels) that `chips` reads for these faces from a decode at
        1/reduction."""
        boxes = np.array([chips_box(face, self.classifier.geometry, self.classifier.second_chip, reduction)
                          for face in faces])
        return (*boxes[:, :2].min(axis=0).tolist(), *boxes[:, 2:].max(axis=0).tolist())

    def analyze(self, image: Image.Image, main_only: bool = False) -> list[FaceResult]:
        """The faces in an upright RGB image, the main face first, each with its probability of 'male'.

        `main_only`: the detector may stop once it has the main face (see faces/detector.py).
        """
        faces = self.detector.detect(image, main_only)
        p_male = self.classifier.p_male(self.chips(image, faces))
        return [FaceResult(face, float(p)) for face, p in zip(faces, p_male, strict=True)]

    def p_male_per_image(self, chip_sets: list[FaceChips]) -> list[np.ndarray]:
        """Classify the chips of several photos in one onnxruntime batch; one array of p_male per photo."""
        if not chip_sets:
            return []
        p_male = self.classifier.p_male(FaceChips.concatenate(chip_sets))
        return np.split(p_male, np.cumsum([len(chips) for chips in chip_sets])[:-1])


def run_version(classifier: GenderClassifier, detector: FaceDetector) -> str:
    """The model_version of rows made with these two models (FaceAnalyzer.version)."""
    return classifier.version + (INT8_DETECTOR if detector.model.int8 else "")


def classifier_version(model_version: str) -> str:
    """The classifier's own version in a row's model_version (run_version's mark taken off)."""
    return model_version.removesuffix(INT8_DETECTOR)
