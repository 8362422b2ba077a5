"""Runs that say how right they are (#25): expected accuracy per label, --target-accuracy's threshold (and
that a killed run resumed ends as an uninterrupted one), --summary and --metrics, and the bad command
lines refused before any model loads."""

from __future__ import annotations

import json
import math
import re
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gendersort.cli import app
from gendersort.errors import BadOptionError
from gendersort.outputs.writers import read_output, read_rows
from gendersort.pipeline.expected_accuracy import (
    ExpectedAccuracy,
    check_target,
    choose_threshold,
    trade_off,
)
from gendersort.review.evaluation.calibration import expected_vs_true, target_check
from gendersort.review.evaluation.scoring import Scored
from gendersort.wording import confidence_of
from tests.conftest import FIXTURES, interrupt_midway, kill_midway

# One photo at a time through the classifier: every run, killed or not, gives each photo the same p_male.
ONE_AT_A_TIME = ["--batch-size", "1", "--workers", "1", "--device", "cpu"]
SAMPLE = re.compile(r'^gendersort_[a-z_]+\{([a-z_]+="(?:[^"\\]|\\.)*",?)*\} -?[0-9.e+-]+$')


def gendersort(*arguments: object):
    return CliRunner().invoke(app, [str(argument) for argument in arguments])


def test_expected_accuracy_per_label_is_the_mean_confidence():
    expected = ExpectedAccuracy.of([("male", 0.9), ("male", 0.7), ("female", 0.2), ("unknown", 0.55),
                                    ("unknown", None), ("male", None)])
    male, female, unknown = (expected.labels[label] for label in ("male", "female", "unknown"))
    assert (male.rows, female.rows, unknown.rows) == (2, 1, 3), "a row without a p_male has no answer"
    assert male.share == pytest.approx(0.8) and male.wrong == pytest.approx(0.4)
    assert female.share == pytest.approx(0.8) and female.wrong == pytest.approx(0.2)
    assert unknown.share is None and unknown.wrong is None
    assert expected.sentences() == ["female 1, expected 80.0% right: about 0.2 wrong",
                                    "male 2, expected 80.0% right: about 0.4 wrong", "unknown 3"]
    many = ExpectedAccuracy.of([("female", 0.022)] * 412)
    assert many.sentences()[0] == "female 412, expected 97.8% right: about 9 wrong"


def test_the_threshold_is_the_lowest_whose_kept_rows_reach_the_target():
    confidences = [0.99, 0.97, 0.95, 0.9, 0.8, 0.6]
    # means of the most confident: .99, .98, .97, .9525, .922, .8683
    assert choose_threshold(confidences, 0.95).value == 0.9
    assert choose_threshold(confidences, 0.95).kept == 4
    assert choose_threshold(confidences, 0.95).expected == pytest.approx(0.9525)
    assert choose_threshold(confidences, 0.86).kept == 6
    assert choose_threshold(confidences, 0.975).value == 0.97
    none = choose_threshold(confidences, 0.995)
    assert (none.value, none.kept, none.answered) == (None, 0, 6)
    assert none.label(0.999) == "unknown"
    assert none.sentence() == ("target accuracy 99.5%: no set of rows reaches it; all 6 rows with a face "
                               "labelled unknown")
    assert choose_threshold([], 0.9).sentence() == "target accuracy 90.0%: no row with a face to keep"


def test_a_threshold_keeps_every_row_of_its_confidence_or_none():
    """Ties: .99 then two .98: keeping the first .98 alone would reach .985, but a threshold cannot."""
    threshold = choose_threshold([0.99, 0.98, 0.98], 0.985)
    assert (threshold.value, threshold.kept) == (0.99, 1)
    points = trade_off([0.98, 0.99, 0.98])
    assert [(point.threshold, point.kept) for point in points] == [(0.99, 1), (0.98, 3)]
    assert choose_threshold([0.99] * 7, 0.99).kept == 7, "a sum that is not exact still reaches the target"


def test_labels_by_the_threshold():
    threshold = choose_threshold([0.95, 0.7], 0.9)
    assert [threshold.label(p) for p in (0.96, 0.04, 0.5, 0.3, 0.95)] == [
        "male", "female", "unknown", "unknown", "male"]


@pytest.mark.parametrize("target", [0.5, 1.0, 1.5, 0.0, 99.0])
def test_a_target_outside_half_and_one_is_refused(target):
    with pytest.raises(BadOptionError, match="between 0.5 and 1"):
        check_target(target)


