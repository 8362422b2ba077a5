"""The two shipped classifiers (`--model default|open`, models/registry.py): each agrees with its own
metadata, every command and the Python API run the one named, `--resume` redoes the other model's rows, and
an unknown name is a usage error before any model loads. Nothing here depends on either model's accuracy:
rows are held against the same model run through the Python API, versions against the files' metadata."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import onnxruntime
import pytest

from gendersort import classify_image, classify_paths
from gendersort.errors import BadOptionError
from gendersort.labels import LABELS
from gendersort.models.chip_geometry import ChipGeometry
from gendersort.models.chip_inputs import DlibChipSpec, FaceChips
from gendersort.models.classifier import GenderClassifier
from gendersort.models.registry import MODELS, model_path
from gendersort.photos.imaging import load_upright
from gendersort.pipeline.analysis import FaceAnalyzer
from gendersort.pipeline.api import shared_analyzer
from gendersort.review.sentences import describe
from tests.conftest import FIXTURES
from tests.test_cli import gendersort, labelled_tree

OPEN = ("--model", "open", "--device", "cpu")


def metadata(path: Path) -> dict[str, str]:
    """The model's metadata as onnxruntime reads it, apart from gendersort's own reading of it."""
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return dict(session.get_modelmeta().custom_metadata_map)


@pytest.fixture(scope="module")
def open_version(open_model) -> str:
    return metadata(open_model)["model_version"]


def api_rows(paths: list[Path], model: str) -> list[dict[str, object]]:
    """The rows the Python API gives, by the model named: what the command's rows are held against."""
    return [row for result in classify_paths(paths, device="cpu", model=model) for row in result.rows()]


@pytest.mark.parametrize("name", MODELS)
def test_each_model_loads_and_agrees_with_its_own_metadata(name, request):
    if name == "open":
        request.getfixturevalue("open_model")
    path = model_path(name)
    meta = metadata(path)
    classifier = GenderClassifier(device="cpu", threads=1, model_path=path)

    assert classifier.version == meta["model_version"] != ""
    assert classifier.geometry == ChipGeometry(**json.loads(meta["chip_geometry"]))
    size = int(meta["input_size"])
    assert classifier.geometry.size == size
    chip_input, *second_input = classifier.model.session.get_inputs()
    assert chip_input.type == "tensor(uint8)" and chip_input.shape[1:] == [size, size, 3]
    if second_input:  # a graph that takes Cydral's chip too says in its metadata how to cut it
        second = DlibChipSpec.from_json(meta["second_chip"])
        assert classifier.second_chip == second
        assert second_input[0].type == "tensor(uint8)"
        assert second_input[0].shape[1:] == [second.size, second.size, 3]
    labels = json.loads(meta["labels"])
    assert sorted(labels) == sorted(LABELS) and classifier.male_index == labels.index("male")
    assert classifier.terms == meta["license"] and "\n" not in meta["license"] and len(meta["license"]) > 20
    # a real face's chip, cut as the model's geometry says, and a batch of blank chips
    analyzer = FaceAnalyzer(device="cpu", threads=1, classifier_path=path)
    astronaut = load_upright(FIXTURES / "astronaut.png")
    chips = FaceChips.concatenate([analyzer.chips(astronaut, analyzer.detector.detect(astronaut)),
                                   FaceChips.empty(2, classifier.geometry, classifier.second_chip)])
    p_male = classifier.p_male(chips)
    assert p_male.shape == (3,) and np.all((p_male >= 0) & (p_male <= 1))


def test_the_two_models_differ_in_version_and_terms(open_model, open_version):
    default = metadata(model_path("default"))
    assert open_version != default["model_version"], "resume tells the models apart by their version"
    terms = metadata(open_model)["license"]
    assert "commercial use allowed" in terms and "FairFace" in terms and "CC BY 4.0" in terms, terms
    assert "CC0" in terms, terms
    assert "non-commercial" in default["license"], default["license"]


def test_info_lists_both_models_with_their_terms(open_model, open_version):
    result = gendersort("info", "--device", "cpu")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    for name in MODELS:
        meta = metadata(model_path(name))
        size = meta["input_size"]
        heading = (f"gender classifier {name}: {model_path(name).name}, version {meta['model_version']}, "
                   f"input {size}x{size}")
        assert lines[lines.index(heading) + 1] == f"  terms: {meta['license']}"
    assert "device cpu: CPUExecutionProvider" in lines


