"""`gendersort evaluate --labels` on the labelled fixture: the real models, or an earlier run's CSV, JSONL or
Parquet, give the same figures; what is not scored is counted; bad input stops it before a model loads."""

from __future__ import annotations

import csv
import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gendersort.cli import app
from tests.conftest import FIXTURES

LABELS = FIXTURES / "labels.csv"
BY = ("--by", "source", "--by", "age:0,30")
PHOTOS = ("astronaut.png", "camera.png", "tilted_face.jpg", "chelsea.png")
RECORD_KEYS = {"group", "n", "correct", "accuracy", "ci95", "balanced_accuracy", "balanced_accuracy_ci95",
               "women", "women_n", "women_ci95", "men", "men_n", "men_ci95", "no_face", "unreadable",
               "too_small"}


def gendersort(*arguments: object):
    return CliRunner().invoke(app, [str(argument) for argument in arguments])


def models_loaded(stderr: str) -> bool:
    return bool(re.search(r"^device ", stderr, re.MULTILINE))


@pytest.fixture(scope="module")
def classified(tmp_path_factory) -> dict[str, Path]:
    """The fixtures folder classified once into each format (coffee.png, which has no label, too)."""
    folder = tmp_path_factory.mktemp("runs")
    outputs = {}
    for suffix in ("csv", "jsonl", *(["parquet"] if importlib.util.find_spec("pyarrow") else [])):
        outputs[suffix] = folder / f"results.{suffix}"
        result = gendersort("classify", FIXTURES, "--out", outputs[suffix], "--device", "cpu", "--quiet")
        assert result.exit_code == 0, result.output
    return outputs