def test_expected_against_true_on_labelled_photos():
    scored = Scored.of([True, True, False, False, True, False],
                       [0.9, 0.8, 0.3, 0.6, math.nan, 0.1])
    checks = {check.estimate.label: check for check in expected_vs_true(scored)}
    assert checks["male"].estimate.rows == 3 and checks["male"].estimate.share == pytest.approx(0.7667, 1e-3)
    assert checks["male"].true == pytest.approx(2 / 3), "a no-face photo is no answer"
    assert checks["female"].estimate.share == pytest.approx(0.8) and checks["female"].true == 1.0
    assert checks["answered"].estimate.rows == 5 and checks["answered"].true == pytest.approx(0.8)
    assert checks["male"].gap == pytest.approx((0.7667 - 2 / 3) * 100, 1e-2)
    assert checks["female"].sentence() == ("female 2, expected 80.0% right: about 0.4 wrong; true 100.0%: "
                                           "0 wrong")
    kept = target_check(scored, 0.85)
    assert (kept.threshold.value, kept.threshold.kept, kept.photos) == (0.8, 3, 6)
    assert kept.true == pytest.approx(1.0)


def classified(out: Path) -> list[dict]:
    return read_output(out)


def test_classify_target_accuracy_labels_only_the_rows_it_keeps(varied, tmp_path):
    out = tmp_path / "results.jsonl"
    result = gendersort("classify", varied, "--out", out, "--target-accuracy", "0.9", *ONE_AT_A_TIME)
    assert result.exit_code == 0, result.output
    rows = classified(out)
    answers = [row for row in rows if row["status"] == "ok"]
    confidences = [confidence_of(row["p_male"]) for row in answers]
    threshold = choose_threshold(confidences, 0.9)
    kept = [row for row in answers if row["label"] != "unknown"]
    assert 0 < len(kept) < len(answers), "the photos' confidences spread across the threshold"
    assert all((confidence_of(row["p_male"]) >= threshold.value) == (row["label"] != "unknown")
               for row in answers)
    assert np.mean([confidence_of(row["p_male"]) for row in kept]) >= 0.9
    assert all(row["label"] == ("male" if row["p_male"] >= 0.5 else "female") for row in kept)
    line = (f"target accuracy 90.0%: threshold {threshold.value:.4f}, kept {len(kept)} of {len(answers)} "
            "rows with a face")
    assert line in result.stderr
    assert f"rows in {out} by label:" in result.stderr
    assert result.stderr.splitlines()[-1] == f"wrote {out}"


