"""Sorting by how right the answers are likely to be (#25): `sort --results` places by an earlier run's rows
(no model), `sort --target-accuracy` by a threshold over the whole run; interrupted at any step, the rerun
ends where an uninterrupted run does, and no file is lost."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gendersort.cli import app
from gendersort.outputs.writers import read_rows, rewrite
from gendersort.pipeline.expected_accuracy import choose_threshold
from gendersort.sorting.job import MANIFEST_NAME, SortJob, read_manifest
from gendersort.wording import confidence_of
from tests.conftest import kill_midway

ONE_AT_A_TIME = ["--batch-size", "1", "--workers", "1", "--device", "cpu"]


def gendersort(*arguments: object):
    return CliRunner().invoke(app, [str(argument) for argument in arguments])


def copy_of(folder: Path, to: Path) -> Path:
    shutil.copytree(folder, to)
    return to


def sorted_tree(destination: Path) -> dict[str, str]:
    """Every file placed under DEST (manifest and its companions aside), with its SHA-256."""
    return {str(path.relative_to(destination)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in destination.rglob("*") if path.is_file() and not path.name.startswith("gendersort-")}


def placed_labels(destination: Path) -> dict[str, str]:
    manifest = read_manifest(destination / MANIFEST_NAME)
    return {Path(str(row["source"])).name: str(row["label"]) for row in manifest}


def test_sort_results_places_by_the_rows_without_loading_a_model(photos, tmp_path):
    results = tmp_path / "results.csv"
    assert gendersort("classify", photos, "--out", results, "--device", "cpu").exit_code == 0
    rows = read_rows(results, "csv")
    astronaut = next(row for row in rows if row["path"].endswith("astronaut.png"))
    assert astronaut["label"] == "female"
    astronaut["label"] = "male"  # the rows decide, not a model
    rewrite(results, "csv", rows)
    result = gendersort("sort", photos, tmp_path / "sorted", "--results", results)
    assert result.exit_code == 0, result.output
    assert not re.search(r"^device ", result.stderr, re.MULTILINE), "no model loaded"
    assert (tmp_path / "sorted" / "male" / "astronaut.png").is_file()
    assert (tmp_path / "sorted" / "unknown" / "chelsea.png").is_file()
    assert placed_labels(tmp_path / "sorted")["camera.png"] == next(
        row["label"] for row in rows if row["path"].endswith("camera.png"))


def test_photos_without_a_row_or_changed_since_stay_where_they_are(photos, tmp_path):
    results = tmp_path / "results.jsonl"
    assert gendersort("classify", photos, "--out", results, "--device", "cpu").exit_code == 0
    shutil.copy(photos / "chelsea.png", photos / "new.png")
    (photos / "astronaut.png").write_bytes((photos / "astronaut.png").read_bytes() + b"\0")
    result = gendersort("sort", photos, tmp_path / "sorted", "--results", results, "--move")
    assert result.exit_code == 2, result.output
    assert f"left in place: {photos / 'new.png'}: no row in {results}" in result.stderr
    assert f"left in place: {photos / 'astronaut.png'}: changed since {results} was written" in result.stderr
    assert sorted(path.name for path in photos.rglob("*.png")) == ["astronaut.png", "new.png"]


def test_results_of_other_photos_are_refused_before_anything_is_done(photos, tmp_path):
    results = tmp_path / "results.csv"
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(photos / "chelsea.png", other / "cat.png")
    assert gendersort("classify", other, "--out", results, "--device", "cpu").exit_code == 0
    result = gendersort("sort", photos, tmp_path / "sorted", "--results", results)
    assert result.exit_code == 1
    assert f"gendersort: error: {results} has a row for none of the 3 photos to sort" in result.stderr
    assert not (tmp_path / "sorted").exists()
    with_model = gendersort("sort", photos, tmp_path / "sorted", "--results", results, "--device", "cpu")
    assert with_model.exit_code == 1 and "no model runs: leave out --model, --device" in with_model.stderr
    missing = gendersort("sort", photos, tmp_path / "sorted", "--results", tmp_path / "none.csv")
    assert missing.exit_code == 1 and "none.csv" in missing.stderr


def test_sort_target_accuracy_places_the_rows_below_the_threshold_in_unknown(varied, tmp_path):
    source, destination = copy_of(varied, tmp_path / "photos"), tmp_path / "sorted"
    summary = tmp_path / "s.json"
    result = gendersort("sort", source, destination, "--target-accuracy", "0.9", "--summary", summary,
                        *ONE_AT_A_TIME)
    assert result.exit_code == 0, result.output
    manifest = read_manifest(destination / MANIFEST_NAME)
    answered = [row for row in manifest if row["status"] == "ok"]
    threshold = choose_threshold([confidence_of(float(row["p_male"])) for row in answered], 0.9)
    assert all((row["label"] == "unknown") == (confidence_of(float(row["p_male"])) < threshold.value)
               for row in answered)
    assert 0 < threshold.kept < len(answered)
    assert threshold.sentence() in result.stderr
    assert f"files in {destination} by folder (gendersort-manifest.accuracy.json):" in result.stderr
    accuracy = json.loads((destination / "gendersort-manifest.accuracy.json").read_text())["folders"]
    kept = [confidence_of(float(row["p_male"])) for row in answered if row["label"] == "male"]
    assert accuracy["male"]["rows"] == len(kept)
    assert accuracy["male"]["expected_accuracy"] == pytest.approx(sum(kept) / len(kept), abs=1e-6)
    document = json.loads(summary.read_text())
    assert document["rows"] == accuracy and document["target_accuracy"]["kept"] == threshold.kept
    assert document["by_status"] == {"ok": 36, "no_face": 2, "error": 0}
    assert not list(destination.glob("gendersort-manifest.classif*")), "the run's classification removed"
    assert list(source.iterdir()) != [], "copied, not moved"


def test_a_sort_interrupted_while_placing_ends_as_an_uninterrupted_one(varied, tmp_path):
    whole = tmp_path / "whole"
    assert gendersort("sort", copy_of(varied, tmp_path / "a"), whole, "--move", "--target-accuracy", "0.9",
                      *ONE_AT_A_TIME, "--quiet").exit_code == 0
    source, destination = copy_of(varied, tmp_path / "b"), tmp_path / "interrupted"
    job = SortJob(source, destination, mode="move", target_accuracy=0.9, batch_size=1, workers=1,
                  device="cpu")
    placing = job.run()
    for _ in range(10):
        next(placing)
    placing.close()  # stopped after 10 files: the journal and the run's classification stay
    assert (destination / "gendersort-manifest.classified.csv").exists()
    assert 0 < len(list(source.iterdir())) < 38

    rerun = gendersort("sort", source, destination, "--move", "--target-accuracy", "0.9", *ONE_AT_A_TIME)
    assert rerun.exit_code == 0, rerun.output
    assert list(source.iterdir()) == []
    assert sorted_tree(destination) == sorted_tree(whole), "the same folders, every photo once"
    assert placed_labels(destination) == placed_labels(whole)
    assert not (destination / "gendersort-manifest.classified.csv").exists()


def test_a_sort_killed_while_classifying_ends_as_an_uninterrupted_one(varied, tmp_path):
    whole = tmp_path / "whole"
    options = ["--move", "--target-accuracy", "0.9", *ONE_AT_A_TIME, "--quiet"]
    assert gendersort("sort", copy_of(varied, tmp_path / "a"), whole, *options).exit_code == 0
    source, destination = copy_of(varied, tmp_path / "b"), tmp_path / "killed"
    command = [sys.executable, "-m", "gendersort", "sort", str(source), str(destination), *options]
    kill_midway(command, destination / "gendersort-manifest.classifying.csv", lines=6)
    assert len(list(source.iterdir())) == 38, "nothing placed before every photo is classified"

    assert gendersort("sort", source, destination, *options).exit_code == 0
    assert list(source.iterdir()) == []
    assert sorted_tree(destination) == sorted_tree(whole)
    assert placed_labels(destination) == placed_labels(whole)


def test_a_dry_run_with_a_target_plans_and_writes_nothing(varied, tmp_path):
    destination = tmp_path / "sorted"
    result = gendersort("sort", varied, destination, "--dry-run", "--target-accuracy", "0.9", *ONE_AT_A_TIME)
    assert result.exit_code == 0, result.output
    plan = result.stdout.splitlines()
    assert len(plan) == 38 and sum("/unknown/" in line for line in plan) > 2
    assert "target accuracy 90.0%: threshold" in result.stderr
    assert not destination.exists()


@pytest.mark.parametrize("case", ["with --min-confidence", "summary exists", "a percentage"])
def test_bad_sort_command_lines_are_refused_before_any_model_loads(photos, tmp_path, case):
    (tmp_path / "s.json").write_text("{}")
    arguments, message = {
        "with --min-confidence": (["--target-accuracy", "0.9", "--min-confidence", "0.6"],
                                  "leave out --min-confidence"),
        "summary exists": (["--summary", tmp_path / "s.json"], "s.json exists; add --overwrite to replace"),
        "a percentage": (["--target-accuracy", "95"], "for 95%, give 0.95"),
    }[case]
    result = gendersort("sort", photos, tmp_path / "sorted", *arguments, "--device", "cpu")
    assert result.exit_code == 1 and message in " ".join(result.stderr.split()), result.output
    assert not re.search(r"^device ", result.stderr, re.MULTILINE)
    assert not (tmp_path / "sorted").exists()
