"""The progress bar as a person at a terminal sees it (stderr on a pseudo-terminal): done/total, the
percentage, the rate and the time left, for every command that works through many photos, on a terminal
of a given width and on one whose width reads as 0 (as under `script` or on some CI consoles)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.conftest import FIXTURES

SCRIPT = Path(sys.executable).parent / "gendersort"
PHOTOS = 12
# " 42%|████▏     | 5/12 [00:01<00:01, 4.61 photos/s]", the bar of whatever characters the terminal takes
FRAME = re.compile(r"^ *(\d+)%\|.+\| (\d+)/(\d+) \[\d\d:\d\d<(\d\d:\d\d|\?), +([\d.]+|\?) photos/s\]$")


def on_a_terminal(columns: int, arguments: list[object], cwd: Path) -> list[str]:
    """What a command draws on stderr, a terminal `columns` wide (0: it reports no width), frame by frame."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24 if columns else 0, columns, 0, 0))
    run = subprocess.Popen([SCRIPT, *map(str, arguments)], cwd=cwd,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    drawn = bytearray()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if select.select([leader], [], [], 1)[0]:
            try:
                chunk = os.read(leader, 1 << 16)
            except OSError:  # EIO: the command has ended, and with it the terminal's other side
                break
            if not chunk:
                break
            drawn += chunk
        elif run.poll() is not None:
            break
    os.close(leader)
    assert run.wait(30) == 0, drawn.decode(errors="replace")
    return [frame.strip("\n") for frame in re.split(r"\r\n|\r|\n", drawn.decode()) if frame.strip()]


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """12 real photos in photos/, the same filed as a labelled tree in labelled/, and their results.csv."""
    root = tmp_path_factory.mktemp("work")
    names = sorted(path.name for path in FIXTURES.glob("*.png"))
    for index in range(PHOTOS):
        name = names[index % len(names)]
        for folder in (root / "photos", root / "labelled" / ("male" if index % 2 else "female")):
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(FIXTURES / name, folder / f"{index:02d}-{name}")
    classify = [SCRIPT, "classify", "photos", "--out", "results.csv", "--device", "cpu", "--quiet"]
    assert subprocess.run(classify, cwd=root).returncode == 0
    return root


COMMANDS = {
    "classify": ["classify", "photos", "--out", "out.csv", "--overwrite", "--device", "cpu"],
    "sort": ["sort", "photos", "sorted", "--dry-run", "--device", "cpu"],
    "evaluate": ["evaluate", "labelled", "--device", "cpu"],
    "report": ["report", "results.csv", "--out", "report.html", "--overwrite"],
}


@pytest.mark.parametrize(("command", "columns"), [
    ("classify", 100), ("classify", 0), ("sort", 0), ("evaluate", 0), ("report", 0)])
def test_the_bar_shows_done_of_total_percent_rate_and_time_left(work, command, columns):
    frames = on_a_terminal(columns, COMMANDS[command], work)
    bars = [match for frame in frames if (match := FRAME.match(frame))]
    assert bars, f"no bar with a total among {frames}"
    assert {int(bar.group(3)) for bar in bars} == {PHOTOS}
    assert any(int(bar.group(2)) < PHOTOS for bar in bars), "the total is known while the work goes on"
    last = bars[-1]
    assert (last.group(1), last.group(2), last.group(4)) == ("100", str(PHOTOS), "00:00")
    assert float(last.group(5)) > 0
    width = columns or 80
    assert all(len(bar.group(0)) <= width for bar in bars)
    assert max(len(bar.group(0)) for bar in bars) > width - 10, "the bar fills the line"
