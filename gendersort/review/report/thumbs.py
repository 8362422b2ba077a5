"""Small embedded thumbnails for the HTML report, and face boxes in their coordinates.

A report over thousands of photos must stay a file one can mail, so each thumbnail is a small JPEG data URI;
JPEGs are decoded at reduced scale (Pillow's draft mode) because full decodes of 12-megapixel photos would
dominate the report's generation time.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from gendersort.photos.decode import heif_supported
from gendersort.photos.imaging import upright_rgb
from gendersort.review.results_file import Box

# EXIF orientations that swap width and height once the photo is turned upright.
TRANSPOSING_ORIENTATIONS = {5, 6, 7, 8}
EXIF_ORIENTATION_TAG = 0x0112


@dataclass(frozen=True)
class Thumbnail:
    data_uri: str
    upright_size: tuple[int, int]  # the full upright photo's (width, height), the frame of the face boxes

    def box_percent(self, box: Box) -> tuple[float, float, float, float]:
        """A box (x0, y0, x1, y1) in upright pixels as (left, top, width, height) percentages, clipped."""
        width, height = self.upright_size
        x0, x1 = (min(max(x / width, 0.0), 1.0) * 100 for x in (box[0], box[2]))
        y0, y1 = (min(max(y / height, 0.0), 1.0) * 100 for y in (box[1], box[3]))
        return round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)


def make_thumbnail(path: str | Path, size: int = 160, quality: int = 75) -> Thumbnail:
    """An upright JPEG thumbnail at most `size` pixels on its longer side; raises OSError if unreadable."""
    heif_supported()  # registers the HEIC opener when the heif extra is installed
    with Image.open(path) as image:
        width, height = image.size
        if image.getexif().get(EXIF_ORIENTATION_TAG) in TRANSPOSING_ORIENTATIONS:
            width, height = height, width
        image.draft("RGB", (size * 2, size * 2))
        image.load()
        small = upright_rgb(image)
    small.thumbnail((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=quality, optimize=True)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return Thumbnail(f"data:image/jpeg;base64,{encoded}", (width, height))
