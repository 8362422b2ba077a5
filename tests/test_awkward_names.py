"""File names that are legal but awkward (a carriage return, bytes that are not UTF-8, control characters):
every output keeps them apart and reads them back as the same file, and no terminal line shows them raw."""

from __future__ import annotations

import csv
import importlib.util
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gendersort.cli import app
from tests.conftest import FIXTURES


def gendersort(*arguments: object):
    return CliRunner().invoke(app, [str(argument) for argument in arguments])


def labels_for(path: Path, photos: list[Path], truth: str = "female") -> Path:
    with open(path, "w", newline="", encoding="utf-8", errors="surrogateescape") as stream:
        writer = csv.writer(stream, quoting=csv.QUOTE_ALL)
        writer.writerow(["path", "label"])
        writer.writerows([str(photo), truth] for photo in photos)
    return path


def test_a_carriage_return_in_a_name_stays_in_one_csv_row(tmp_path):
    """Finding 6 of #23: the results CSV and the sort manifest quote it; --resume keeps the row, a rerun of
    sort sorts nothing twice, and evaluate --results matches the photo."""
    folder = tmp_path / "photos"
    folder.mkdir()
    photo = folder / "a\rb.png"
    shutil.copy(FIXTURES / "astronaut.png", photo)
    out = tmp_path / "results.csv"
    assert gendersort("classify", folder, "--out", out, "--device", "cpu", "--quiet").exit_code == 0
    with open(out, newline="", encoding="utf-8") as stream:
        assert [row["path"] for row in csv.DictReader(stream)] == [str(photo)]
    assert out.read_bytes().endswith(b"\n") and b"\r\n" not in out.read_bytes()

    resumed = gendersort("classify", folder, "--out", out, "--device", "cpu", "--resume")
    assert resumed.exit_code == 0 and "1 file already done" in resumed.stderr, resumed.output

    labels = labels_for(tmp_path / "labels.csv", [photo])
    scored = gendersort("evaluate", "--labels", labels, "--results", out)
    assert scored.exit_code == 0 and "scored: 1 of 1" in scored.stdout, scored.output

    dest = tmp_path / "sorted"
    assert gendersort("sort", folder, dest, "--device", "cpu", "--quiet").exit_code == 0
    rerun = gendersort("sort", folder, dest, "--device", "cpu")
    assert rerun.exit_code == 0 and "1 sorted before" in rerun.stderr, rerun.output
    assert sorted(os.listdir(dest / "female")) == ["a\rb.png"]


@pytest.mark.skipif(importlib.util.find_spec("pyarrow") is None, reason="needs pyarrow (the parquet extra)")
def test_parquet_tells_a_non_utf8_name_from_its_escape(tmp_path):
    """Finding 7 of #23: `bad<ff><fe>.png` and a file really named `bad\\xff\\xfe.png` get a path each, and
    --resume and evaluate --results find both."""
    import pyarrow.dataset as pads

    folder = tmp_path / "photos"
    folder.mkdir()
    photos = [folder / os.fsdecode(name) for name in (b"bad\xff\xfe.png", b"bad\\xff\\xfe.png")]
    for photo in photos:
        shutil.copy(FIXTURES / "astronaut.png", photo)
    out = tmp_path / "results.parquet"
    assert gendersort("classify", folder, "--out", out, "--device", "cpu", "--quiet").exit_code == 0
    written = pads.dataset(out, format="parquet").to_table().column("path").to_pylist()
    assert len(set(written)) == 2, written

    resumed = gendersort("classify", folder, "--out", out, "--device", "cpu", "--resume")
    assert resumed.exit_code == 0 and "2 files already done" in resumed.stderr, resumed.output
    scored = gendersort("evaluate", "--labels", labels_for(tmp_path / "labels.csv", photos), "--results", out)
    assert scored.exit_code == 0 and "scored: 2 of 2" in scored.stdout, scored.output


def test_control_characters_never_reach_the_terminal_raw(tmp_path):
    """Finding 11 of #23: a file name and a --by value holding a terminal's escape sequence are shown
    escaped, in the per-file error lines, the evaluation's table and a dry run's plan alike."""
    sequence = "\x1b]0;owned\x07"
    folder = tmp_path / "photos"
    folder.mkdir()
    broken = folder / f"evil{sequence}.jpg"
    broken.write_bytes(b"not a photo")
    shutil.copy(FIXTURES / "astronaut.png", folder / "astronaut.png")
    out = tmp_path / "results.csv"
    classified = gendersort("classify", folder, "--out", out, "--device", "cpu")
    labels = tmp_path / "labels.csv"
    labels.write_text(f"path,label,camera\n{folder / 'astronaut.png'},female,{sequence}\n", encoding="utf-8")
    scored = gendersort("evaluate", "--labels", labels, "--results", out, "--by", "camera")
    planned = gendersort("sort", folder, tmp_path / "sorted", "--dry-run", "--device", "cpu")
    for result in (classified, scored, planned):
        assert "\x1b" not in result.output and "\x07" not in result.output, result.output
        assert "\\x1b]0;owned\\x07" in result.output, result.output
