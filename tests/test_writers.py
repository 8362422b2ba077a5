"""Result files survive interruptions: partial last lines, a real SIGKILL mid-run, --resume, the lock."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from PIL import Image
from typer.testing import CliRunner

from gendersort.cli import app
from gendersort.outputs.resume import finished_rows
from gendersort.outputs.writers import (
    OutputExistsError,
    OutputLockedError,
    RowWriter,
    open_results,
    read_rows,
)
from gendersort.pipeline.results import COLUMNS
from tests.conftest import FIXTURES, kill_midway, save_two_face_photo

VERSION = "test-model"


def row(path: str, status: str = "ok", faces: int = 1, face_index: object = "", version: str = VERSION):
    values = dict.fromkeys(COLUMNS, "")
    values.update(path=path, status=status, faces=faces, face_index=face_index, model_version=version,
                  size=10, mtime=1.5)
    return values


def write(path, fmt, rows):
    with open(path, "w", newline="", encoding="utf-8") as stream:
        RowWriter(stream, fmt, write_header=True).write(rows)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_partial_last_line_is_dropped_and_the_file_rewritten(tmp_path, fmt):
    out = tmp_path / f"results.{fmt}"
    write(out, fmt, [row("a.jpg"), row("b.jpg")])
    complete = out.read_bytes()
    with open(out, "ab") as stream:
        stream.write(b"c.jpg,ok,ma" if fmt == "csv" else b'{"path": "c.jpg", "sta')
    assert [r["path"] for r in read_rows(out, fmt)] == ["a.jpg", "b.jpg"]
    with open_results(str(out), fmt, resume=True) as (writer, kept):
        assert [r["path"] for r in kept] == ["a.jpg", "b.jpg"]
        assert out.read_bytes() == complete, "rewritten without the partial line before anything is added"
        writer.write([row("c.jpg")])
    assert [r["path"] for r in read_rows(out, fmt)] == ["a.jpg", "b.jpg", "c.jpg"]


def test_awkward_paths_round_trip(tmp_path):
    out = tmp_path / "results.csv"
    names = ['comma, "quote"\nnewline.jpg', "Zoë 海滩.jpg", "bad-\udcff-byte.jpg"]
    with open(out, "w", newline="", encoding="utf-8", errors="surrogateescape") as stream:
        RowWriter(stream, "csv", write_header=True).write([row(name) for name in names])
    assert [r["path"] for r in read_rows(out, "csv")] == names


def test_a_record_cut_inside_a_quoted_newline_is_dropped(tmp_path):
    out = tmp_path / "results.csv"
    write(out, "csv", [row("a.jpg")])
    with open(out, "a", encoding="utf-8") as stream:
        stream.write('"first line\n')
    assert [r["path"] for r in read_rows(out, "csv")] == ["a.jpg"]


def test_finished_rows_keep_only_complete_unchanged_photos_of_this_model(tmp_path):
    def on_disk(name: str, **fields):
        path = tmp_path / name
        if not path.exists():
            path.write_bytes(b"photo bytes")
        values = row(str(path), **fields)
        values.update(size=path.stat().st_size, mtime=path.stat().st_mtime)
        return values

    changed = on_disk("changed.jpg")
    changed["size"] = 1
    deleted = on_disk("deleted.jpg")
    (tmp_path / "deleted.jpg").unlink()
    rows = [
        on_disk("largest.jpg"),
        on_disk("none.jpg", status="no_face", faces=0),
        on_disk("broken.jpg", status="error", faces=0),
        on_disk("old.jpg", version="older-model"),
        on_disk("all.jpg", faces=2, face_index=0), on_disk("all.jpg", faces=2, face_index=1),
        on_disk("cut.jpg", faces=3, face_index=0), on_disk("cut.jpg", faces=3, face_index=1),
        changed, deleted,
    ]
    kept = finished_rows(rows, VERSION)
    assert [(os.path.basename(r["path"]), r["face_index"]) for r in kept] == [
        ("largest.jpg", ""), ("none.jpg", "")]
    kept = finished_rows(rows, VERSION, every_face=True)  # --faces all: a main face's row is not whole
    assert [(os.path.basename(r["path"]), r["face_index"]) for r in kept] == [
        ("none.jpg", ""), ("all.jpg", 0), ("all.jpg", 1)]


@pytest.mark.parametrize(("first", "then"), [("main", "all"), ("all", "main")])
def test_resume_with_other_faces_redoes_the_photos_with_a_face(tmp_path, first, then):
    """#23: --faces main resumed with --faces all kept one row for a photo of several faces (and the
    reverse kept them all): such rows are done again, as those of another --model are."""
    photos = tmp_path / "photos"
    photos.mkdir()
    save_two_face_photo(photos / "two.png")
    shutil.copy(FIXTURES / "chelsea.png", photos / "cat.png")
    out = tmp_path / "results.csv"
    for faces, resume in ((first, []), (then, ["--resume"])):
        result = CliRunner().invoke(app, ["classify", str(photos), "--out", str(out), "--faces", faces,
                                          "--device", "cpu", *resume])
        assert result.exit_code == 0, result.output
    assert "1 file already done" in result.output, "the cat's row (no face) reads the same either way"
    rows = read_rows(out, "csv")
    two = [row["face_index"] for row in rows if row["path"].endswith("two.png")]
    assert two == (["0", "1"] if then == "all" else [""])
    assert len(rows) == len(two) + 1


def test_an_existing_output_is_neither_overwritten_nor_appended_to_silently(tmp_path):
    out = tmp_path / "results.csv"
    write(out, "csv", [row("a.jpg")])
    with pytest.raises(OutputExistsError, match="--resume"), open_results(str(out), "csv"):
        pass
    assert [r["path"] for r in read_rows(out, "csv")] == ["a.jpg"]
    with open_results(str(out), "csv", overwrite=True) as (writer, kept):
        assert kept == []
        writer.write([row("b.jpg")])
    assert [r["path"] for r in read_rows(out, "csv")] == ["b.jpg"]


def test_a_live_lock_stops_a_second_run(tmp_path):
    out = tmp_path / "results.csv"
    holder = subprocess.Popen(["sleep", "60"])
    try:
        (tmp_path / "results.csv.lock").write_text(f"{holder.pid}\n")
        with pytest.raises(OutputLockedError, match=f"process {holder.pid}"), open_results(str(out), "csv"):
            pass
        assert not out.exists()
    finally:
        holder.kill()
        holder.wait()


def test_a_dead_runs_lock_is_taken_over_and_released(tmp_path):
    out = tmp_path / "results.csv"
    dead = subprocess.Popen(["true"])
    dead.wait()
    lock = tmp_path / "results.csv.lock"
    lock.write_text(f"{dead.pid}\n")
    with open_results(str(out), "csv") as (writer, _):
        assert lock.read_text().strip() == str(os.getpid())
        writer.write([row("a.jpg")])
    assert not lock.exists()


def photo_folder(folder, count: int) -> list[str]:
    """`count` small photos, alternately with and without a face."""
    folder.mkdir()
    sources = [Image.open(FIXTURES / name).convert("RGB").resize((256, 256))
               for name in ("astronaut.png", "chelsea.png")]
    for index in range(count):
        sources[index % 2].save(folder / f"photo_{index:03d}.jpg", quality=90)
    return sorted(str(folder / f"photo_{index:03d}.jpg") for index in range(count))


def test_sigkill_mid_run_leaves_a_readable_file_that_resume_completes(tmp_path):
    expected = photo_folder(tmp_path / "photos", 40)
    out = tmp_path / "results.csv"
    command = [sys.executable, "-m", "gendersort", "classify", str(tmp_path / "photos"), "--out", str(out),
               "--batch-size", "4", "--device", "cpu", "--quiet"]
    kill_midway(command, out, lines=4)

    before = read_rows(out, "csv")
    assert 3 <= len(before) < len(expected)
    assert (tmp_path / "results.csv.lock").exists(), "the killed run could not remove its lock"

    result = CliRunner().invoke(app, [*command[3:], "--resume"])
    assert result.exit_code == 0, result.output
    after = read_rows(out, "csv")
    assert sorted(r["path"] for r in after) == expected, "every photo once, none twice"
    assert after[: len(before)] == before, "the rows written before the kill are kept as they were"
    assert not (tmp_path / "results.csv.lock").exists()


def test_resume_redoes_changed_files(tmp_path):
    photos = photo_folder(tmp_path / "photos", 2)
    out = tmp_path / "results.jsonl"
    arguments = ["classify", str(tmp_path / "photos"), "--out", str(out), "--device", "cpu", "--quiet"]
    assert CliRunner().invoke(app, arguments).exit_code == 0
    first = read_rows(out, "jsonl")
    shutil.copy(FIXTURES / "coffee.png", photos[1])  # replaced: another size and mtime
    assert CliRunner().invoke(app, [*arguments, "--resume"]).exit_code == 0
    second = read_rows(out, "jsonl")
    assert second[0] == first[0]
    assert [r["path"] for r in second] == photos
    assert second[1]["size"] == os.path.getsize(photos[1]) != first[1]["size"]