@pytest.fixture(scope="module")
def by_the_models(tmp_path_factory) -> tuple[dict, str]:
    """The JSON and the printed table of a run that classifies the labelled photos itself."""
    out = tmp_path_factory.mktemp("audit") / "audit.json"
    result = gendersort("evaluate", "--labels", LABELS, *BY, "--json", out, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert models_loaded(result.stderr) and f"wrote {out}" in result.stderr
    return json.loads(out.read_text(encoding="utf-8")), result.stdout


def test_every_labelled_photo_is_scored_as_classify_labels_it(by_the_models, classified):
    document, printed = by_the_models
    with open(classified["csv"], encoding="utf-8") as stream:
        rows = {Path(row["path"]).name: row for row in csv.DictReader(stream)}
    truth = dict(zip(PHOTOS, ("female", "male", "male", "female"), strict=True))
    said_male = {name: rows[name]["status"] == "ok" and float(rows[name]["p_male"]) >= 0.5 for name in PHOTOS}
    right = {name: rows[name]["status"] == "ok" and said_male[name] == (truth[name] == "male")
             for name in PHOTOS}
    assert not right["chelsea.png"], "the cat has no face: counted wrong"

    overall = document["overall"]
    assert set(overall) >= RECORD_KEYS
    assert (overall["n"], overall["correct"], overall["no_face"], overall["unreadable"]) == (
        4, sum(right.values()), 1, 0)
    assert overall["accuracy"] == sum(right.values()) / 4
    assert overall["women"] == (right["astronaut.png"] + right["chelsea.png"]) / 2
    assert overall["balanced_accuracy"] == (overall["women"] + overall["men"]) / 2
    low, high = overall["ci95"]
    assert 0 <= low <= overall["accuracy"] <= high <= 1

    sources = {record["group"]: record for record in document["groups"]["source"]}
    assert list(sources) == ["fairface", "nasa", "skimage"]
    assert all(set(record) == RECORD_KEYS and record["too_small"] for record in sources.values())
    skimage = sources["skimage"]
    assert (skimage["n"], skimage["no_face"], skimage["women_n"]) == (2, 1, 1)
    assert sources["fairface"]["correct"] == right["tilted_face.jpg"]
    ages = [(record["group"], record["n"]) for record in document["groups"]["age"]]
    assert ages == [("0-29", 1), ("30+", 2), ("(blank)", 1)]
    assert document["worst"] == {"source": None, "age": None}, "every group is below 30 photos"
    assert document["model_versions"] == [rows["camera.png"]["model_version"]]

    assert re.search(r"^all +4  ", printed, re.MULTILINE)
    assert re.search(r"^by source: 3 groups; no group of 30 photos or more to rank$", printed, re.MULTILINE)
    assert re.search(r"^skimage\* +2  ", printed, re.MULTILINE), "small groups are flagged"
    assert "* too small to rank: fewer than 30 photos" in printed


def test_the_expected_accuracy_is_printed_and_written_beside_the_true_one(by_the_models, classified):
    """#25: per predicted label, the model's own estimate (the mean confidence) and the truth."""
    document, printed = by_the_models
    with open(classified["csv"], encoding="utf-8") as stream:
        rows = {Path(row["path"]).name: row for row in csv.DictReader(stream)}
    truth = dict(zip(PHOTOS, ("female", "male", "male", "female"), strict=True))
    checks = {check["label"]: check for check in document["expected_vs_true"]}
    for label in ("female", "male"):
        mine = [name for name in PHOTOS if rows[name]["label"] == label]
        confidence = sum(float(rows[name]["confidence"]) for name in mine) / len(mine)
        assert checks[label]["rows"] == len(mine)
        assert checks[label]["expected_accuracy"] == pytest.approx(confidence, abs=1e-4)
        assert checks[label]["true_accuracy"] == sum(truth[name] == label for name in mine) / len(mine)
        assert checks[label]["gap_points"] == pytest.approx(
            (checks[label]["expected_accuracy"] - checks[label]["true_accuracy"]) * 100, abs=1e-3)
        wrong = round(len(mine) * (1 - checks[label]["true_accuracy"]))
        assert re.search(rf"^  {label} {len(mine)}, expected {confidence:.1%} right: about [0-9.]+ wrong; "
                         rf"true {checks[label]['true_accuracy']:.1%}: {wrong} wrong$", printed, re.MULTILINE)
    assert checks["answered"]["rows"] == 3, "the cat has no face: no answer to expect anything of"


@pytest.mark.parametrize("suffix", ["csv", "jsonl", "parquet"])
def test_an_earlier_run_gives_the_same_figures_without_a_model(by_the_models, classified, tmp_path, suffix):
    if suffix == "parquet":
        pytest.importorskip("pyarrow", reason="needs pyarrow (pip install -e '.[parquet]')")
    out = tmp_path / "audit.json"
    result = gendersort("evaluate", "--labels", LABELS, *BY, "--results", classified[suffix], "--json", out)
    assert result.exit_code == 0, result.output
    assert not models_loaded(result.stderr)
    document = json.loads(out.read_text(encoding="utf-8"))
    expected = by_the_models[0]
    for key in ("overall", "groups", "worst", "model_versions", "unreadable", "expected_vs_true"):
        assert document[key] == expected[key], key
    assert document["unscored"]["results_without_label"] == [str(FIXTURES / "coffee.png")]
    assert "photos in the results without a label (not scored): 1, e.g. " in result.stdout


def test_rows_missing_or_doubled_in_the_results_are_counted_and_the_exit_is_2(classified, tmp_path):
    with open(classified["csv"], encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    kept = [row for row in rows if not row["path"].endswith("camera.png")]
    doubled = next(row for row in kept if row["path"].endswith("astronaut.png"))
    edited = tmp_path / "edited.csv"
    with open(edited, "w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, list(rows[0]))
        writer.writeheader()
        writer.writerows([*kept, doubled])
    out = tmp_path / "audit.json"
    result = gendersort("evaluate", "--labels", LABELS, "--results", edited, "--json", out)
    assert result.exit_code == 2, result.output
    unscored = json.loads(out.read_text(encoding="utf-8"))["unscored"]
    assert unscored["missing_from_results"] == [str(FIXTURES / "camera.png")]
    assert unscored["duplicate_results"] == [str(FIXTURES / "astronaut.png")]
    assert "labelled photos without a row in the results (not scored): 1" in result.stdout
    assert "photos with more than one row in the results (scored by the first): 1" in result.stdout
    assert json.loads(out.read_text(encoding="utf-8"))["overall"]["n"] == 3


def test_unreadable_and_missing_photos_count_wrong_and_the_run_goes_on(tmp_path):
    shutil.copy(FIXTURES / "astronaut.png", tmp_path / "astronaut.png")
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    labels = tmp_path / "labels.csv"
    labels.write_text("path,label\nastronaut.png,female\nbroken.jpg,male\ngone.jpg,female\n",
                      encoding="utf-8")
    wrong = tmp_path / "wrong.csv"
    result = gendersort("evaluate", "--labels", labels, "--misclassified", wrong, "--device", "cpu")
    assert result.exit_code == 2, result.output
    assert "no face: 0, unreadable: 2" in result.stdout
    said = f"photos that could not be read (counted wrong): 2, e.g. {tmp_path / 'broken.jpg'}: "
    assert said in result.stdout
    with open(wrong, encoding="utf-8") as stream:
        misses = {Path(row["path"]).name: (row["truth"], row["predicted"], row["p_male"])
                  for row in csv.DictReader(stream)}
    assert misses == {"broken.jpg": ("male", "unreadable", ""), "gone.jpg": ("female", "unreadable", "")}


def test_the_report_gets_a_plot_per_column_and_a_filter_by_group(classified, tmp_path):
    out = tmp_path / "audit.html"
    result = gendersort("evaluate", "--labels", LABELS, *BY, "--results", classified["csv"], "--report", out)
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    for column, groups in (("source", ["fairface", "nasa", "skimage"]), ("age", ["0-29", "30+", "(blank)"])):
        plot = re.search(rf'<svg class="group-plot" id="plot-{column}".*?</svg>', page, re.S).group(0)
        assert re.findall(r'data-group="([^"]*)"', plot) == groups
        assert f'<select class="group-filter" data-column="{column}">' in page
    data = json.loads(re.search(r'<script type="application/json" id="report-data">(.*?)</script>',
                                page, re.S).group(1))
    groups = {Path(row["path"]).name: row["groups"] for row in data["rows"]}
    assert groups == {"astronaut.png": {"source": "nasa", "age": "30+"},
                      "camera.png": {"source": "skimage", "age": "30+"},
                      "tilted_face.jpg": {"source": "fairface", "age": "0-29"},
                      "chelsea.png": {"source": "skimage", "age": "(blank)"}}
    assert [(Path(row["path"]).name, row["truth"]) for row in data["misclassified"]][0] == ("chelsea.png",
                                                                                          "female")


@pytest.mark.parametrize(("labels_text", "options", "message"), [
    ("file,label\nastronaut.png,female\n", [], "has no 'path' column (its columns: file, label)"),
    ("path,label\nastronaut.png,female\n", ["--by", "race"], "--by race: "),
    ("path,label\nastronaut.png,0\n", [], "--label-map 0=male"),
    ("path,label\nastronaut.png,female\n", ["--by", "age:x"], "edges must be numbers"),
    ("path,label\nastronaut.png,female\n", ["--label-map", "0=woman"], "write VALUE=male or VALUE=female"),
    ("path,label\nastronaut.png,female\n", ["--json", "{existing}"], "exists; add --overwrite"),
    ("path,label\nastronaut.png,female\n", ["--results", "/no/such/results.csv"], "no such file or folder"),
    ("path,label\nastronaut.png,female\n", ["{tree}"], "give DIR or --labels FILE, not both"),
])
def test_bad_input_is_a_clear_error_before_any_model_loads(tmp_path, labels_text, options, message):
    labels = tmp_path / "labels.csv"
    labels.write_text(labels_text, encoding="utf-8")
    (tmp_path / "existing.json").write_text("keep me")
    filled = [option.format(existing=tmp_path / "existing.json", tree=tmp_path) for option in options]
    result = gendersort("evaluate", "--labels", labels, *filled, "--device", "cpu")
    assert result.exit_code == 1, result.output
    assert message in " ".join(result.stderr.split()), result.stderr
    assert not models_loaded(result.stderr)
    assert (tmp_path / "existing.json").read_text() == "keep me"


def test_a_labelled_tree_and_a_labels_file_give_the_same_figures(tmp_path):
    """`evaluate DIR` reads the labels from the folders' names (in any case) and scores, prints and writes
    JSON as `evaluate --labels` does: on the same photos, the same figures, the cat without a face counted
    wrong by both (the model card's rule)."""
    tree = tmp_path / "tree"
    with open(LABELS, encoding="utf-8", newline="") as stream:
        for row in csv.DictReader(stream):
            folder = tree / {"male": "Male", "female": "FEMALE"}[row["label"].lower()]
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(FIXTURES / row["path"], folder / row["path"])
    by_tree = gendersort("evaluate", tree, "--json", tmp_path / "tree.json", "--device", "cpu", "--quiet")
    by_file = gendersort("evaluate", "--labels", LABELS, "--json", tmp_path / "file.json", "--device", "cpu",
                         "--quiet")
    assert by_tree.exit_code == by_file.exit_code == 0, by_tree.output + by_file.output
    tree_json, file_json = (json.loads((tmp_path / name).read_text(encoding="utf-8"))
                            for name in ("tree.json", "file.json"))
    assert tree_json.keys() == file_json.keys() and tree_json["labels"] == str(tree)
    assert tree_json["overall"] == file_json["overall"]
    assert (tree_json["overall"]["n"], tree_json["overall"]["no_face"]) == (len(PHOTOS), 1)

    def figures(printed: str) -> list[str]:
        """The printout less the misclassified photos' paths (one tree's, the other the fixtures')."""
        return [line for line in printed.splitlines() if not line.startswith("  ")]

    assert figures(by_tree.stdout) == figures(by_file.stdout)
    assert "misclassified: " in by_tree.stdout and "male as positive: precision" in by_tree.stdout


@pytest.mark.parametrize(("arguments", "message"), [
    (["evaluate"], "evaluate needs DIR (a male/ and female/ tree) or --labels FILE"),
    (["evaluate", ".", "--by", "race"],
     "--by, --results, --label-map, --path-column and --label-column go with --labels FILE"),
    (["evaluate", "--labels", "/no/such/labels.csv"], "/no/such/labels.csv: no such file or folder"),
])
def test_evaluate_says_which_input_it_needs(arguments, message):
    result = gendersort(*arguments)
    assert result.exit_code == 1
    assert message in result.stderr
