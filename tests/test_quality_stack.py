"""A stack that knows the photo's quality (export/quality.py, export/stack.py's quality forms): the chip's
quality features say what they mean on real photos made greyscale, sepia and small, the graph computes
them as numpy does, and through the runtime the graph's p_male is the numpy stack's. Built from the
shipped stack's own members (no download, no build/); the shipped graph (v5) is checked against its own
numpy stack on real photos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
from PIL import Image

from export.degrade import face_thumbnail_factor, greyscale, sepia, thumbnail
from export.quality import quality_features
from export.stack import SetLogits, StackWeights, member_log_odds, mirrored_log_odds, stacked_p
from gendersort import classify_image
from gendersort.faces.align import eye_distance
from gendersort.photos.imaging import load_upright
from gendersort.pipeline.analysis import FaceAnalyzer
from tests.conftest import FIXTURES
from tests.test_models import two_input_stack

CPU = ["CPUExecutionProvider"]


def variants(path: Path) -> dict[str, Image.Image]:
    """A photo plain and as export/degrade.py changes it (the thumbnail sized by its face)."""
    photo = load_upright(path)
    face = FaceAnalyzer(device="cpu", threads=1).detector.detect(photo, main_only=True)[0]
    return {"plain": photo, "greyscale": greyscale(photo), "sepia": sepia(photo),
            "thumbnail": thumbnail(photo, face_thumbnail_factor(eye_distance(face)))}


def main_chips(analyzer: FaceAnalyzer, image: Image.Image):
    return analyzer.chips(image, analyzer.detector.detect(image, main_only=True)[:1])


def assert_runtime_is_numpy_stack(analyzer: FaceAnalyzer, member, cydral, weights: StackWeights) -> None:
    """On the photo plain, greyscale, sepia and as a thumbnail, the runtime's p_male is the numpy stack's
    on the chips the runtime cut, and the quality terms move it (four different answers)."""
    seen = set()
    for image in variants(FIXTURES / "tilted_face.jpg").values():
        chips = main_chips(analyzer, image)
        none = np.zeros(1, bool)
        part = SetLogits(none, member_log_odds(member, chips.aligned),
                         mirrored_log_odds(cydral, chips.second), none[:0],
                         quality=quality_features(chips.aligned))
        (face, *_) = classify_image(image, analyzer=analyzer)
        assert face.p_male == pytest.approx(float(stacked_p(part, weights)[0]), abs=1e-4)
        seen.add(round(face.p_male, 3))
    assert len(seen) == 4, "the quality terms move p_male"


def test_quality_features_tell_old_prints_and_thumbnails_from_good_photos():
    analyzer = FaceAnalyzer(device="cpu", threads=1)
    features = {kind: quality_features(main_chips(analyzer, image).aligned)
                for kind, image in variants(FIXTURES / "tilted_face.jpg").items()}
    assert features["plain"]["colourless"][0] == 0 and features["plain"]["blur"][0] == 0
    assert features["greyscale"]["colourless"][0] == 1
    assert features["sepia"]["colourless"][0] > 0.9
    assert features["thumbnail"]["blur"][0] > 0.4 and features["thumbnail"]["colourless"][0] < 0.1
    # a face 12 px between the eyes, in a greyscale photo: blurred and colourless as it comes
    tiny = quality_features(main_chips(analyzer, load_upright(FIXTURES / "camera.png")).aligned)
    assert tiny["blur"][0] == 1 and tiny["colourless"][0] == 1


def test_a_quality_graph_through_the_runtime_is_the_numpy_stack(tmp_path):
    """Weights of every quality term (no fit needed to test the arithmetic): the graph, run by gendersort
    on the photo plain, greyscale, sepia and as a thumbnail, gives the numpy stack's p_male on the chips the
    runtime cut."""
    weights = StackWeights(0.4, 0.8, 0.15, quality={
        "colourless": -0.5, "blur": -0.7, "member*colourless": -0.3, "member*blur": -0.4,
        "cydral*colourless": 0.05, "cydral*blur": -0.06})
    path, member_path, cydral, _ = two_input_stack(tmp_path, weights)
    metadata = onnxruntime.InferenceSession(str(path), providers=CPU).get_modelmeta().custom_metadata_map
    assert json.loads(metadata["stack"])["weights"]["quality"] == weights.quality
    analyzer = FaceAnalyzer(device="cpu", threads=1, classifier_path=path)
    member = onnxruntime.InferenceSession(member_path, providers=CPU)
    cydral_session = onnxruntime.InferenceSession(cydral, providers=CPU)
    assert_runtime_is_numpy_stack(analyzer, member, cydral_session, weights)


def test_the_shipped_graph_through_the_runtime_is_its_own_numpy_stack(tmp_path):
    """v5 as shipped: its members taken back out of the graph and its stack weights read from its metadata
    give, in numpy, the p_male the runtime gives on the photo plain, greyscale, sepia and as a thumbnail."""
    from export.stack_onnx import cydral_of_stack, member_of_stack
    from gendersort.models.registry import model_path

    shipped = model_path("default")
    analyzer = FaceAnalyzer(device="cpu", threads=1)
    metadata = analyzer.classifier.model.metadata
    assert analyzer.classifier.second_chip is not None, "v5 takes Cydral's own chip"
    weights = StackWeights(**json.loads(metadata["stack"])["weights"])
    assert set(weights.quality) == {"colourless", "blur"}
    member = onnxruntime.InferenceSession(str(member_of_stack(shipped, tmp_path)), providers=CPU)
    cydral = onnxruntime.InferenceSession(cydral_of_stack(shipped, tmp_path), providers=CPU)
    assert_runtime_is_numpy_stack(analyzer, member, cydral, weights)
