"""The export scripts' first steps on fixture photos, for the tests of the export path (run as the user runs
them: `python -m export....` in the repository)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageOps

from tests.conftest import FIXTURES

REPO = Path(__file__).resolve().parent.parent


def run_module(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def labelled_tree(root: Path) -> None:
    """train/ and val/ with a few variants of one female and one male fixture photo."""
    sources = {"female": FIXTURES / "astronaut.png", "male": FIXTURES / "camera.png"}
    for split in ("train", "val"):
        for label, source in sources.items():
            folder = root / split / label
            folder.mkdir(parents=True)
            image = Image.open(source).convert("RGB")
            for index, variant in enumerate([image, ImageOps.mirror(image), image.resize((400, 400))]):
                variant.save(folder / f"{index}.jpg", quality=90)


def cut_chips(tmp_path: Path) -> Path:
    """Detections, then margin chips, of the fixture tree: the same two steps as for the real sets."""
    labelled_tree(tmp_path / "data")
    found = run_module("export.detections", str(tmp_path / "data"), "--out", str(tmp_path / "detections"),
                       "--workers", "1")
    assert "data train: 6 images, 0 without a face" in found
    chips_out = run_module("export.chips", str(tmp_path / "data"), "--detections",
                           str(tmp_path / "detections"), "--out", str(tmp_path / "chips"), "--workers", "1")
    assert "data-train: 6 chips" in chips_out
    return tmp_path / "chips"
