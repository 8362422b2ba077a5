"""Shared fixtures: the shipped photos, and ../shared when it sits beside the repository."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
from PIL import Image

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
# Where the face is in astronaut.png (512 x 512), measured once and checked by eye.
ASTRONAUT_FACE_CENTRE = (224.0, 120.0)


@pytest.fixture(scope="session")
def astronaut() -> Image.Image:
    return Image.open(FIXTURES / "astronaut.png").convert("RGB")


@pytest.fixture(scope="session")
def detector():
    from gendersort.detector import FaceDetector

    return FaceDetector(device="cpu")


def needs_shared(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (../shared beside the repository)")
    return path


def save_two_face_photo(path: Path) -> Path:
    """The astronaut beside her mirror image: a real photo with two faces, saved to `path`."""
    astronaut = Image.open(FIXTURES / "astronaut.png").convert("RGB")
    pair = Image.new("RGB", (1024, 512))
    pair.paste(astronaut, (0, 0))
    pair.paste(astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT), (512, 0))
    pair.save(path)
    return path


def kill_midway(command: list[str], watched: Path, lines: int, timeout: float = 120) -> None:
    """Start a gendersort run and SIGKILL it once `watched` holds `lines` lines: a crash at a real moment."""
    run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (not watched.exists() or watched.read_bytes().count(b"\n") < lines):
        time.sleep(0.002)
    assert run.poll() is None, f"the run ended before it could be killed: {run.stderr.read()!r}"
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert run.returncode == -signal.SIGKILL
