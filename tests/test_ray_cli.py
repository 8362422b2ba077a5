"""`gendersort classify --engine ray` as a person runs it: the driver SIGKILLed midway leaves only complete
Parquet files and no cluster behind, the rerun writes every missing photo once, and Ray's log lines stay
off the terminal."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from gendersort.models.classifier import GenderClassifier
from tests.ray_support import by_key, local_rows, make_many, need_ray, pids_with

need_ray()

import pyarrow.dataset as pads  # noqa: E402

# Ray's log lines: timestamped, prefixed by a worker, or naming a level or one of Ray's processes.
RAY_LOG_LINE = re.compile(r"^(\[?\d{4}-\d\d-\d\d|\(\w+ pid=|.*(INFO|WARNING|core_worker|raylet))", re.M)


def wait_until_gone(mark: str, timeout: float) -> list[int]:
    """Wait for the marked processes to end; those left after `timeout` are killed and returned."""
    deadline = time.monotonic() + timeout
    while (left := pids_with(f"GENDERSORT_TEST_RUN={mark}", "environ")) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return left


def rows_in(dest: Path) -> list[dict[str, object]]:
    return by_key(pads.dataset(sorted(dest.glob("part-*.parquet")), format="parquet").to_table().to_pylist())


def test_a_killed_driver_leaves_no_half_file_and_the_rerun_writes_each_photo_once(tmp_path):
    photos = make_many(tmp_path / "photos", 130)  # three read blocks of up to 64
    dest = tmp_path / "results"
    first_mark, mark = uuid.uuid4().hex, uuid.uuid4().hex
    env = os.environ | {"RAY_USAGE_STATS_ENABLED": "0", "GENDERSORT_TEST_RUN": mark}
    command = [sys.executable, "-m", "gendersort", "classify", str(photos), "--engine", "ray",
               "--out", str(dest), "--rows-per-file", "1"]
    first = subprocess.Popen(command, env=env | {"GENDERSORT_TEST_RUN": first_mark},
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and first.poll() is None and not list(dest.glob("part-*.parquet")):
        time.sleep(0.005)
    assert first.poll() is None, f"the run ended before it could be killed: {first.stderr.read()!r}"
    first.send_signal(signal.SIGKILL)
    first.wait()
    first.stderr.close()
    written = rows_in(dest)
    assert 0 < len(written) < 130, "killed midway"

    rerun = subprocess.run([*command, "--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert wait_until_gone(mark, timeout=30) == [], "the cluster ends with the driver"
    rows = rows_in(dest)
    assert len({row["path"] for row in rows}) == len(rows) == 130, "every photo exactly once"
    assert rows == local_rows(photos)
    assert f"{len(written)} files already done in {dest}" in rerun.stderr
    assert f"{130 - len(written)} files: " in rerun.stderr
    assert not RAY_LOG_LINE.search(rerun.stderr), rerun.stderr
    assert not rerun.stdout

    again = subprocess.run([*command, "--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "nothing left to do" in again.stderr, again.stderr
    assert rows_in(dest) == rows
    # Ray's node agents outlive a killed driver's raylet by about a minute here, then end by themselves.
    assert wait_until_gone(first_mark, timeout=120) == [], "the killed driver's cluster went with it"


def test_the_open_model_on_ray_and_a_destination_of_the_other_model(tmp_path, open_model):
    """--model open on a local cluster writes the open model's rows; DEST holding the default model's rows
    (local classify's Parquet, the same dataset) is refused before the cluster starts, not resumed."""
    photos = make_many(tmp_path / "photos", 4)
    mark = uuid.uuid4().hex
    env = os.environ | {"RAY_USAGE_STATS_ENABLED": "0", "GENDERSORT_TEST_RUN": mark}
    command = [sys.executable, "-m", "gendersort", "classify", str(photos), "--device", "cpu"]
    on_ray = [*command, "--engine", "ray", "--model", "open", "--out"]
    default_dest = tmp_path / "default.parquet"
    local = subprocess.run([*command, "--out", str(default_dest)], env=env, capture_output=True, text=True,
                           timeout=300)
    assert local.returncode == 0, local.stderr
    other = subprocess.run([*on_ray, str(default_dest), "--resume"], env=env, capture_output=True, text=True,
                           timeout=300)
    assert other.returncode == 1, other.stderr
    version = GenderClassifier(device="cpu", model_path=open_model).version
    assert f"holds rows of model {GenderClassifier(device='cpu').version}, not {version}" in other.stderr

    dest = tmp_path / "open"
    run = subprocess.run([*on_ray, str(dest)], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert wait_until_gone(mark, timeout=30) == [], "the cluster ends with the driver"
    rows = rows_in(dest)
    assert rows == local_rows(photos, model="open")
    assert {row["model_version"] for row in rows} == {version} and len(rows) == 4


def test_a_resumed_run_exits_2_while_its_destination_holds_error_rows(tmp_path):
    """Error rows stand on a resume, so a resumed run that has nothing left to do still ends as the first run
    did: exit 2, as local classify does (the destination here is local classify's Parquet, the same dataset;
    nothing is left to do, so no cluster starts)."""
    photos = make_many(tmp_path / "photos", 2)
    whole = (photos / "photo-000.jpg").read_bytes()
    (photos / "photo-002.jpg").write_bytes(whole[: len(whole) // 3])
    dest = tmp_path / "results.parquet"
    command = [sys.executable, "-m", "gendersort", "classify", str(photos), "--device", "cpu", "--out",
               str(dest)]
    first = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert first.returncode == 2, first.stderr
    resumed = subprocess.run([*command, "--engine", "ray", "--resume"], capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 2, resumed.stderr
    assert f"3 files already done in {dest} (1 error)" in resumed.stderr
    assert "nothing left to do" in resumed.stderr
