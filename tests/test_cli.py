"""The command line on real folders: outputs, options, sentences, evaluation, info and exit codes."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import onnxruntime
import pytest
from PIL import Image
from typer.testing import CliRunner

from gendersort.cli import app
from gendersort.models.classifier import GenderClassifier
from gendersort.models.device import cpu_build_only, why_not_cuda
from gendersort.pipeline.results import COLUMNS
from tests.conftest import FIXTURES, cuda_works

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "photos"
SENTENCE = re.compile(
    r"^(?P<path>.+): it is (very likely|likely|possibly) a (?P<who>man|woman) \(\d+\.\d%\)$")


def gendersort(*arguments: object):
    return CliRunner().invoke(app, [str(argument) for argument in arguments])


def csv_rows(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    assert tuple(reader.fieldnames) == COLUMNS
    return list(reader)


def test_classify_writes_the_same_rows_to_csv_jsonl_and_stdout(photos, tmp_path):
    assert gendersort("classify", photos, "--out", tmp_path / "r.csv", "--device", "cpu").exit_code == 0
    assert gendersort("classify", photos, "--out", tmp_path / "r.jsonl", "--device", "cpu").exit_code == 0
    printed = gendersort("classify", photos, "--device", "cpu")
    assert printed.exit_code == 0

    from_csv = csv_rows((tmp_path / "r.csv").read_text(encoding="utf-8"))
    from_jsonl = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert csv_rows(printed.stdout) == from_csv
    assert [list(row) for row in from_jsonl] == [list(COLUMNS)] * 3
    assert [{k: "" if v is None else str(v) for k, v in row.items()} for row in from_jsonl] == from_csv

    names = ["astronaut.png", "chelsea.png", "people/camera.png"]
    assert [row["path"] for row in from_jsonl] == [str(photos / name) for name in names]
    astronaut, cat, camera = from_jsonl
    assert (cat["status"], cat["label"], cat["faces"], cat["p_male"], cat["box_x0"]) == (
        "no_face", "unknown", 0, None, None)
    for row in (astronaut, camera):
        assert row["status"] == "ok" and row["faces"] == 1 and row["face_index"] is None
        assert row["label"] == ("male" if row["p_male"] >= 0.5 else "female")
        assert row["confidence"] == round(max(row["p_male"], 1 - row["p_male"]), 4)
        assert row["p_male"] == round(row["p_male"], 4) and row["box_x0"] == round(row["box_x0"], 1)
        assert row["box_x0"] < row["box_x1"] and row["box_y0"] < row["box_y1"]
        assert row["model_version"] and row["error"] == ""
        assert (row["size"], row["mtime"]) == (os.path.getsize(row["path"]), os.path.getmtime(row["path"]))


def test_faces_all_writes_a_row_per_face(tmp_path):
    pair = Image.new("RGB", (512, 256))
    pair.paste(Image.open(FIXTURES / "astronaut.png").convert("RGB").resize((256, 256)), (0, 0))
    pair.paste(Image.open(FIXTURES / "camera.png").convert("RGB").resize((256, 256)), (256, 0))
    pair.save(tmp_path / "pair.png")
    shutil.copy(FIXTURES / "chelsea.png", tmp_path / "cat.png")
    result = gendersort("classify", tmp_path, "--faces", "all", "--device", "cpu")
    assert result.exit_code == 0
    cat, *faces = csv_rows(result.stdout)
    assert (cat["status"], cat["face_index"]) == ("no_face", "")
    assert len(faces) >= 2
    assert [row["face_index"] for row in faces] == [str(index) for index in range(len(faces))]
    assert {row["faces"] for row in faces} == {str(len(faces))}
    centres = [(float(row["box_x0"]) + float(row["box_x1"])) / 2 for row in faces]
    assert min(centres) < 256 < max(centres), "one face found on each half"


def test_min_confidence_turns_uncertain_answers_into_unknown(photos):
    plain = csv_rows(gendersort("classify", photos, "--device", "cpu").stdout)
    confidences = sorted(float(row["confidence"]) for row in plain if row["status"] == "ok")
    if confidences[0] == confidences[1]:
        pytest.skip("both faces got the same confidence; no threshold separates them")
    threshold = sum(confidences) / 2
    strict = csv_rows(gendersort("classify", photos, "--min-confidence", threshold, "--device", "cpu").stdout)
    for before, after in zip(plain, strict, strict=True):
        assert after["p_male"] == before["p_male"]
        if before["status"] == "ok" and float(before["confidence"]) < threshold:
            assert after["label"] == "unknown"
        else:
            assert after["label"] == before["label"]
    assert sum(row["label"] == "unknown" for row in strict) == 2  # the cat, and the less certain face


def test_no_recursive_format_and_overwrite(photos, tmp_path):
    out = tmp_path / "results.txt"  # a suffix that says nothing: --format decides
    jsonl = ("--out", out, "--format", "jsonl", "--device", "cpu")
    first = gendersort("classify", photos, *jsonl, "--no-recursive")
    assert first.exit_code == 0, first.output
    assert [json.loads(line)["path"] for line in out.read_text().splitlines()] == [
        str(photos / "astronaut.png"), str(photos / "chelsea.png")], "people/ is not entered"
    again = gendersort("classify", photos, *jsonl, "--overwrite")
    assert again.exit_code == 0, again.output
    assert len(out.read_text().splitlines()) == 3, "replaced, not appended to"


def test_predict_says_a_sentence_per_photo(photos):
    result = gendersort("predict", photos / "astronaut.png", photos / "chelsea.png", "--device", "cpu")
    assert result.exit_code == 0
    face_line, cat_line = result.stdout.splitlines()
    assert SENTENCE.match(face_line).group("path") == str(photos / "astronaut.png")
    assert cat_line == f"{photos / 'chelsea.png'}: no face found"


def test_predict_reports_unreadable_files_and_exits_2(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"")
    result = gendersort("predict", tmp_path / "broken.jpg", "--device", "cpu")
    assert result.exit_code == 2
    assert result.stdout == f"{tmp_path / 'broken.jpg'}: cannot read it: empty file (0 bytes)\n"


def labelled_tree(root: Path) -> Path:
    for label, name in (("female", "astronaut.png"), ("male", "camera.png"), ("female", "chelsea.png")):
        (root / label).mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURES / name, root / label / name)
    return root


def test_evaluate_reports_metrics_and_misclassified_files(tmp_path):
    tree = labelled_tree(tmp_path / "labelled")
    result = gendersort("evaluate", tree, "--misclassified", tmp_path / "wrong.csv", "--device", "cpu")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "labelled photos scored: 3 of 3 (no face: 1, unreadable: 0; both count as wrong)" in out
    assert re.search(r"^all +3  \d+\.\d\d \(", out, re.MULTILINE), "accuracy in %, with its interval"
    figures = r"^male as positive: precision [\d.]+, recall [\d.]+, F1 [\d.]+; ROC AUC ([\d.]+|-)$"
    assert re.search(figures, out, re.MULTILINE)
    (ff, fm, f_none, f_bad), (mf, mm, m_none, m_bad) = [
        [int(n) for n in line.split()[1:]] for line in out.splitlines()
        if re.match(r"^ +(female|male) +\d+ +\d+ +\d+ +\d+$", line)]
    assert (ff + fm + f_none + f_bad, mf + mm + m_none + m_bad) == (2, 1), "two women (the cat), one man"
    assert f_none == 1, "the cat has no face: counted, and wrong"
    with open(tmp_path / "wrong.csv", encoding="utf-8") as stream:
        wrong = list(csv.DictReader(stream))
    assert len(wrong) == fm + f_none + f_bad + mf + m_none + m_bad == int(
        re.search(r"misclassified: (\d+)", out).group(1))
    assert all(row["truth"] != row["predicted"] for row in wrong)
    assert {Path(row["path"]).name: row["predicted"] for row in wrong}["chelsea.png"] == "no face"


def test_evaluate_writes_a_report_with_the_matrix_and_the_mistakes(tmp_path):
    """The astronaut filed under male/ is a mistake the trained model always makes (she is a woman)."""
    tree = labelled_tree(tmp_path / "labelled")
    shutil.copy(FIXTURES / "astronaut.png", tree / "male" / "astronaut as a man.png")
    out = tmp_path / "evaluation.html"
    result = gendersort("evaluate", tree, "--report", out, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.stderr
    page = out.read_text(encoding="utf-8")
    (ff, fm, f_none, f_bad), (mf, mm, m_none, m_bad) = [
        [int(n) for n in line.split()[1:]] for line in result.stdout.splitlines()
        if re.match(r"^ +(female|male) +\d+ +\d+ +\d+ +\d+$", line)]
    matrix = re.search(r'<table class="confusion" id="confusion-matrix">(.*?)</table>', page, re.S).group(1)
    # The page's matrix has no column for no answer: such a photo counts as predicted the other gender.
    assert [int(n) for n in re.findall(r"<td>(\d+)</td>", matrix)] == [
        ff, fm + f_none + f_bad, mf + m_none + m_bad, mm]
    data = json.loads(re.search(r'<script type="application/json" id="report-data">(.*?)</script>',
                                page, re.S).group(1))
    assert len(data["rows"]) == 4, "a card per photo, the one without a face too"
    mistakes = [(row["path"], row["truth"], row["category"]) for row in data["misclassified"]]
    assert (str(tree / "male" / "astronaut as a man.png"), "male", "female") in mistakes
    assert len(mistakes) == int(re.search(r"misclassified: (\d+)", result.stdout).group(1))


def test_evaluate_needs_a_labelled_tree(tmp_path):
    result = gendersort("evaluate", tmp_path, "--device", "cpu")
    assert result.exit_code == 1
    assert "neither a male/ nor a female/ folder" in result.stderr


def test_info_names_models_and_providers():
    result = gendersort("info", "--device", "cpu")
    assert result.exit_code == 0
    assert f"version {GenderClassifier(device='cpu').version}" in result.stdout
    assert "input 192x192" in result.stdout and "input 112x112" in result.stdout
    assert ", ".join(onnxruntime.get_available_providers()) in result.stdout
    assert "device cpu: CPUExecutionProvider" in result.stdout


@pytest.mark.skipif(cuda_works(), reason="CUDA works here")
@pytest.mark.parametrize("command", ["classify", "sort", "predict", "evaluate"])
def test_cuda_asked_for_but_missing_is_an_error_not_a_cpu_run(photos, tmp_path, command):
    paths = {"classify": [photos, "--out", tmp_path / "r.csv"], "sort": [photos, tmp_path / "sorted"],
             "predict": [photos], "evaluate": [labelled_tree(tmp_path / "labelled")]}[command]
    result = gendersort(command, *paths, "--device", "cuda")
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("gendersort: error: --device cuda was asked for, but "), line
    assert result.stdout == "" and not (tmp_path / "r.csv").exists() and not (tmp_path / "sorted").exists()


def test_auto_device_says_which_it_chose_and_why_not_cuda(photos):
    result = gendersort("classify", photos, "--device", "auto")
    chose = (r"^device auto: (CUDAExecutionProvider, CPUExecutionProvider"
             r"|CPUExecutionProvider \(not CUDA: .+\))$")
    if cpu_build_only():
        chose = r"^device auto: CPUExecutionProvider$"
    assert re.search(chose, result.stderr, re.MULTILINE), result.stderr


def test_a_cpu_only_install_says_how_to_get_cuda_in_info_alone(photos):
    """Once, in `info` (and in --device cuda's error): not on every run, which names its device alone."""
    if not cpu_build_only():
        pytest.skip("onnxruntime's GPU build is installed: a run says why it is not on CUDA")
    run = gendersort("classify", photos, "--device", "auto")
    assert run.exit_code == 0 and "CUDA" not in run.stderr, run.stderr
    for arguments in (("info",), ("info", "--device", "cpu")):
        hints = [line for line in gendersort(*arguments).stdout.splitlines() if "gendersort[gpu]" in line]
        assert hints == [f"CUDA: no; {why_not_cuda(None)}"], hints
    cuda = gendersort("info", "--device", "cuda")
    assert cuda.exit_code == 1 and "gendersort[gpu]" not in cuda.stdout and "gendersort[gpu]" in cuda.stderr


def test_summary_on_stderr_no_progress_bar_off_a_terminal_and_quiet_silences(photos):
    result = gendersort("classify", photos, "--device", "cpu")
    assert re.search(r"^3 files: 2 ok, 1 no face, 0 errors; 2 faces; [\d.]+ images/s$", result.stderr, re.M)
    assert "\r" not in result.stderr, "no progress bar when stderr is not a terminal"
    quiet = gendersort("classify", photos, "--device", "cpu", "--quiet")
    assert quiet.exit_code == 0 and quiet.stderr == ""


@pytest.mark.parametrize(("arguments", "message"), [
    (["classify", "/no/such/folder"], "/no/such/folder: no such file or folder"),
    (["classify", "--no-such-option", "."], "No such option"),
    (["classify"], "classify needs a PATH or --files-from FILE"),
    (["classify", ".", "--faces", "some"], "Invalid value"),
    (["classify", ".", "--format", "xml"], "for '--format': 'xml' is not one of 'csv', 'jsonl', 'parquet'."),
    (["classify", ".", "--out", "results.txt"], "cannot tell the format"),
    (["classify", ".", "--resume"], "--resume needs an output file"),
    (["sort", ".", "out", "--copy", "--move"], "choose one of --copy, --move and --link"),
    (["sort", "/no/such/folder", "out"], "no such folder"),
    (["predict", "/no/such/photo.jpg"], "no such file or folder"),
    (["evaluate", "/no/such/folder"], "no such file or folder"),
    (["report", "/no/such/results.csv"], "no such file or folder"),
    (["view", "/no/such/photo.jpg"], "/no/such/photo.jpg: no such file or folder"),
    (["no-such-command"], "No such command"),
])
def test_usage_and_fatal_errors_exit_1_with_a_clear_message(tmp_path, monkeypatch, arguments, message):
    monkeypatch.chdir(tmp_path)
    result = gendersort(*arguments)
    assert result.exit_code == 1
    assert message in " ".join(result.stderr.split()), result.stderr
    assert list(tmp_path.iterdir()) == [], "nothing written"


def test_summary_says_1_file_and_gives_no_rate_when_no_photo_was_read(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"")
    broken = gendersort("classify", tmp_path / "broken.jpg", "--device", "cpu")
    assert broken.exit_code == 2
    assert broken.stderr.splitlines()[-1] == "1 file: 0 ok, 0 no face, 1 error; 0 faces"
    shutil.copy(FIXTURES / "astronaut.png", tmp_path / "astronaut.png")
    out = tmp_path / "r.csv"
    assert gendersort("classify", tmp_path / "astronaut.png", "--out", out, "--device", "cpu").exit_code == 0
    resumed = gendersort("classify", tmp_path / "astronaut.png", "--out", out, "--resume", "--device", "cpu")
    assert resumed.exit_code == 0
    assert f"1 file already done in {out}" in resumed.stderr
    assert resumed.stderr.splitlines()[-2:] == ["0 files: 0 ok, 0 no face, 0 errors; 0 faces", f"wrote {out}"]


COMMANDS = ("classify", "sort", "predict", "evaluate", "info", "report", "view")
# "  -o, --out FILE  help", "  --recursive / --no-recursive  help", "  --device [auto|cpu|cuda]  help"
OPTION_ROW = re.compile(r"^  (-\w, )?--[\w-]+( / --[\w-]+)?( [A-Z]+| \[[\w|]+\])?( {2,}\S|$)")
TYPE_TAG = re.compile(r"<[a-z][\w |\[\]]*>")  # typer's "<bool>", "<float range>", "<list[Path]>"


@pytest.mark.parametrize("command", COMMANDS)
def test_help_is_plain_click_help_in_one_style(command):
    result = CliRunner().invoke(app, [command, "--help"], prog_name="gendersort")
    assert result.exit_code == 0
    usage, *lines = result.stdout.splitlines()
    match = re.fullmatch(rf"Usage: gendersort {command} \[OPTIONS\]((?: \[?[A-Z]+(?:\.\.\.)?\]?)*)", usage)
    assert match, usage
    options = lines[lines.index("Options:") + 1:]
    rows = [line for line in options if line.startswith("  -")]
    assert rows and [row for row in rows if not OPTION_ROW.match(row)] == []
    assert not TYPE_TAG.search(result.stdout) and "{" not in result.stdout
    if "Arguments:" in lines:
        listed = lines[lines.index("Arguments:") + 1:lines.index("Options:")]
        assert [line.split()[0] for line in listed if re.match(r"  \S", line)] == \
               [name.strip("[]") for name in match.group(1).split()]
    assert [row.split()[0] for row in rows if " / --no-" in row] in ([], ["--recursive"]), "plain flags"


@pytest.mark.parametrize("command", ["classify", "evaluate"])
def test_help_keeps_each_example_on_a_line_of_its_own(command):
    """Two examples (classify: local and Ray; evaluate: a tree and a labels file), not folded into one."""
    lines = CliRunner().invoke(app, [command, "--help"], prog_name="gendersort").stdout.splitlines()
    examples = [line for line in lines if re.match(r"^  (Example|On Ray|Per group): gendersort ", line)]
    assert len(examples) == 2, lines
    assert all(line.count("gendersort ") == 1 for line in examples)


def test_per_file_errors_exit_2_and_the_run_goes_on(photos, tmp_path):
    (photos / "broken.jpg").write_text("not a photo")
    result = gendersort("classify", photos, "--out", tmp_path / "r.csv", "--device", "cpu")
    assert result.exit_code == 2
    rows = csv_rows((tmp_path / "r.csv").read_text())
    assert [row["status"] for row in rows] == ["ok", "error", "no_face", "ok"]
    assert f"{photos / 'broken.jpg'}: not an image" in result.stderr


def test_existing_output_and_live_lock_are_fatal(photos, tmp_path):
    out = tmp_path / "r.csv"
    assert gendersort("classify", photos, "--out", out, "--device", "cpu").exit_code == 0
    first = out.read_bytes()
    exists = gendersort("classify", photos, "--out", out, "--device", "cpu")
    assert exists.exit_code == 1 and "--resume" in exists.stderr
    (tmp_path / "r.csv.lock").write_text(f"{os.getpid()}\n")  # this live process holds it
    locked = gendersort("classify", photos, "--out", out, "--resume", "--device", "cpu")
    assert locked.exit_code == 1 and "is being written by another run" in locked.stderr
    assert out.read_bytes() == first


def test_every_command_that_writes_a_file_refuses_to_replace_one_unless_told(photos, tmp_path):
    results = tmp_path / "results.csv"
    assert gendersort("classify", photos, "--out", results, "--device", "cpu").exit_code == 0
    tree = labelled_tree(tmp_path / "labelled")
    writers = {"report": ("report", results, "--out"),
               "evaluate --report": ("evaluate", tree, "--device", "cpu", "--report"),
               "evaluate --misclassified": ("evaluate", tree, "--device", "cpu", "--misclassified")}
    for name, command in writers.items():
        existing = tmp_path / f"{name}.out"
        existing.write_text("keep me")
        refused = gendersort(*command, existing)
        assert refused.exit_code == 1, name
        assert f"{existing} exists; add --overwrite to replace it" in refused.stderr, name
        assert existing.read_text() == "keep me", name
        replaced = gendersort(*command, existing, "--overwrite")
        assert replaced.exit_code == 0, replaced.output
        assert existing.read_text() != "keep me", name


@pytest.mark.parametrize("case", ["output exists", "output locked", "not a labelled tree", "report exists"])
def test_what_needs_no_model_is_checked_before_the_models_load(photos, tmp_path, case):
    """No `device auto: ...` line (the models loading) before an error that needed none of them."""
    out = tmp_path / "r.csv"
    out.write_text("")
    if case == "output locked":
        (tmp_path / "r.csv.lock").write_text(f"{os.getpid()}\n")  # this live process holds it
    command, message = {
        "output exists": (["classify", photos, "--out", out], "exists"),
        "output locked": (["classify", photos, "--out", out, "--resume"], "being written by another run"),
        "not a labelled tree": (["evaluate", photos], "neither a male/ nor a female/ folder"),
        "report exists": (["evaluate", labelled_tree(tmp_path / "tree"), "--report", out], "exists"),
    }[case]
    result = gendersort(*command)
    assert result.exit_code == 1
    assert message in result.stderr
    assert not re.search(r"^device ", result.stderr, re.MULTILINE), result.stderr


def test_sort_dry_run_prints_the_plan_and_changes_nothing(photos, tmp_path):
    result = gendersort("sort", photos, tmp_path / "sorted", "--move", "--dry-run", "--device", "cpu")
    assert result.exit_code == 0
    plan = result.stdout.splitlines()
    assert plan[1] == f"move {photos / 'chelsea.png'} -> {tmp_path / 'sorted' / 'unknown' / 'chelsea.png'}"
    assert len(plan) == 3 and all(line.startswith("move ") for line in plan)
    assert not (tmp_path / "sorted").exists() and (photos / "chelsea.png").exists()
    assert "3 files:" in result.stderr


def test_sort_then_rerun(photos, tmp_path):
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    first = gendersort("sort", photos, tmp_path / "sorted", "--device", "cpu")
    assert first.exit_code == 2
    assert f"left in place: {photos / 'broken.jpg'}" in first.stderr
    assert (tmp_path / "sorted" / "unknown" / "chelsea.png").exists()
    again = gendersort("sort", photos, tmp_path / "sorted", "--device", "cpu")
    assert again.exit_code == 2
    assert "1 file: 1 left in place; 3 sorted before" in again.stderr


def test_module_and_console_script_run_the_readme_example(tmp_path):
    module = subprocess.run([sys.executable, "-m", "gendersort", "--help"], capture_output=True, text=True)
    assert module.returncode == 0 and "classify" in module.stdout
    script = Path(sys.executable).parent / "gendersort"
    run = subprocess.run([script, "classify", EXAMPLES, "--out", "results.csv", "--device", "cpu"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    rows = csv_rows((tmp_path / "results.csv").read_text())
    assert [(Path(row["path"]).name, row["status"]) for row in rows] == [
        ("camera.jpg", "ok"), ("astronaut.jpg", "ok"), ("chelsea.jpg", "no_face")]
    piped = subprocess.run([script, "classify", EXAMPLES, "--device", "cpu", "--quiet"],
                           capture_output=True, text=True)  # stdout is a pipe, which cannot be fsynced
    assert (piped.returncode, piped.stderr) == (0, "")
    assert csv_rows(piped.stdout) == rows


def test_trained_model_tells_the_astronaut_is_a_woman(photos):
    result = gendersort("predict", photos / "astronaut.png", "--device", "cpu")
    assert SENTENCE.match(result.stdout.strip()).group("who") == "woman"


def test_trained_model_sorts_the_examples(tmp_path):
    result = gendersort("sort", EXAMPLES, tmp_path / "sorted", "--device", "cpu")
    assert result.exit_code == 0
    assert sorted(str(p.relative_to(tmp_path / "sorted")) for p in (tmp_path / "sorted").rglob("*.jpg")) == [
        "female/astronaut.jpg", "male/archive/camera.jpg", "unknown/chelsea.jpg"]


def test_sort_links_flattened(tmp_path):
    result = gendersort("sort", EXAMPLES, tmp_path / "sorted", "--link", "--flatten", "--device", "cpu")
    assert result.exit_code == 0, result.output
    links = {str(path.relative_to(tmp_path / "sorted")): path.readlink() for path in
             (tmp_path / "sorted").rglob("*.jpg")}
    assert links == {"female/astronaut.jpg": EXAMPLES / "astronaut.jpg",
                     "male/camera.jpg": EXAMPLES / "archive" / "camera.jpg",
                     "unknown/chelsea.jpg": EXAMPLES / "chelsea.jpg"}
