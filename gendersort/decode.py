"""Opening a photo by its content, with one clear sentence for every way a file can fail to be a photo."""

from __future__ import annotations

import warnings
from functools import cache
from pathlib import Path
from typing import BinaryIO

from PIL import Image, features

from gendersort.files import HEAD_BYTES, describe_os_error, sniff_format
from gendersort.imaging import upright_rgb

HEIF_HINT = "HEIC/HEIF needs the heif extra: pip install 'gendersort[heif]'"
AVIF_HINT = "AVIF needs Pillow 11.3 or later built with AVIF support"
NOT_AN_IMAGE = "not an image: its content is none of JPEG, PNG, WebP, BMP, GIF, TIFF, AVIF, HEIC/HEIF"


class UnreadableImageError(Exception):
    """A file that cannot be decoded into a photo; the message says why, for the error column."""


@cache
def heif_supported() -> bool:
    """Register pillow-heif's opener once, when the optional extra is installed."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return False
    register_heif_opener()
    return True


def open_upright(path: str | Path) -> Image.Image:
    """Decode a photo (the first frame of an animation) and return it upright in 8-bit RGB."""
    try:
        with open(path, "rb") as file:
            head = file.read(HEAD_BYTES)
            kind = supported_format(head)
            file.seek(0)
            return decode(file, kind)
    except OSError as error:
        raise UnreadableImageError(describe_os_error(error, Path(path))) from error


def decode(file: BinaryIO, kind: str) -> Image.Image:
    """Pillow's decoding, every failure turned into a sentence.

    The decompression-bomb warning counts as an error: a nightly job over strangers' files should not
    spend minutes and gigabytes on a 100-megapixel image that is more likely hostile than a portrait.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(file) as image:
                image.load()
                return upright_rgb(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise UnreadableImageError(f"too many pixels to decode safely (decompression bomb limit): {error}") \
            from error
    except Exception as error:  # Pillow's decoders raise many types (OSError, SyntaxError, ValueError...)
        raise UnreadableImageError(f"cannot decode this {kind} file: {error}") from error


def supported_format(head: bytes) -> str:
    """Refuse empty files, non-images and formats this installation cannot read, before Pillow tries."""
    if not head:
        raise UnreadableImageError("empty file (0 bytes)")
    kind = sniff_format(head)
    if kind is None:
        raise UnreadableImageError(NOT_AN_IMAGE)
    if kind == "HEIF" and not heif_supported():
        raise UnreadableImageError(HEIF_HINT)
    if kind == "AVIF" and not features.check("avif"):
        raise UnreadableImageError(AVIF_HINT)
    return kind
