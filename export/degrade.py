"""Old and small photos, made from good ones, to score what the classifier loses on them.

The same three kinds the training draws (export/augment.py), each fixed here so that every epoch and
every model is scored on the very same images: greyscale, sepia (an old print), and a thumbnail (the face
about THUMBNAIL_FACE_PX wide, saved at JPEG quality THUMBNAIL_QUALITY, enlarged back). They apply to a
whole photo (export/evaluate.py, through the pipeline) or to margin chips (export/train.py, every epoch).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

SEPIA = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]], np.float32)
THUMBNAIL_FACE_PX = 30
THUMBNAIL_QUALITY = 30
KINDS = ("greyscale", "sepia", "thumbnail")
# A face's width in a chip, in eye distances (cheek to cheek, ears left out): thumbnails are sized by it.
FACE_WIDTH_IN_EYE_DISTANCES = 1.9


def greyscale(image: Image.Image) -> Image.Image:
    return image.convert("L").convert("RGB")


def sepia(image: Image.Image) -> Image.Image:
    pixels = np.asarray(image.convert("RGB"), np.float32) @ SEPIA.T
    return Image.fromarray(np.clip(np.round(pixels), 0, 255).astype(np.uint8))


def thumbnail(image: Image.Image, factor: float, quality: int = THUMBNAIL_QUALITY) -> Image.Image:
    """The photo shrunk by `factor`, saved as a JPEG at `quality`, and enlarged back to its size."""
    small_size = (max(8, round(image.width * factor)), max(8, round(image.height * factor)))
    buffer = io.BytesIO()
    image.convert("RGB").resize(small_size, Image.Resampling.LANCZOS).save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB").resize(image.size,
                                                                             Image.Resampling.BILINEAR)


def face_thumbnail_factor(eye_distance_px: float) -> float:
    """How much to shrink a photo whose face's eyes are `eye_distance_px` apart so that the face is about
    THUMBNAIL_FACE_PX wide."""
    return min(1.0, THUMBNAIL_FACE_PX / (FACE_WIDTH_IN_EYE_DISTANCES * eye_distance_px))


def degraded_chips(chips: np.ndarray, kind: str, eye_distance_px: float) -> np.ndarray:
    """Margin chips (N, S, S, 3) uint8 changed by `kind`: each chip as its photo would come out."""
    change = {"greyscale": greyscale, "sepia": sepia,
              "thumbnail": lambda image: thumbnail(image, face_thumbnail_factor(eye_distance_px))}[kind]
    return np.stack([np.asarray(change(Image.fromarray(chip))) for chip in chips])