def test_the_python_api_runs_the_model_named(open_model, open_version):
    assert shared_analyzer("cpu", model="open").classifier.version == open_version
    assert {row["model_version"] for row in api_rows([FIXTURES / "astronaut.png"], "open")} == {open_version}
    image = load_upright(FIXTURES / "astronaut.png")
    by_name = classify_image(image, device="cpu", model="open")
    assert by_name and by_name == classify_image(image, analyzer=FaceAnalyzer(device="cpu",
                                                                              classifier_path=open_model))
    with pytest.raises(BadOptionError, match="unknown model 'closed'; choose one of default, open"):
        classify_image(image, model="closed")


def test_classify_with_the_open_model_and_resume_redoes_the_other_models_rows(photos, tmp_path, open_version):
    out = tmp_path / "r.jsonl"
    assert gendersort("classify", photos, "--out", out, "--device", "cpu").exit_code == 0
    default_version = GenderClassifier(device="cpu").version
    assert {json.loads(line)["model_version"] for line in out.read_text().splitlines()} == {default_version}

    switched = gendersort("classify", photos, "--out", out, "--resume", *OPEN)
    assert switched.exit_code == 0, switched.output
    assert "already done" not in switched.stderr, "the default model's rows are not the open model's"
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows == api_rows([photos], "open"), "every row redone by the open model, none twice"
    assert {row["model_version"] for row in rows} == {open_version}

    again = gendersort("classify", photos, "--out", out, "--resume", *OPEN)
    assert again.exit_code == 0 and f"3 files already done in {out}" in again.stderr, again.stderr
    back = gendersort("classify", photos, "--out", out, "--resume", "--device", "cpu")
    assert back.exit_code == 0 and "already done" not in back.stderr, back.stderr


def test_sort_predict_and_evaluate_run_the_open_model(photos, tmp_path, open_version):
    expected = {Path(str(row["path"])).name: row for row in api_rows([photos], "open")}

    sorted_run = gendersort("sort", photos, tmp_path / "sorted", *OPEN)
    assert sorted_run.exit_code == 0, sorted_run.output
    with open(tmp_path / "sorted" / "gendersort-manifest.csv", encoding="utf-8") as stream:
        manifest = {Path(row["source"]).name: row for row in csv.DictReader(stream)}
    for name, row in expected.items():
        assert Path(manifest[name]["destination"]).relative_to(tmp_path / "sorted").parts[0] == row["label"]
        assert manifest[name]["p_male"] == ("" if row["p_male"] is None else str(row["p_male"]))

    predicted = gendersort("predict", photos, *OPEN)
    assert predicted.exit_code == 0, predicted.output
    results = classify_paths([photos], faces="all", device="cpu", model="open")
    assert predicted.stdout.splitlines() == [line for result in results for line in describe(result)]

    tree = labelled_tree(tmp_path / "labelled")
    evaluated = gendersort("evaluate", tree, *OPEN)
    assert evaluated.exit_code == 0, evaluated.output
    assert f"model {open_version}" in evaluated.stdout
    rows = api_rows([tree], "open")
    misses = [row for row in rows if row["status"] != "ok" or
              (row["label"] == "male") != (Path(str(row["path"])).parent.name == "male")]
    assert f"misclassified: {len(misses)} " in evaluated.stdout

    audit = tmp_path / "audit.json"
    by_labels = gendersort("evaluate", "--labels", FIXTURES / "labels.csv", "--json", audit, *OPEN)
    assert by_labels.exit_code == 0, by_labels.output
    assert f"model {open_version}" in by_labels.stdout
    assert json.loads(audit.read_text(encoding="utf-8"))["model_versions"] == [open_version]


