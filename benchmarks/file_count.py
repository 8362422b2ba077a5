"""What counting the photos for the progress bar's total costs, three ways, on a tree of small files.

    python -m benchmarks.file_count [--files 100000] [--root /tmp] [--repeat 3]

Makes --files small files in folders of 1,000 under a temporary folder in --root (deleted afterwards):
9 in 10 named .jpg, 1 in 10 without a suffix (JPEG bytes, so the walk reads their first bytes). Then
times the work's own walk (photos.walk.find_images, which classify, sort and evaluate consume) alone, and
each way of counting: the same walk again, in its own thread beside the work's; a fast walk (os.scandir,
names and entry types, no stat) in its own thread beside it; the same walk run first, before the work
starts. Prints, best of --repeat, the seconds until the total is known and the CPU seconds the counting
takes from the work, each also as a ratio to the walk alone.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from gendersort.photos.walk import IMAGE_SUFFIXES, find_images, looks_like_image

FOLDER_SIZE = 1000
JPEG_BYTES = b"\xff\xd8\xff\xe0" + bytes(60)


def make_tree(root: Path, files: int) -> None:
    for index in range(files):
        folder = root / f"{index // FOLDER_SIZE:04d}"
        if index % FOLDER_SIZE == 0:
            folder.mkdir()
        name = f"{index:06d}" if index % 10 == 9 else f"{index:06d}.jpg"
        (folder / name).write_bytes(JPEG_BYTES)


def same_walk(root: Path) -> int:
    return sum(1 for _ in find_images([root]))


def fast_walk(root: Path) -> int:
    """The photos the walk takes, told by names and directory-entry types alone (no stat per file)."""
    count, folders = 0, [root]
    while folders:
        with os.scandir(folders.pop()) as scan:
            for entry in scan:
                if entry.is_dir():
                    folders.append(Path(entry.path))
                elif entry.is_file() and (os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES
                                          or looks_like_image(Path(entry.path))):
                    count += 1
    return count


def beside_the_work(root: Path, count: Callable[[Path], int]) -> tuple[float, float]:
    """(seconds until the total is known, CPU seconds the counting took), counted in a thread while the
    work's own walk runs."""
    counted: list[tuple[int, float, float]] = []
    start = time.perf_counter()

    def run() -> None:
        total = count(root)
        counted.append((total, time.perf_counter() - start, time.thread_time()))

    thread = threading.Thread(target=run)
    thread.start()
    walked = same_walk(root)
    thread.join()
    (total, known, cpu), = counted
    assert total == walked, (total, walked)
    return known, cpu


def before_the_work(root: Path) -> tuple[float, float]:
    """The same walk run to the end before the work starts: the work waits for it."""
    start, cpu = time.perf_counter(), time.thread_time()
    same_walk(root)
    return time.perf_counter() - start, time.thread_time() - cpu


def timed_walk(root: Path) -> float:
    start = time.perf_counter()
    same_walk(root)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.root, prefix="gendersort-count-") as folder:
        root = Path(folder)
        make_tree(root, args.files)
        same_walk(root)  # the directory entries in the cache, as for a walk that has just begun
        alone = min(timed_walk(root) for _ in range(args.repeat))
        print(f"{args.files} files, {os.cpu_count()} cores; the work's walk alone: {alone:.2f} s")
        ways = {"the same walk, in its own thread": lambda: beside_the_work(root, same_walk),
                "a fast walk, in its own thread": lambda: beside_the_work(root, fast_walk),
                "the same walk, before the work": lambda: before_the_work(root)}
        for name, way in ways.items():
            runs = [way() for _ in range(args.repeat)]
            known, cpu = min(run[0] for run in runs), min(run[1] for run in runs)
            print(f"{name:<34} total known after {known:5.2f} s ({known / alone:.2f}x the walk alone), "
                  f"{cpu:5.2f} CPU s ({cpu / alone:.2f}x)")


if __name__ == "__main__":
    main()
