"""What a careful user expects of the command line in the first hour (#23): nothing to do is said, not
silent; the usual conveniences of a CLI of this kind."""

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

import pytest
from PIL import Image
from typer.testing import CliRunner

from gendersort import __version__
from gendersort.cli import app
from tests.conftest import FIXTURES, cuda_works, interrupt_midway

NO_PHOTO = 3  # the README's exit-code table


def gendersort(*arguments: object):
    return CliRunner().invoke(app, [str(argument) for argument in arguments])


@pytest.mark.parametrize("command", ["classify", "sort", "predict"])
def test_a_folder_without_photos_is_said_and_exits_3(tmp_path, command):
    empty, notes = tmp_path / "empty", tmp_path / "notes"
    empty.mkdir()
    notes.mkdir()
    (notes / "a.txt").write_text("not a photo\n")
    (notes / "b.md").write_text("nor this\n")
    for folder, passed in ((empty, ""), (notes, " (2 files passed over, not images)")):
        extra = {"classify": ["--out", tmp_path / f"{folder.name}.csv"], "sort": [tmp_path / "sorted"],
                 "predict": []}[command]
        result = gendersort(command, folder, *extra, "--device", "cpu")
        assert result.exit_code == NO_PHOTO, result.output
        assert f"no photo found in {folder}{passed}; nothing done" in result.stderr


def test_sort_lists_the_files_it_passes_over(tmp_path):
    source = tmp_path / "photos"
    source.mkdir()
    shutil.copy(FIXTURES / "chelsea.png", source / "cat.png")
    (source / "notes.txt").write_text("not a photo\n")
    result = gendersort("sort", source, tmp_path / "sorted", "--move", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert f"passed over (not an image): {source / 'notes.txt'}" in result.stderr
    assert result.stderr.rstrip().endswith("; 1 file passed over, not an image")
    assert (source / "notes.txt").exists() and not (source / "cat.png").exists()


def photo_tree(folder: Path) -> Path:
    """a.png (a woman), keep/b.png (a man), skip/c.png (a cat), thumbs/d.jpg (a woman again)."""
    for name, fixture in (("a.png", "astronaut.png"), ("keep/b.png", "camera.png"),
                          ("skip/c.png", "chelsea.png")):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURES / fixture, folder / name)
    (folder / "thumbs").mkdir()
    Image.open(FIXTURES / "astronaut.png").convert("RGB").save(folder / "thumbs" / "d.jpg")
    return folder


def paths_in(csv_text: str, folder: Path) -> list[str]:
    return [str(Path(row["path"]).relative_to(folder)) for row in csv.DictReader(io.StringIO(csv_text))]


def test_files_from_a_file_or_stdin(tmp_path):
    photos = photo_tree(tmp_path / "photos")
    listing = tmp_path / "list.txt"
    listing.write_text(f"{photos / 'keep' / 'b.png'}\n\n{photos / 'gone.png'}\n{photos / 'skip'}\n")
    result = gendersort("classify", "--files-from", listing, "--device", "cpu")
    assert result.exit_code == 2, result.output  # gone.png: that file's error
    assert paths_in(result.stdout, photos) == ["keep/b.png", "gone.png", "skip/c.png"]
    piped = CliRunner().invoke(app, ["classify", str(photos / "a.png"), "--files-from", "-", "--device",
                                     "cpu"], input=f"{photos / 'keep' / 'b.png'}\n")
    assert piped.exit_code == 0, piped.output
    assert paths_in(piped.stdout, photos) == ["a.png", "keep/b.png"]
    missing = gendersort("classify", "--files-from", tmp_path / "nolist.txt", "--device", "cpu")
    assert missing.exit_code == 1 and "nolist.txt: no such file (--files-from)" in missing.stderr
    nothing = gendersort("classify", "--device", "cpu")
    assert nothing.exit_code == 1 and "classify needs a PATH or --files-from FILE" in nothing.stderr