@pytest.mark.parametrize("command", [
    ["classify", "{photos}", "--out", "{out}"],
    ["classify", "{photos}", "--engine", "ray", "--out", "{out}"],
    ["sort", "{photos}", "{out}"],
    ["predict", "{photos}"],
    ["evaluate", "{photos}"],
    ["evaluate", "--labels", str(FIXTURES / "labels.csv")],
    ["view", "{photos}"],
], ids=lambda command: " ".join(part for part in command[:3] if not part.startswith(("{", "/"))))
def test_an_unknown_model_is_a_usage_error_before_any_model_loads(photos, tmp_path, command):
    out = tmp_path / "out"
    arguments = [part.format(photos=photos, out=out) for part in command]
    result = gendersort(*arguments, "--model", "closed", "--device", "cpu")
    assert result.exit_code == 1, result.output
    message = " ".join(result.stderr.split())
    assert "Invalid value for '--model': 'closed' is not one of 'default', 'open'." in message, message
    assert not re.search(r"^device ", result.stderr, re.MULTILINE), "no model loaded"
    assert result.stdout == "" and not out.exists()


def two_input_stack(folder: Path, weights) -> tuple[Path, Path, bytes, DlibChipSpec]:
    """v5's shape, built from the shipped stack's own two members (no download, no build/) with these
    stack weights (export.stack.StackWeights): the graph, its MobileNetV2 member's graph, Cydral's network
    and the second chip's description."""
    import onnx

    from export.keypoint_map import SECOND_CHIP_JSON
    from export.stack_onnx import cydral_of_stack, member_of_stack, stack_metadata, stacked_graph

    shipped = model_path("default")
    member_path = member_of_stack(shipped, folder)
    cydral = cydral_of_stack(shipped, folder)
    spec = DlibChipSpec.from_json(SECOND_CHIP_JSON.read_text())
    member = onnx.load(member_path)
    graph = stacked_graph(member, onnx.load_from_string(cydral), spec, weights, LABELS.index("male"))
    report = {"second_chip": json.loads(spec.to_json()), "weights": weights.as_dict(), "sets": [],
              "per_set": {}}
    onnx.helper.set_model_props(graph, stack_metadata(member, report, "test-v5"))
    path = folder / "v5.onnx"
    onnx.save(graph, path)
    return path, member_path, cydral, spec


def test_a_graph_that_takes_the_second_chip_cuts_it_as_its_metadata_says(tmp_path):
    """v5's shape, built here from the shipped stack's own two members (no download, no build/): a graph
    taking Cydral's chip as a second input, which the runtime cuts as the graph's metadata says. It loads,
    the aligner cuts both chips in one pass, every photo goes through the batch pipeline with both, and the
    graph's p_male is the numpy stack's on those chips."""
    from export.stack import StackWeights, member_log_odds, mirrored_log_odds
    from gendersort.photos.walk import find_images
    from gendersort.pipeline.api import classify_files
    from gendersort.pipeline.results import ERROR

    weights = StackWeights(**json.loads(metadata(model_path("default"))["stack"])["weights"])
    path, member_path, cydral, spec = two_input_stack(tmp_path, weights)

    analyzer = FaceAnalyzer(device="cpu", threads=1, classifier_path=path)
    assert analyzer.classifier.second_chip == spec
    astronaut = load_upright(FIXTURES / "astronaut.png")
    chips = analyzer.chips(astronaut, analyzer.detector.detect(astronaut))
    assert chips.second is not None and chips.second.shape == (1, spec.size, spec.size, 3)
    cpu = ["CPUExecutionProvider"]
    log_odds = (weights.bias
                + weights.member * member_log_odds(onnxruntime.InferenceSession(member_path, providers=cpu),
                                                   chips.aligned)
                + weights.cydral * mirrored_log_odds(onnxruntime.InferenceSession(cydral, providers=cpu),
                                                     chips.second))
    (face,) = classify_image(astronaut, analyzer=analyzer)
    assert abs(face.p_male - 1 / (1 + np.exp(-log_odds[0]))) < 1e-4
    with pytest.raises(ValueError, match="second chip"):
        analyzer.classifier.p_male(chips.aligned)
    results = list(classify_files(find_images([FIXTURES]), analyzer=analyzer, faces="all", workers=2))
    assert len(results) == len(list(FIXTURES.glob("*.png"))) + len(list(FIXTURES.glob("*.jpg")))
    by_name = {Path(result.path).name: result for result in results}
    assert by_name["astronaut.png"].predictions[0].p_male == pytest.approx(face.p_male, abs=1e-5)
    assert all(result.status != ERROR for result in results)
