"""`classify --out results.parquet` on the local engine: the Ray engine's schema and part files, CSV's rules
for an existing output, the lock and --resume, a SIGKILL midway, and a clear message without pyarrow."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gendersort.cli import app
from tests.conftest import FIXTURES
from tests.test_writers import photo_folder

pytest.importorskip("pyarrow", reason="needs pyarrow (pip install -e '.[parquet]')")

import pyarrow.dataset as pads  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from gendersort.outputs.parquet_parts import RESULT_SCHEMA  # noqa: E402
from gendersort.outputs.parquet_results import read_parquet_rows  # noqa: E402
from gendersort.outputs.writers import read_rows  # noqa: E402


def gendersort(*arguments: object):
    return CliRunner().invoke(app, [str(argument) for argument in arguments])


def parts(dest: Path) -> list[Path]:
    return sorted(dest.glob("part-*.parquet"))


def typed(csv_row: dict[str, str]) -> dict[str, object]:
    """A CSV row with the types Parquet keeps."""
    def value(name: str, text: str) -> object:
        if text == "":
            return "" if RESULT_SCHEMA.field(name).type == "string" else None
        kind = str(RESULT_SCHEMA.field(name).type)
        return float(text) if kind == "double" else int(text) if kind == "int64" else text

    return {name: value(name, text) for name, text in csv_row.items()}


def test_the_same_rows_as_csv_in_part_files_of_the_explicit_schema(tmp_path):
    dest = tmp_path / "results.parquet"
    assert gendersort("classify", FIXTURES, "--out", tmp_path / "r.csv", "--device", "cpu").exit_code == 0
    result = gendersort("classify", FIXTURES, "--out", dest, "--rows-per-file", 2, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert len(parts(dest)) == 3, "5 photos, 2 rows a part"
    assert all(pq.read_schema(part).equals(RESULT_SCHEMA) for part in parts(dest))
    csv_rows = [typed(row) for row in read_rows(tmp_path / "r.csv", "csv")]
    assert sorted(read_parquet_rows(dest), key=lambda row: row["path"]) == csv_rows
    assert not list(tmp_path.glob("*.lock"))
    report = gendersort("report", dest, "--out", tmp_path / "report.html")
    assert report.exit_code == 0 and "5 rows, 5 photos" in report.stderr


def test_an_existing_dataset_needs_resume_or_overwrite_and_a_live_lock_stops_a_run(tmp_path):
    dest = tmp_path / "results.parquet"
    photos = ("classify", FIXTURES / "astronaut.png", FIXTURES / "camera.png", "--out", dest)
    assert gendersort(*photos).exit_code == 0
    first = {part.name: part.read_bytes() for part in parts(dest)}
    refused = gendersort(*photos)
    assert refused.exit_code == 1
    assert f"{dest} exists; add --resume to finish it or --overwrite" in refused.stderr
    (tmp_path / "results.parquet.lock").write_text(f"{os.getpid()}\n")  # this live process holds it
    locked = gendersort(*photos, "--resume")
    assert locked.exit_code == 1 and "is being written by another run" in locked.stderr
    (tmp_path / "results.parquet.lock").unlink()
    resumed = gendersort(*photos, "--resume")
    assert resumed.exit_code == 0 and "2 files already done" in resumed.stderr
    assert {part.name: part.read_bytes() for part in parts(dest)} == first, "nothing rewritten, nothing added"
    (dest / ".part-left-by-a-killed-run.parquet.0.tmp").write_bytes(b"half")
    replaced = gendersort("classify", FIXTURES / "chelsea.png", "--out", dest, "--overwrite")
    assert replaced.exit_code == 0
    assert [Path(row["path"]).name for row in read_parquet_rows(dest)] == ["chelsea.png"]
    assert sorted(path.name for path in dest.iterdir()) == [part.name for part in parts(dest)], "no leftovers"


def test_resume_replaces_a_part_by_its_rows_that_stand_and_redoes_the_rest(tmp_path):
    photos = photo_folder(tmp_path / "photos", 4)
    (tmp_path / "photos" / "broken.jpg").write_bytes(b"\xff\xd8\xff truncated")
    dest = tmp_path / "results.parquet"
    arguments = ("classify", tmp_path / "photos", "--out", dest, "--rows-per-file", 3, "--quiet")
    assert gendersort(*arguments).exit_code == 2, "the broken file is an error row"
    names_before = [part.name for part in parts(dest)]
    shutil.copy(FIXTURES / "coffee.png", photos[2])  # changed: another size and mtime
    shutil.copy(FIXTURES / "camera.png", tmp_path / "photos" / "broken.jpg")  # mended

    assert gendersort(*arguments, "--resume").exit_code == 0
    rows = read_parquet_rows(dest)
    assert sorted(row["path"] for row in rows) == sorted([*photos, str(tmp_path / "photos" / "broken.jpg")])
    by_path = {row["path"]: row for row in rows}
    assert by_path[photos[2]]["size"] == os.path.getsize(photos[2])
    assert by_path[str(tmp_path / "photos" / "broken.jpg")]["status"] == "ok"
    assert set(names_before) <= {part.name for part in parts(dest)}, "pruned parts keep their names"


def test_a_sigkill_leaves_only_complete_parts_and_resume_writes_each_photo_once(tmp_path):
    expected = photo_folder(tmp_path / "photos", 30)
    dest = tmp_path / "results.parquet"
    command = [sys.executable, "-m", "gendersort", "classify", str(tmp_path / "photos"), "--out", str(dest),
               "--rows-per-file", "1", "--batch-size", "2", "--device", "cpu", "--quiet"]
    run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(parts(dest)) < 4:
        time.sleep(0.002)
    assert run.poll() is None, f"the run ended before it could be killed: {run.stderr.read()!r}"
    run.send_signal(signal.SIGKILL)
    run.wait()
    run.stderr.close()

    before = read_parquet_rows(dest)  # every part file reads whole
    assert 4 <= len(before) < len(expected)
    result = gendersort(*command[3:], "--resume")
    assert result.exit_code == 0, result.output
    after = read_parquet_rows(dest)
    assert sorted(row["path"] for row in after) == expected, "every photo once, none twice"
    assert all(row in after for row in before), "the rows written before the kill are kept"
    assert not any(path.name.endswith(".tmp") for path in dest.iterdir())


def test_a_name_that_is_not_utf8_gets_its_bytes_escaped_and_reads_back_as_itself(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    name = os.fsdecode(b"caf\xe9.png")
    shutil.copy(FIXTURES / "astronaut.png", folder / name)
    dest = tmp_path / "results.parquet"
    result = gendersort("classify", folder, "--out", dest, "--device", "cpu", "-q")
    assert result.exit_code == 0, result.output
    assert pads.dataset(dest).to_table().column("path").to_pylist() == [str(folder / "caf\\xe9.png")]
    assert [row["path"] for row in read_parquet_rows(dest)] == [str(folder / name)]


def test_without_pyarrow_parquet_is_refused_before_the_models_load(tmp_path):
    code = ("import sys; sys.modules['pyarrow'] = None; from gendersort.cli import app; "
            "app(sys.argv[1:], prog_name='gendersort')")
    run = subprocess.run([sys.executable, "-c", code, "classify", str(FIXTURES), "--out",
                          str(tmp_path / "r.parquet")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert "Parquet needs pyarrow" in run.stderr and "pip install 'gendersort[parquet]'" in run.stderr
    assert "device" not in run.stderr and not (tmp_path / "r.parquet").exists()
