"""What the Ray engine's tests share: the skip when the extra is missing, a fixture tree that holds every
kind of name Ray's own reader passes over, and local classify's rows to hold the engine's rows against."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from gendersort.models.registry import DEFAULT_MODEL
from gendersort.pipeline.api import classify_paths
from tests.conftest import FIXTURES, save_two_face_photo

EXTRA = "needs the ray extra (pip install -e '.[ray]'): ray[data] and pyarrow"
Row = dict[str, object]


def need_ray() -> None:
    """Skip the module, with the reason, when the ray extra is not installed."""
    for module in ("ray", "ray.data", "pyarrow"):
        pytest.importorskip(module, reason=EXTRA)


def make_tree(folder: Path) -> Path:
    """Real photos under a `_private/` folder, a dot name and a Unicode name, a corrupt file, a photo of two
    faces, a large JPEG (decoded at a reduced scale), and notes.txt, which is no photo."""
    (folder / "_private").mkdir(parents=True)
    (folder / "sub").mkdir()
    shutil.copy(FIXTURES / "astronaut.png", folder / "astronaut.png")
    shutil.copy(FIXTURES / "camera.png", folder / "_private" / "camera.png")
    shutil.copy(FIXTURES / "chelsea.png", folder / "sub" / ".hidden.png")
    shutil.copy(FIXTURES / "coffee.png", folder / "sub" / "café ☕ 写真.png")
    save_two_face_photo(folder / "sub" / "two.png")
    Image.open(FIXTURES / "astronaut.png").convert("RGB").resize((2048, 2048)).save(folder / "large.jpg")
    whole = (FIXTURES / "camera.png").read_bytes()
    (folder / "corrupt.png").write_bytes(whole[: len(whole) // 3])
    (folder / "notes.txt").write_text("not a photo\n")
    return folder


def make_many(folder: Path, count: int) -> Path:
    """`count` distinct small photos (crops of the fixtures), enough for several blocks of work."""
    folder.mkdir(parents=True)
    sources = [Image.open(FIXTURES / name).convert("RGB") for name in ("astronaut.png", "camera.png")]
    for index in range(count):
        image = sources[index % 2]
        shift = 4 * (index // 2)
        image.crop((shift % 64, shift // 64 * 8, 384 + shift % 64, 384 + shift // 64 * 8)).resize(
            (192, 192)).save(folder / f"photo-{index:03d}.jpg", quality=90)
    return folder


def pids_with(text: str, in_file: str) -> list[int]:
    """The processes whose /proc/PID/`in_file` (cmdline, environ) holds `text`: Ray's, found as a person
    would find them, to kill one or to see that none is left."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text.encode() in (entry / in_file).read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue  # it ended while looked at
    return found


def local_rows(folder: Path, faces: str = "largest", model: str = DEFAULT_MODEL) -> list[Row]:
    """The rows local classify writes for a folder (by the classifier `model`), in a fixed order."""
    return by_key([row for result in classify_paths([folder], faces=faces, device="cpu", model=model)
                   for row in result.rows()])


def by_key(rows: list[Row]) -> list[Row]:
    """Rows in a fixed order (a Parquet dataset keeps none): by path, then face."""
    return sorted(rows, key=lambda row: (row["path"], -1 if row["face_index"] is None else row["face_index"]))