def test_include_and_exclude_patterns(tmp_path):
    photos = photo_tree(tmp_path / "photos")
    result = gendersort("classify", photos, "--include", "*.png", "--exclude", "skip", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert paths_in(result.stdout, photos) == ["a.png", "keep/b.png"]
    result = gendersort("classify", photos, "--exclude", "keep/*", "--exclude", "*.jpg", "--device", "cpu")
    assert paths_in(result.stdout, photos) == ["a.png", "skip/c.png"]
    sorted_to = tmp_path / "sorted"
    result = gendersort("sort", photos, sorted_to, "--include", "*.jpg", "--device", "cpu", "--move")
    assert result.exit_code == 0, result.output
    assert [path.name for path in sorted_to.rglob("*.jpg")] == ["d.jpg"]
    assert (photos / "a.png").exists(), "left alone: not included"


def test_classify_says_where_it_wrote(tmp_path):
    out = tmp_path / "results.csv"
    result = gendersort("classify", FIXTURES / "astronaut.png", "--out", out, "--device", "cpu")
    assert result.exit_code == 0 and result.stderr.splitlines()[-1] == f"wrote {out}"


def test_ctrl_c_says_how_to_resume(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for index in range(60):
        shutil.copy(FIXTURES / "chelsea.png", photos / f"cat{index:02d}.png")
    out = tmp_path / "results.csv"
    command = [sys.executable, "-m", "gendersort", "classify", str(photos), "--out", str(out), "--device",
               "cpu", "--batch-size", "1", "--workers", "1"]
    returncode, stderr = interrupt_midway(command, out, lines=3)
    assert returncode == 130, stderr
    assert stderr.splitlines()[-1] == (f"gendersort: interrupted; {out} holds the rows so far: the same "
                                       "command with --resume finishes it")
    finished = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert len(paths_in(out.read_text(), photos)) == 60


def test_version():
    result = gendersort("--version")
    assert result.exit_code == 0
    assert re.fullmatch(rf"gendersort {re.escape(__version__)} \(onnxruntime [\w.]+, Python [\d.]+\)\n",
                        result.stdout), result.stdout


def test_shell_completion_completes_commands_and_choices():
    def complete(words: str) -> list[str]:
        env = os.environ | {"_GENDERSORT_COMPLETE": "complete_bash", "COMP_WORDS": words,
                            "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))}
        run = subprocess.run([sys.executable, "-m", "gendersort"], env=env, capture_output=True, text=True,
                             timeout=120)
        return run.stdout.split()

    assert complete("gendersort cl") == ["classify"]
    assert complete("gendersort classify --faces ") == ["main", "all", "largest"]
    assert "--install-completion" in gendersort("--help").stdout


@pytest.mark.skipif(cuda_works(), reason="CUDA works here")
def test_info_with_cuda_missing_says_everything_then_why_not_cuda():
    result = gendersort("info", "--device", "cuda")
    assert result.exit_code == 1
    assert "gender classifier default: gender.onnx" in result.stdout
    assert "execution providers available: " in result.stdout
    assert "device cuda: not available" in result.stdout
    (line,) = result.stderr.splitlines()
    assert line.startswith("gendersort: error: --device cuda was asked for, but "), line


@pytest.mark.parametrize(("value", "message"), [
    ("95", "95 is not between 0 and 1; for 95%, give 0.95"),
    ("-0.5", "-0.5 is not between 0 and 1"),
])
def test_min_confidence_as_a_percentage_gets_a_hint(value, message):
    result = gendersort("classify", FIXTURES, "--min-confidence", value)
    assert result.exit_code == 1
    assert f"Invalid value for '--min-confidence': {message}" in " ".join(result.stderr.split())


def test_jsonl_keeps_names_readable_and_valid_utf8(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(FIXTURES / "chelsea.png", photos / "café 写真.png")
    shutil.copy(FIXTURES / "chelsea.png", os.fsencode(photos) + b"/bad\xff.png")
    out = tmp_path / "results.jsonl"
    result = gendersort("classify", photos, "--out", out, "--device", "cpu")
    assert result.exit_code == 0, result.output
    text = out.read_bytes().decode("utf-8")  # valid UTF-8 throughout
    assert '"café 写真.png' in text.replace(str(photos) + "/", "")
    assert "bad\\udcff.png" in text
    paths = [json.loads(line)["path"] for line in text.splitlines()]
    assert sorted(os.fsencode(path) for path in paths) == sorted(
        os.fsencode(photos) + b"/" + name for name in (b"bad\xff.png", "café 写真.png".encode()))
    resumed = gendersort("classify", photos, "--out", out, "--resume", "--device", "cpu")
    assert "2 files already done" in resumed.stderr, "read back to the same names"
