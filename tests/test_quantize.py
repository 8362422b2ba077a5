"""The int8 graphs: made by export/quantize.py from real inputs, picked by the runtime on the CPU only, and
named in every row they classify (issue #26)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gendersort.faces.detector import DETECTOR_PATH, FaceDetector
from gendersort.faces.nms import iou
from gendersort.models.classifier import CLASSIFIER_PATH, GenderClassifier
from gendersort.models.session import OnnxModel, quantized_path
from gendersort.pipeline.analysis import INT8_DETECTOR, FaceAnalyzer, classifier_version
from gendersort.pipeline.api import classify_paths
from tests.conftest import FIXTURES, fixture_face_chips
from tests.export_steps import cut_chips, run_module

pytest.importorskip("onnx")  # export/ needs it (the train extra); the runtime does not


@pytest.fixture(scope="module")
def quantized(tmp_path_factory) -> Path:
    """The shipped float graphs copied into a folder, each with the int8 graph export/quantize.py makes of
    it beside it, calibrated on fixture photos (their chips, and the detector's views of them)."""
    work = tmp_path_factory.mktemp("int8")
    chips = cut_chips(work)
    models = work / "models"
    models.mkdir()
    second = run_module("export.chips", str(work / "data"), "--splits", "train", "--detections",
                        str(work / "detections"), "--second-chip", "export/second_chip.json", "--out",
                        str(work / "second"), "--workers", "1")
    assert "data-train: 6 chips" in second
    for kind, source in (("classifier", CLASSIFIER_PATH), ("detector", DETECTOR_PATH)):
        shutil.copy(source, models / source.name)
        made = run_module("export.quantize", kind, str(models / source.name), str(work / "data"),
                          "--chips", str(chips), "--second-chips", str(work / "second"), "--per-set", "6")
        assert f"{quantized_path(models / source.name)}:" in made and "-int8" in made
    return models


def test_the_cpu_runs_the_int8_graph_beside_the_float_one_and_says_so(quantized):
    on_cpu = OnnxModel(quantized / CLASSIFIER_PATH.name, device="cpu")
    assert on_cpu.path == quantized_path(quantized / CLASSIFIER_PATH.name)
    float_version = OnnxModel(CLASSIFIER_PATH, device="cpu", quantized=False).metadata["model_version"]
    assert on_cpu.metadata["model_version"] == f"{float_version}-int8"
    assert "calibration" in on_cpu.metadata["quantized"]
    asked_float = OnnxModel(quantized / CLASSIFIER_PATH.name, device="cpu", quantized=False)
    assert asked_float.path == quantized / CLASSIFIER_PATH.name
    assert asked_float.metadata["model_version"] == float_version


def test_the_int8_classifier_agrees_with_the_float_one_on_real_chips(quantized):
    chips = fixture_face_chips()
    float_p = GenderClassifier(device="cpu", model_path=quantized / CLASSIFIER_PATH.name,
                               quantized=False).p_male(chips)
    int8_p = GenderClassifier(device="cpu", model_path=quantized / CLASSIFIER_PATH.name).p_male(chips)
    assert np.array_equal(float_p >= 0.5, int8_p >= 0.5)
    # calibrated on 6 fixture chips only: v4's int8 graph moved p_male by < 0.1 here, v5's (quality terms,
    # the member's log-odds weighing 1.03) by up to 0.2; the val parts' figures are docs/benchmarks.md's
    assert np.abs(float_p - int8_p).max() < 0.25
    assert not np.array_equal(float_p, int8_p), "the int8 graph ran, not the float one"


def test_the_int8_detector_finds_the_faces_the_float_one_finds(quantized):
    float_detector = FaceDetector(device="cpu", model_path=quantized / DETECTOR_PATH.name, quantized=False)
    int8_detector = FaceDetector(device="cpu", model_path=quantized / DETECTOR_PATH.name)
    assert int8_detector.model.path == quantized_path(quantized / DETECTOR_PATH.name)
    for name in ("astronaut.png", "camera.png", "tilted_face.jpg", "chelsea.png", "coffee.png"):
        image = Image.open(FIXTURES / name).convert("RGB")
        found = [detector.detect(image, main_only=True) for detector in (float_detector, int8_detector)]
        assert len(found[0]) == len(found[1]), name
        for float_face, int8_face in zip(*found, strict=True):
            assert iou(np.array(float_face.box), np.array([int8_face.box]))[0] > 0.8, name


def test_every_row_says_which_graphs_ran(quantized):
    """The int8 classifier marks its version (-int8); the int8 detector marks the run's (+int8-detector):
    other faces make other rows, so a resumed run redoes rows of the other graphs."""
    int8 = FaceAnalyzer(device="cpu", classifier_path=quantized / CLASSIFIER_PATH.name,
                        detector_path=quantized / DETECTOR_PATH.name)
    floats = FaceAnalyzer(device="cpu", classifier_path=quantized / CLASSIFIER_PATH.name,
                          detector_path=quantized / DETECTOR_PATH.name, quantized=False)
    assert floats.version == floats.classifier.version and not floats.detector.model.int8
    assert int8.version == f"{floats.version}-int8{INT8_DETECTOR}"
    assert classifier_version(int8.version) == int8.classifier.version
    (row,) = classify_paths([FIXTURES / "astronaut.png"], analyzer=int8)
    assert row.model_version == int8.version