def test_a_killed_run_resumed_with_target_accuracy_ends_as_an_uninterrupted_one(varied, tmp_path):
    whole, killed = tmp_path / "whole.csv", tmp_path / "killed.csv"
    options = ["--target-accuracy", "0.9", *ONE_AT_A_TIME, "--quiet"]
    assert gendersort("classify", varied, "--out", whole, *options).exit_code == 0
    command = [sys.executable, "-m", "gendersort", "classify", str(varied), "--out", str(killed), *options]
    kill_midway(command, killed, lines=8)
    before = read_rows(killed, "csv")
    assert 6 <= len(before) < len(read_rows(whole, "csv")), "killed midway"
    assert all(row["label"] != "unknown" for row in before if row["status"] == "ok"), "not yet relabelled"

    resumed = gendersort("classify", varied, "--out", killed, *options, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert killed.read_bytes() == whole.read_bytes()
    assert not (tmp_path / "killed.csv.lock").exists()
    assert any(row["label"] == "unknown" and row["p_male"] for row in read_rows(whole, "csv"))


def test_parquet_is_relabelled_as_csv_is(varied, tmp_path):
    pytest.importorskip("pyarrow", reason="needs the parquet extra")
    options = ["--target-accuracy", "0.85", *ONE_AT_A_TIME, "--quiet", "--rows-per-file", "5"]
    assert gendersort("classify", varied, "--out", tmp_path / "r.csv", *options).exit_code == 0
    assert gendersort("classify", varied, "--out", tmp_path / "r.parquet", *options).exit_code == 0
    labels = {row["path"]: row["label"] for row in classified(tmp_path / "r.csv")}
    assert {row["path"]: row["label"] for row in classified(tmp_path / "r.parquet")} == labels
    assert len(list((tmp_path / "r.parquet").glob("part-*.parquet"))) == 8, "every part still in place"
    assert "unknown" in {labels[str(path)] for path in varied.glob("*_blur4*")}


def metric_samples(text: str) -> dict[str, float]:
    """Each sample's name and labels (as written) and value; every line checked against the format."""
    samples = {}
    for line in text.splitlines():
        if line.startswith("# "):
            assert re.match(r"^# (HELP|TYPE) gendersort_[a-z_]+ ", line), line
            continue
        assert SAMPLE.match(line), line
        name, value = line.rsplit(" ", 1)
        samples[name] = float(value)
    return samples


def test_summary_and_metrics_say_what_the_run_did_also_when_it_ends_in_errors(varied, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for path in [*sorted(varied.glob("astronaut*"))[:9], varied / "cat.jpg"]:
        (photos / path.name).write_bytes(path.read_bytes())
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    out, summary, metrics = tmp_path / "r.csv", tmp_path / "run.json", tmp_path / "run.prom"
    result = gendersort("classify", photos, "--out", out, "--target-accuracy", "0.9", "--summary", summary,
                        "--metrics", metrics, *ONE_AT_A_TIME)
    assert result.exit_code == 2, result.output
    document = json.loads(summary.read_text())
    rows = read_rows(out, "csv")
    assert document["exit_code"] == 2 and document["command"] == "classify"
    assert document["files"] == 11 and document["by_status"] == {"ok": 9, "no_face": 1, "error": 1}
    assert document["errors"]["count"] == 1
    assert document["errors"]["examples"][0]["path"] == str(photos / "broken.jpg")
    for label in ("female", "male", "unknown"):
        mine = [row for row in rows if row["label"] == label]
        assert document["rows"][label]["rows"] == len(mine)
        if label != "unknown" and mine:
            mean = np.mean([float(row["confidence"]) for row in mine])
            assert document["rows"][label]["expected_accuracy"] == pytest.approx(mean, abs=1e-6)
    target = document["target_accuracy"]
    assert target["target"] == 0.9 and target["kept"] == sum(row["label"] != "unknown" for row in rows)
    assert document["model_version"] == rows[0]["model_version"] and document["device"]
    assert document["duration_s"] > 0 and document["images_per_s"] > 0
    samples = metric_samples(metrics.read_text())
    common = f'command="classify",output="{out}"'
    assert samples[f"gendersort_exit_code{{{common}}}"] == 2
    assert samples[f'gendersort_files{{{common},status="error"}}'] == 1
    assert samples[f"gendersort_threshold{{{common}}}"] == target["threshold"]
    assert samples[f'gendersort_rows{{{common},label="male"}}'] == document["rows"]["male"]["rows"]
    assert abs(samples[f"gendersort_last_run_timestamp_seconds{{{common}}}"] - time.time()) < 60
    assert not list(tmp_path.glob(".*partial")), "written through a hidden file, renamed"

    again = gendersort("classify", photos, "--out", out, "--summary", summary, "--resume", *ONE_AT_A_TIME)
    assert again.exit_code == 2, "the error is tried again, and fails again"
    assert json.loads(summary.read_text())["done_before"] == 10, "--resume replaces the summary"


def test_an_interrupted_run_writes_its_summary(varied, tmp_path):
    out, summary = tmp_path / "r.csv", tmp_path / "run.json"
    command = [sys.executable, "-m", "gendersort", "classify", str(varied), "--out", str(out), "--summary",
               str(summary), *ONE_AT_A_TIME]
    returncode, stderr = interrupt_midway(command, out, lines=4)
    assert returncode == 130, stderr
    document = json.loads(summary.read_text())
    assert document["exit_code"] == 130
    assert 3 <= document["files"] < 38 and document["rows"]["unknown"]["rows"] <= document["files"]


@pytest.mark.parametrize("case", ["above one", "a percentage", "a coin", "with --min-confidence", "stdout",
                                  "summary exists", "metrics exists", "metrics not .prom", "ray"])
def test_bad_command_lines_are_one_line_errors_before_any_model_loads(tmp_path, case):
    existing = tmp_path / "run.json"
    existing.write_text("{}")
    (tmp_path / "run.prom").write_text("")
    out = ["--out", tmp_path / "r.csv"]
    arguments, message = {
        "above one": ([*out, "--target-accuracy", "1.5"], "between 0.5 and 1 (both excluded), not 1.5"),
        "a percentage": ([*out, "--target-accuracy", "99"], "for 99%, give 0.99"),
        "a coin": ([*out, "--target-accuracy", "0.5"], "between 0.5 and 1"),
        "with --min-confidence": ([*out, "--target-accuracy", "0.9", "--min-confidence", "0.6"],
                                  "leave out --min-confidence"),
        "stdout": (["--target-accuracy", "0.9"], "name a file with --out"),
        "summary exists": ([*out, "--summary", existing], f"{existing} exists; add --overwrite to replace"),
        "metrics exists": ([*out, "--metrics", tmp_path / "run.prom"], "exists; add --overwrite"),
        "metrics not .prom": ([*out, "--metrics", tmp_path / "run.txt"], "name it *.prom"),
        "ray": ([*out, "--engine", "ray", "--summary", tmp_path / "new.json"], "go with the local engine"),
    }[case]
    result = gendersort("classify", FIXTURES / "astronaut.png", *arguments, "--device", "cpu")
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if "rror" in line]
    assert len(errors) == 1 and message in " ".join(result.stderr.split()), result.stderr
    assert not re.search(r"^device ", result.stderr, re.MULTILINE), result.stderr
    assert not (tmp_path / "r.csv").exists() and existing.read_text() == "{}"
