"""Paths shared by the export scripts."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = REPO_ROOT / "gendersort" / "models"
SHARED_DIR = REPO_ROOT.parent / "shared"
FIXTURES_DIR = REPO_ROOT / "tests" / "fixtures"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def real_photo_paths(folders: list[Path] | None = None, per_folder: int = 16) -> list[Path]:
    """Real photos for parity checks: the shipped fixtures, plus shared photos where they exist."""
    if folders is None:
        folders = [FIXTURES_DIR, SHARED_DIR / "data" / "dlib-faces",
                   SHARED_DIR / "data" / "celeba-gender" / "val" / "male"]
    paths: list[Path] = []
    for folder in folders:
        if folder.is_dir():
            found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            paths.extend(found[:per_folder])
    if not paths:
        raise SystemExit("no real photos found for the parity check")
    return paths
