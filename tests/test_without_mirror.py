"""The classifier without its mirror pass (export/without_mirror.py): what measures that pass's price and
worth (issue #26, docs/benchmarks.md)."""

from __future__ import annotations

import numpy as np
import pytest

from gendersort.models.chip_inputs import FaceChips
from gendersort.models.classifier import CLASSIFIER_PATH, GenderClassifier
from tests.conftest import fixture_face_chips
from tests.export_steps import run_module

onnx = pytest.importorskip("onnx")  # export/ needs it (the train extra); the runtime does not


def test_the_graph_without_the_mirror_pass_runs_the_chip_alone(tmp_path):
    from export.without_mirror import MIRROR_SCOPE

    made = tmp_path / "no-mirror.onnx"
    run_module("export.without_mirror", str(CLASSIFIER_PATH), "--out", str(made))
    nodes = onnx.load(str(made)).graph.node
    assert not any(MIRROR_SCOPE in node.name for node in nodes), "the mirrored chip's pass is gone"
    assert len(nodes) < len(onnx.load(str(CLASSIFIER_PATH)).graph.node)
    whole = GenderClassifier(device="cpu", quantized=False)
    single = GenderClassifier(device="cpu", model_path=made)
    assert single.version == f"{whole.version}-no-mirror"
    chips = fixture_face_chips()
    mirrored = FaceChips(np.ascontiguousarray(chips.aligned[:, :, ::-1]), chips.second)
    # The whole graph averages the chip with its mirror image: mirroring the chip changes nothing. One pass
    # sees the chip as it is, so mirroring it moves p_male; the two stay close (the passes mostly agree).
    assert np.allclose(whole.p_male(mirrored), whole.p_male(chips), atol=1e-5)
    assert not np.allclose(single.p_male(mirrored), single.p_male(chips), atol=1e-4)
    assert np.abs(single.p_male(chips) - whole.p_male(chips)).max() < 0.15


def test_a_graph_without_a_mirror_pass_is_refused(tmp_path):
    from export.without_mirror import without_mirror

    once = without_mirror(onnx.load(str(CLASSIFIER_PATH)))
    onnx.save(once, str(tmp_path / "once.onnx"))
    with pytest.raises(SystemExit, match="no mirror pass"):
        without_mirror(onnx.load(str(tmp_path / "once.onnx")))
