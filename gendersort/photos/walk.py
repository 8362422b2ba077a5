"""Finding the photos to work on: walking folder trees in a fixed order and telling images by their bytes."""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

from gendersort.errors import FatalError

# Extensions that claim a file is an image: such a file is reported even when its bytes say otherwise.
IMAGE_SUFFIXES = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".bmp", ".dib", ".gif", ".tif", ".tiff",
    ".avif", ".heic", ".heif",
})
HEAD_BYTES = 32
HEIF_BRANDS = frozenset({
    b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1",
})
AVIF_BRANDS = frozenset({b"avif", b"avis"})
BMP_HEADER_SIZES = frozenset({12, 16, 40, 52, 56, 64, 108, 124})


class MissingPathError(FatalError, FileNotFoundError):
    """A path named on the command line does not exist."""


@dataclass(frozen=True)
class FoundFile:
    """A file to classify, or a problem met while walking (`error` set, `size` and `mtime` unknown)."""

    path: Path
    size: int | None = None
    mtime: float | None = None
    error: str = ""


def sniff_format(head: bytes) -> str | None:
    """The image format that a file's first bytes announce (JPEG, PNG, ..., HEIF), or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in BMP_HEADER_SIZES:
        return "BMP"
    if head[4:8] == b"ftyp":
        box_end = min(int.from_bytes(head[:4], "big"), len(head))
        brands = {head[8:12]} | {head[i:i + 4] for i in range(16, box_end - 3, 4)}
        if brands & AVIF_BRANDS:
            return "AVIF"
        if brands & HEIF_BRANDS:
            return "HEIF"
    return None


@dataclass(frozen=True)
class Patterns:
    """--include and --exclude: shell patterns (*, ?, [abc]; case counts) matched against a file's or a
    folder's name, or, for a pattern holding a /, against its path below the folder given. Only files
    that an include pattern matches are taken (when there are any); what an exclude pattern matches is
    passed over, a folder's contents too."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.include or self.exclude)

    def takes(self, path: Path, root: Path) -> bool:
        """Whether the file at `path`, met in the walk of `root`, is taken."""
        relative = below(path, root)
        return (not self.include or matches(self.include, relative)) and not matches(self.exclude, relative)

    def enters(self, path: Path, root: Path) -> bool:
        return not matches(self.exclude, below(path, root))


EVERY_FILE = Patterns()


def below(path: Path, root: Path) -> PurePosixPath:
    return PurePosixPath(path.relative_to(root).as_posix())


def matches(patterns: Iterable[str], relative: PurePosixPath) -> bool:
    return any(fnmatchcase(str(relative) if "/" in pattern else relative.name, pattern)
               for pattern in patterns)


@dataclass(frozen=True)
class WalkRules:
    """What a walk enters and takes: `excluded`, real paths of folders never entered; `patterns`, None for
    every file (the usual walk pays nothing for them); `passed_over`, told of each file that is not an
    image."""

    recursive: bool = True
    excluded: frozenset[str] = frozenset()
    patterns: Patterns | None = None
    passed_over: Callable[[Path], None] | None = None


def read_head(path: Path) -> bytes:
    with open(path, "rb") as file:
        return file.read(HEAD_BYTES)


def check_paths_exist(paths: Iterable[str | Path]) -> list[Path]:
    """The paths as Path objects; a missing one (a broken link too) stops the run before it starts."""
    checked = [Path(path) for path in paths]
    for path in checked:
        if not path.exists():
            raise MissingPathError(f"{path}: no such file or folder")
    return checked


def find_images(paths: Iterable[str | Path], recursive: bool = True, exclude: Iterable[str | Path] = (), *,
                patterns: Patterns = EVERY_FILE, passed_over: Callable[[Path], None] | None = None,
                listed: Iterable[Path] = ()) -> Iterator[FoundFile]:
    """Every image under the given files and folders, in sorted order, plus the problems met on the way.

    A file is taken when its bytes are an image's or its name says it is one (so a broken photo gets
    reported, while notes.txt is passed over, and `passed_over` told of it); a file named on the command
    line is always taken. Symbolic links are followed; broken ones, loops and unreadable entries come
    back as errors. Folders in `exclude` (for example the destination of a sort) are never entered, and
    `patterns` choose among the files and folders met in the walk. Missing paths raise MissingPathError
    here, before the walk starts; paths `listed` in a file (--files-from) are not checked: a missing one
    is that file's error.
    """
    roots = [*check_paths_exist(paths), *listed]
    rules = WalkRules(recursive, frozenset(os.path.realpath(path) for path in exclude), patterns or None,
                      passed_over)
    return walk_roots(roots, rules)


def read_path_list(source: str) -> list[Path]:
    """The paths in a file, or on stdin for "-": one a line (a name's bytes kept as they are), blank lines
    skipped."""
    try:
        text = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except FileNotFoundError:
        raise MissingPathError(f"{source}: no such file (--files-from)") from None
    lines = (line.removesuffix(b"\r") for line in text.split(b"\n"))
    return [Path(os.fsdecode(line)) for line in lines if line]


def walk_roots(roots: list[Path], rules: WalkRules) -> Iterator[FoundFile]:
    for path in roots:
        if path.is_dir():
            yield from walk(path, path, rules, ancestors=())
        else:
            yield found(path)


def walk(folder: Path, root: Path, rules: WalkRules,
         ancestors: tuple[tuple[int, int], ...]) -> Iterator[FoundFile]:
    real = os.path.realpath(folder)
    if real in rules.excluded:
        return
    try:
        status = folder.stat()
        identity = (status.st_dev, status.st_ino)
        if identity in ancestors:
            yield FoundFile(folder, error="symbolic link loop: this folder contains itself")
            return
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError as error:
        yield FoundFile(folder, error=describe_os_error(error))
        return
    for entry in entries:
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir()
        except OSError as error:
            yield FoundFile(path, error=describe_os_error(error))
            continue
        if is_dir:
            if rules.recursive and (rules.patterns is None or rules.patterns.enters(path, root)):
                yield from walk(path, root, rules, (*ancestors, identity))
        elif rules.patterns is not None and not rules.patterns.takes(path, root):
            continue
        elif (item := found(path)).error or looks_like_image(item.path):
            yield item
        elif rules.passed_over:
            rules.passed_over(path)


def found(path: Path) -> FoundFile:
    """A file with the size and time that resuming compares, or the reason it cannot be reached."""
    try:
        status = path.stat()
    except OSError as error:
        return FoundFile(path, error=describe_os_error(error, path))
    if not stat.S_ISREG(status.st_mode):
        return FoundFile(path, error="not a regular file")
    return FoundFile(path, size=status.st_size, mtime=status.st_mtime)


def looks_like_image(path: Path) -> bool:
    if named_like_image(path.name):
        return True
    try:
        return sniff_format(read_head(path)) is not None
    except PermissionError:
        return True  # cannot tell: report it rather than skip a photo silently
    except OSError:
        return False


def named_like_image(name: str) -> bool:
    """The name claims an image: then the file is reported even when its bytes say otherwise."""
    return PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES


def describe_os_error(error: OSError, path: Path | None = None) -> str:
    """A short reason for a file that cannot be reached, naming links for what they are."""
    if error.errno == errno.ELOOP:
        return "symbolic link loop"
    if error.errno == errno.ENOENT and path is not None and path.is_symlink():
        return f"broken symbolic link (points to {os.readlink(path)})"
    if isinstance(error, PermissionError):
        return "permission denied"
    return error.strerror or str(error)
