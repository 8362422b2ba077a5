"""What `evaluate`, `report` and `classify` do with input a careful user gets wrong or a hostile one makes up
(#23, findings 8 to 10 and 12): one line saying what is wrong and a non-zero exit, never a traceback, never
a silent wrong figure; and input that is merely unusual (`Male/`, a `;` file, other column names) works."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gendersort.cli import app
from tests.conftest import FIXTURES

LABELS = FIXTURES / "labels.csv"


def gendersort(*arguments: object):
    return CliRunner().invoke(app, [str(argument) for argument in arguments])


def models_loaded(stderr: str) -> bool:
    return bool(re.search(r"^device ", stderr, re.MULTILINE))


def one_line_error(result, *words: str) -> str:
    """The command failed with exit 1 and one line on stderr holding `words`, without a traceback."""
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gendersort: error: "), result.stderr
    assert all(word in lines[0] for word in words), lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def results_csv(tmp_path_factory) -> Path:
    """The fixtures classified once, into CSV."""
    out = tmp_path_factory.mktemp("run") / "results.csv"
    result = gendersort("classify", FIXTURES, "--out", out, "--device", "cpu", "--quiet")
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def labelled_tree(tmp_path) -> Path:
    tree = tmp_path / "tree"
    (tree / "Female").mkdir(parents=True)
    (tree / "MALE").mkdir()
    shutil.copy(FIXTURES / "astronaut.png", tree / "Female")
    shutil.copy(FIXTURES / "camera.png", tree / "MALE")
    return tree


def test_an_output_in_a_missing_folder_is_refused_before_the_models_load(tmp_path, labelled_tree):
    """Finding 10: each names the folder that is missing."""
    missing = tmp_path / "nodir"
    for arguments in (("classify", FIXTURES, "--out", missing / "x.csv"),
                      ("evaluate", "--labels", LABELS, "--json", missing / "a.json"),
                      ("evaluate", "--labels", LABELS, "--report", missing / "a.html"),
                      ("evaluate", labelled_tree, "--misclassified", missing / "wrong.csv"),
                      ("report", FIXTURES / "labels.csv", "--out", missing / "r.html")):
        device = ("--device", "cpu") if arguments[0] != "report" else ()
        result = gendersort(*arguments, *device)
        one_line_error(result, f"the folder {missing} does not exist")
        assert not models_loaded(result.stderr)


def test_a_labelled_tree_takes_its_folders_in_any_case_and_points_to_labels(tmp_path, labelled_tree):
    """Finding 12: `Female/` and `MALE/` are read; a tree of neither points to --labels."""
    result = gendersort("evaluate", labelled_tree, "--device", "cpu", "--quiet")
    assert result.exit_code == 0 and "labelled photos scored: 2 of 2" in result.stdout, result.output
    (tmp_path / "empty").mkdir()
    one_line_error(gendersort("evaluate", tmp_path / "empty"), "--labels")


def rows_of(results: Path) -> list[dict[str, str]]:
    with open(results, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def broken_results(folder: Path, results: Path, case: str) -> Path:
    """The run's results with one thing wrong, as `case` names it."""
    rows = rows_of(results)
    first = next(row for row in rows if row["status"] == "ok")
    if case.startswith("jsonl"):
        lines = [json.dumps(row) for row in rows]
        lines[-1] = "null" if case == "jsonl null" else lines[-1][: len(lines[-1]) // 2]
        out = folder / "broken.jsonl"
        out.write_text("\n".join(lines) + ("\n" if case == "jsonl null" else ""), encoding="utf-8")
        return out
    column, value = case.split("=")
    first[column] = value
    out = folder / "broken.csv"
    with open(out, "w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    if case == "cut=mid-row":
        out.write_text(out.read_text(encoding="utf-8") + f"{first['path']},ok,female,0.", encoding="utf-8")
    return out


@pytest.mark.parametrize("case", ["p_male=garbage", "face_index=x", "jsonl truncated", "jsonl null",
                                  "p_male=nan", "p_male=1.7", "p_male=-3", "cut=mid-row", "status=done"])
def test_a_results_row_no_run_writes_stops_evaluate_and_report_in_one_line(tmp_path, results_csv, case):
    """Findings 8 and 9: a value classify never writes (or a row cut short) is named with its line; it is
    neither a traceback nor a figure (p_male 0.0 for a cut row, "no face" for an unknown status)."""
    broken = broken_results(tmp_path, results_csv, case)
    value = case.split("=")[-1] if "=" in case and case != "cut=mid-row" else ""
    scored = gendersort("evaluate", "--labels", LABELS, "--results", broken)
    one_line_error(scored, str(broken), "line", value)
    one_line_error(gendersort("report", broken, "--out", tmp_path / "r.html"), str(broken), "line", value)
    assert not (tmp_path / "r.html").exists()


def test_a_labels_file_python_cannot_parse_or_that_names_a_column_twice_is_refused(tmp_path, results_csv):
    """Findings 8 and 9: a field over the csv module's 128 KB limit is a one-line error, and so is a header
    `path,label,label` (the last column won, silently)."""
    huge = tmp_path / "huge.csv"
    huge.write_text(f"path,label\n{FIXTURES / 'astronaut.png'},{'x' * 200_000}\n", encoding="utf-8")
    one_line_error(gendersort("evaluate", "--labels", huge, "--results", results_csv), "line 2", "field")
    twice = tmp_path / "twice.csv"
    twice.write_text(f"path,label,label\n{FIXTURES / 'astronaut.png'},female,male\n", encoding="utf-8")
    one_line_error(gendersort("evaluate", "--labels", twice, "--results", results_csv),
                   "2 columns named 'label'")


def test_results_of_another_model_than_the_one_asked_for_are_refused(results_csv):
    """Finding 9: --model open on the default model's results is an error; without --model they are
    scored, their model named."""
    one_line_error(gendersort("evaluate", "--labels", LABELS, "--results", results_csv, "--model", "open"),
                   "holds rows of model", "--model open")
    scored = gendersort("evaluate", "--labels", LABELS, "--results", results_csv)
    assert scored.exit_code == 0, scored.output


def test_a_labels_file_of_other_columns_semicolons_and_unlabelled_rows(tmp_path, results_csv):
    """Finding 12: --path-column and --label-column name its columns, `;` is read from its header, and a
    row without a label is passed over and counted."""
    labels = tmp_path / "labels.csv"
    labels.write_text(f"file;gender;age\n{FIXTURES / 'astronaut.png'};female;38\n"
                      f"{FIXTURES / 'camera.png'};;30\n", encoding="utf-8")
    result = gendersort("evaluate", "--labels", labels, "--results", results_csv, "--path-column", "file",
                        "--label-column", "gender", "--by", "age", "--json", tmp_path / "audit.json")
    assert result.exit_code == 0, result.output
    assert "scored: 1 of 1" in result.stdout and "without a label (passed over): 1" in result.stdout
    document = json.loads((tmp_path / "audit.json").read_text(encoding="utf-8"))
    assert document["unscored"]["labels_without_label"] == 1


def test_paths_that_are_not_there_are_said_before_the_models_load(tmp_path, results_csv):
    """Finding 12: Windows paths (or paths relative to another folder) that name no photo stop the run with
    a hint, before any model loads; with --results, nothing matched says why."""
    windows = tmp_path / "labels.csv"
    windows.write_text("path,label\nphotos\\astronaut.png,female\nphotos\\camera.png,male\n",
                       encoding="utf-8")
    result = gendersort("evaluate", "--labels", windows, "--device", "cpu")
    one_line_error(result, "none of the 2 photos", str(tmp_path), "\\ as /")
    assert not models_loaded(result.stderr)
    one_line_error(gendersort("evaluate", "--labels", windows, "--results", results_csv),
                   "none of the 2 labelled photos has a row", "astronaut.png")
    mostly = tmp_path / "mostly.csv"
    mostly.write_text(f"path,label\n{FIXTURES / 'astronaut.png'},female\nb.png,male\nc.png,male\n",
                      encoding="utf-8")
    warned = gendersort("evaluate", "--labels", mostly, "--device", "cpu")
    assert warned.exit_code == 2 and "warning: 2 of the 3 photos" in warned.stderr, warned.output


def test_relative_paths_of_results_are_found_from_another_folder(tmp_path, monkeypatch):
    """Finding 12: classify run in project/ wrote photos/...; evaluate --results and report, run from its
    parent, read them from the results file's folder (the cards get their previews)."""
    project = tmp_path / "project"
    shutil.copytree(FIXTURES, project / "photos", ignore=shutil.ignore_patterns("*.csv", "*.jpg"))
    shutil.copy(LABELS, project / "photos" / "labels.csv")
    monkeypatch.chdir(project)
    assert gendersort("classify", "photos", "--out", "results.csv", "--device", "cpu", "-q").exit_code == 0
    monkeypatch.chdir(tmp_path)
    labels = project / "photos" / "labels.csv"
    scored = gendersort("evaluate", "--labels", labels, "--results", "project/results.csv")
    assert scored.exit_code == 2 and "scored: 3 of 4" in scored.stdout, scored.output  # no tilted_face.jpg
    reported = gendersort("report", "project/results.csv", "--out", "report.html")
    assert reported.exit_code == 0 and ", 0 without a preview" in reported.stderr, reported.output
    (tmp_path / "elsewhere").mkdir()
    shutil.copy(project / "results.csv", tmp_path / "elsewhere")
    lost = gendersort("report", "elsewhere/results.csv", "--out", "lost.html")
    assert lost.exit_code == 0 and "no photo could be opened, e.g. photos/" in lost.stderr, lost.output


def test_undecodable_values_and_unusual_digits_reach_the_report_escaped(tmp_path, results_csv):
    """Finding 8: a --by value and a model_version that are not UTF-8, and a value `10²` (a digit, but no
    number), make a report and a table, not a traceback; the page shows the bytes as escapes."""
    rows = rows_of(results_csv)
    for row in rows:
        row["model_version"] = "gender\udcff"
    results = tmp_path / "results.csv"
    with open(results, "w", newline="", encoding="utf-8", errors="surrogateescape") as stream:
        writer = csv.DictWriter(stream, list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    labels = tmp_path / "labels.csv"
    labels.write_bytes(b"path,label,camera\n" + f"{FIXTURES / 'astronaut.png'},female,".encode()
                       + b"cam\xff\n" + f"{FIXTURES / 'camera.png'},male,10\u00b2\n".encode())
    report = tmp_path / "audit.html"
    result = gendersort("evaluate", "--labels", labels, "--results", results, "--by", "camera",
                        "--report", report)
    assert result.exit_code == 0, result.output
    assert "cam\\xff" in result.stdout and "10\u00b2" in result.stdout and "gender\\xff" in result.stdout
    page = report.read_text(encoding="utf-8")
    assert '<option value="cam\\xff">' in page and "gender\\xff" in page
    data = json.loads(re.search(r'id="report-data">(.*?)</script>', page).group(1))
    assert {card["groups"]["camera"] for card in data["rows"]} == {"cam\\xff", "10\u00b2"}, "as the filter"


def test_a_file_written_whole_leaves_nothing_when_its_writing_fails(tmp_path):
    """Finding 8: what failed midway (here text no encoding takes) leaves neither the file nor a part of
    it, so the rerun is not refused as overwriting it."""
    from gendersort.outputs.whole_files import write_whole

    with pytest.raises(UnicodeEncodeError):
        write_whole(tmp_path / "report.html", "<html>\ud800")
    assert list(tmp_path.iterdir()) == []
