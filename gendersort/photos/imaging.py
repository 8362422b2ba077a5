"""Decoding photos into upright RGB images."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import ExifTags, Image, ImageOps

# EXIF orientations that turn the stored image a quarter turn (width and height swap places).
QUARTER_TURNS = frozenset({5, 6, 7, 8})


@dataclass(frozen=True)
class Photo:
    """An upright RGB image decoded at 1/`reduction` of its file's resolution (JPEG DCT scaling).

    Faces are always located in full-resolution pixels (`full_size` wide and high), so what is written
    about a photo does not depend on the scale it was decoded at. Full-resolution point (x, y) lies at
    (x, y) / reduction in `image`.
    """

    image: Image.Image
    full_size: tuple[int, int]
    reduction: int = 1

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


def upright_size(image: Image.Image) -> tuple[int, int]:
    """The size an opened (not yet decoded) image will have once upright_rgb has turned it."""
    width, height = image.size
    if image.getexif().get(ExifTags.Base.Orientation, 1) in QUARTER_TURNS:
        return height, width
    return width, height


def load_upright(path: str | Path) -> Image.Image:
    """Open a photo, decode it fully and return it upright in RGB."""
    with Image.open(path) as image:
        image.load()
        return upright_rgb(image)
