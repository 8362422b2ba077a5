"""Opening a photo by its content, with one clear sentence for every way a file can fail to be a photo."""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import BinaryIO

from PIL import Image, features

from gendersort.photos import jpeg_band
from gendersort.photos.imaging import (
    FIRST_ROWS_SIDE,
    Box,
    Photo,
    band_origin,
    orientation,
    rows_reaching,
    upright_rgb_in_place,
    upright_size,
)
from gendersort.photos.walk import HEAD_BYTES, describe_os_error, sniff_format

HEIF_HINT = "HEIC/HEIF needs the heif extra: pip install 'gendersort[heif]'"
AVIF_HINT = "AVIF needs Pillow 11.3 or later built with AVIF support"
BOMB = "too many pixels to decode safely (decompression bomb limit)"
NOT_AN_IMAGE = "not an image: its content is none of JPEG, PNG, WebP, BMP, GIF, TIFF, AVIF, HEIC/HEIF"


# Given a photo's full size, how many times fewer pixels across its decode may have (see faces/resolution.py).
ReductionRule = Callable[[tuple[int, int]], int]


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
    return open_photo(path).image


def open_photo(path: str | Path, reduction_for: ReductionRule | None = None, within: Box | None = None
               ) -> Photo:
    """Decode a photo upright in 8-bit RGB; a JPEG at the coarsest DCT scale `reduction_for` allows, and,
    when only the box `within` (full-resolution pixels) is wanted, its rows down to that box alone."""
    try:
        with open(path, "rb") as file:
            return read_photo(file, reduction_for, within)
    except OSError as error:
        raise UnreadableImageError(describe_os_error(error, Path(path))) from error


def photo_from_bytes(data: bytes, reduction_for: ReductionRule | None = None, within: Box | None = None
                     ) -> Photo:
    """open_photo for content already fetched (from an object store, by a distributed engine): the same
    decode, byte for byte, so the same pixels."""
    return read_photo(io.BytesIO(data), reduction_for, within)


def read_photo(file: BinaryIO, reduction_for: ReductionRule | None = None, within: Box | None = None
               ) -> Photo:
    """Tell the format by the first bytes, then decode (file or memory alike)."""
    kind = supported_format(file.read(HEAD_BYTES))
    file.seek(0)
    return decode(file, kind, reduction_for, within)


def decode(file: BinaryIO, kind: str, reduction_for: ReductionRule | None = None, within: Box | None = None
           ) -> Photo:
    """Pillow's decoding, every failure turned into a sentence.

    An image over Pillow's decompression-bomb limit is an error: a nightly job over strangers' files
    should not spend minutes and gigabytes on a 100-megapixel image that is more likely hostile than a
    portrait. Its size is in the header, so it is refused before any pixel is decoded (a check that,
    unlike turning Pillow's warning into an error, is safe in threads).
    """
    try:
        with Image.open(file) as image:
            check_pixel_count(image.size)
            full_size = upright_size(image)  # a JPEG's EXIF comes before its pixels
            reduction = draft(image, reduction_for(image.size)) if reduction_for else 1
            if within is not None and kind == "JPEG" and (band := first_rows(file, image, within, full_size,
                                                                             reduction)):
                return band
            image.load()
            upright = upright_rgb_in_place(image)
            return Photo(upright, upright.size if reduction == 1 else full_size, reduction)
    except UnreadableImageError:
        raise
    except Image.DecompressionBombError as error:
        raise UnreadableImageError(f"{BOMB}: {error}") from error
    except Exception as error:  # Pillow's decoders raise many types (OSError, SyntaxError, ValueError...)
        raise UnreadableImageError(f"cannot decode this {kind} file: {error}") from error


def first_rows(file: BinaryIO, image: Image.Image, within: Box, full_size: tuple[int, int],
               reduction: int) -> Photo | None:
    """The JPEG decoded (at the scale drafted for `image`) down to the rows that reach across the box
    `within` of the upright photo, and no further (jpeg_band.py); None where that would be the whole file.

    The band holds the pixels the whole decode has there, and `origin` says where it lies in the whole.
    """
    side = FIRST_ROWS_SIDE.get(orientation(image), "top")
    header = jpeg_band.frame(file)
    if header is None:
        return None
    height = jpeg_band.band_height(header, rows_reaching(within, side, full_size))
    if height >= header.height:
        return None
    try:
        with Image.open(jpeg_band.WithHeight(file, header, height)) as band:
            if draft(band, reduction) != reduction:
                return None
            band.load()
            x, y = band_origin(side, image.size[1], band.size[1])
            return Photo(upright_rgb_in_place(band), full_size, reduction, (x * reduction, y * reduction))
    except Exception:  # the band only saves time: a file it cannot cut is decoded whole
        return None


def check_pixel_count(size: tuple[int, int]) -> None:
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and size[0] * size[1] > limit:
        raise UnreadableImageError(f"{BOMB}: {size[0]} x {size[1]} pixels, over the {limit} allowed")


def draft(image: Image.Image, reduction: int) -> int:
    """Ask the JPEG decoder for 1/reduction of the pixels across; the reduction it will decode at.

    JPEG's DCT can be inverted at 1/2, 1/4 or 1/8 scale for a fraction of the cost of a full decode;
    other formats decode whole (reduction 1).
    """
    if reduction <= 1:
        return 1
    width, height = image.size
    drafted = image.draft(None, (max(1, width // reduction), max(1, height // reduction)))
    return round(width / drafted[1][2]) if drafted else 1


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
