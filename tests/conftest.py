"""Shared fixtures: the shipped photos, and ../shared when it sits beside the repository."""

from __future__ import annotations

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
