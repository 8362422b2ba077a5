"""Which files the viewer steps through: the photos of one folder, in name order, wrapping around."""

from __future__ import annotations

from pathlib import Path

from gendersort.photos.walk import looks_like_image


def photos_in(folder: Path) -> list[Path]:
    """The folder's photos (not its subfolders'), told as `classify` tells them, by name, any case."""
    files = (path for path in folder.iterdir() if path.is_file() and looks_like_image(path))
    return sorted(files, key=lambda path: (path.name.casefold(), path.name))


def neighbour(photos: list[Path], current: Path, offset: int) -> Path:
    """The photo `offset` places after `current` (negative: before), wrapping at either end."""
    return photos[(photos.index(current) + offset) % len(photos)]
