"""Decoding photos into upright RGB images."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import ExifTags, Image, ImageOps

# EXIF orientations that turn the stored image a quarter turn (width and height swap places).
QUARTER_TURNS = frozenset({5, 6, 7, 8})
# Which side of the upright photo the file's first rows make, per EXIF orientation (1, or none: the top).
FIRST_ROWS_SIDE = {1: "top", 2: "top", 3: "bottom", 4: "bottom", 5: "left", 6: "right", 7: "right", 8: "left"}

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Photo:
    """An upright RGB image decoded at 1/`reduction` of its file's resolution (JPEG DCT scaling).

    Faces are always located in full-resolution pixels (`full_size` wide and high), so what is written
    about a photo does not depend on the scale it was decoded at. Full-resolution point (x, y) lies at
    ((x, y) - origin) / reduction in `image`: `origin` is (0, 0) but where only a band of the photo was
    decoded, for the chips of faces inside it (decode.py).
    """

    image: Image.Image
    full_size: tuple[int, int]
    reduction: int = 1
    origin: tuple[int, int] = (0, 0)

    @classmethod
    def whole(cls, image: Image.Image) -> Photo:
        """An image taken as it is, every pixel of it."""
        return cls(image, image.size)


def upright_rgb(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation and convert to 8-bit RGB (greyscale, palette, CMYK, 16-bit alike).

    Always a new image: `image` is left as it was.
    """
    return rgb(ImageOps.exif_transpose(image))


def upright_rgb_in_place(image: Image.Image) -> Image.Image:
    """upright_rgb for an image nobody else holds: turned in place, not copied (a 12-megapixel copy
    costs as much as a fifth of its decode); the image itself when it is upright RGB already."""
    ImageOps.exif_transpose(image, in_place=True)
    return rgb(image)


def rgb(image: Image.Image) -> Image.Image:
    """The image in 8-bit RGB: 16-bit scaled down, transparency over white."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = image.point(lambda value: value / 256).convert("L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def orientation(image: Image.Image) -> int:
    """The EXIF orientation of an opened image (1, upright, when it has none)."""
    return image.getexif().get(ExifTags.Base.Orientation, 1)


def upright_size(image: Image.Image) -> tuple[int, int]:
    """The size an opened (not yet decoded) image will have once upright_rgb has turned it."""
    width, height = image.size
    return (height, width) if orientation(image) in QUARTER_TURNS else (width, height)


def rows_reaching(box: Box, side: str, size: tuple[int, int]) -> float:
    """How many of the file's rows, from its first, reach across an upright box of a photo of `size`, its
    first rows making `side` of the upright photo."""
    x0, y0, x1, y1 = box
    return {"top": y1, "bottom": size[1] - y0, "left": x1, "right": size[0] - x0}[side]


def band_origin(side: str, rows: int, band_rows: int) -> tuple[int, int]:
    """Where a band of the file's first `band_rows` rows (of `rows`) lies in the upright photo, its first
    rows making `side` of it (in pixels of the same scale)."""
    below = rows - band_rows
    return {"bottom": (0, below), "right": (below, 0)}.get(side, (0, 0))


def load_upright(path: str | Path) -> Image.Image:
    """Open a photo, decode it fully and return it upright in RGB."""
    with Image.open(path) as image:
        image.load()
        return upright_rgb(image)
