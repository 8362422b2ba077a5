"""Putting one file in its place for job.py, never over another: a copy verified by size and SHA-256
before it takes its name, a hard link (a move on one filesystem) or a symbolic link, and free names."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

CHUNK = 1 << 20
# os.link fails with these where a hard link cannot be made (another filesystem, exFAT, some shares, an
# immutable file).
NO_HARD_LINK = frozenset({errno.EXDEV, errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK})


def candidate_names(folder: Path, name: str) -> Iterator[Path]:
    """name.jpg, then name (1).jpg, name (2).jpg, ... (endless)."""
    yield folder / name
    stem, suffix = os.path.splitext(name)
    number = 1
    while True:
        yield folder / f"{stem} ({number}){suffix}"
        number += 1


def already_placed(source: Path, candidate: Path, link: bool) -> bool:
    """True when the candidate holds the source's content (for `link`, points at it). Only a record of
    this very placement makes that proof that it is the source's own (job.py's journal)."""
    if link:
        return candidate.is_symlink() and os.readlink(candidate) == os.path.abspath(source)
    if candidate.is_symlink() or not candidate.is_file():
        return False
    if os.path.samefile(source, candidate):
        return True
    return candidate.stat().st_size == source.stat().st_size and sha256(candidate) == sha256(source)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def copy_verified(source: Path, destination: Path) -> None:
    """Copy through a hidden partial file that takes its name only once its size and SHA-256 match."""
    partial = destination.with_name(f".{destination.name}.gendersort-partial")
    digest = hashlib.sha256()
    with open(source, "rb") as reader, open(partial, "wb") as writer:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
            writer.write(chunk)
        writer.flush()
        os.fsync(writer.fileno())
    shutil.copystat(source, partial)
    if partial.stat().st_size != source.stat().st_size or sha256(partial) != digest.hexdigest():
        partial.unlink()
        raise OSError(f"the copy of {source} does not match it; nothing was changed")
    os.replace(partial, destination)


def place_for_move(source: Path, destination: Path) -> None:
    """Give the file its new name without yet deleting the old: a hard link, else a verified copy.

    The original is deleted by the caller once the file is in place.
    """
    if not source.is_symlink():  # a symbolic link is moved as the file it points to
        try:
            os.link(source, destination)
            return
        except OSError as error:
            if error.errno not in NO_HARD_LINK:
                raise
    copy_verified(source, destination)


def link(source: Path, destination: Path) -> None:
    os.symlink(os.path.abspath(source), destination)


TRANSFERS = {"copy": copy_verified, "move": place_for_move, "link": link}
