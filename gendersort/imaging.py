"""Decoding photos into upright RGB images."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageOps


def upright_rgb(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation and convert to 8-bit RGB (greyscale, palette, CMYK, 16-bit alike)."""
    image = ImageOps.exif_transpose(image)
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


def load_upright(path: str | Path) -> Image.Image:
    """Open a photo, decode it fully and return it upright in RGB."""
    with Image.open(path) as image:
        image.load()
        return upright_rgb(image)
