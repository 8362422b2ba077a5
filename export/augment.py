"""Training-time augmentation of margin chips, in the tf.data pipeline (never in the model).

Each change stands for something real photos do to a face that the val parts show too rarely:
a face found a pixel or two apart (the window's jitter), colour and light, blur and small faces, JPEG,
old prints (greyscale, sepia), thumbnails (a face 20-40 px wide, saved at JPEG quality 20-40 and enlarged
back), and hair and ears that do not show or do not mean what they usually mean (tied back, short,
covered): the context band around the face is hidden at random, so the network cannot lean on it alone.
"""

from __future__ import annotations

import math

import tensorflow as tf

from export.degrade import FACE_WIDTH_IN_EYE_DISTANCES

SEPIA = tf.constant([[0.393, 0.349, 0.272], [0.769, 0.686, 0.534], [0.189, 0.168, 0.131]])


def jittered_window(images: tf.Tensor, size: int, margin: int) -> tf.Tensor:
    """The chip's window moved as a face found a little differently moves it: shifted up to 5 px,
    scaled 0.9-1.1, turned up to 8 degrees, mirrored for half; read from the margin around the chip, so
    there is real photo, not black, at the edges. With no change it is exactly the runtime's chip."""
    batch = tf.shape(images)[0]
    angle = tf.random.uniform([batch], -8.0, 8.0) * math.pi / 180
    scale = tf.random.uniform([batch], 0.9, 1.1)
    shift = tf.random.uniform([batch, 2], -5.0, 5.0)
    flip = tf.where(tf.random.uniform([batch]) < 0.5, -1.0, 1.0)
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    centre = (size - 1) / 2
    # Output pixel (x, y) reads input pixel (a0 x + a1 y + a2, b0 x + b1 y + b2).
    a0, a1 = cos * flip, -sin
    b0, b1 = sin * flip, cos
    a2 = centre + margin + shift[:, 0] - (a0 + a1) * centre
    b2 = centre + margin + shift[:, 1] - (b0 + b1) * centre
    zeros = tf.zeros([batch])
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=[size, size], fill_value=0.0,
        interpolation="BILINEAR", fill_mode="CONSTANT")


def lower_resolution(images: tf.Tensor, probability: float = 0.25) -> tf.Tensor:
    """Shrink some chips to 1/5-3/5 of their side and blow them back up.

    The detector finds faces far smaller than the chip, and their chips reach the classifier this
    blurry; a model trained only on sharp crops calls a quarter-size woman a man more often.
    """
    batch, size = tf.shape(images)[0], tf.shape(images)[1:3]
    small = tf.cast(tf.cast(size, tf.float32) * tf.random.uniform([], 0.2, 0.6), tf.int32)
    blurry = tf.image.resize(tf.image.resize(images, small, antialias=True), size)
    return tf.where(tf.random.uniform([batch, 1, 1, 1]) < probability, blurry, images)


def thumbnail(image: tf.Tensor, eye_distance_px: float) -> tf.Tensor:
    """One uint8 margin chip as a thumbnail's face comes out: the face shrunk to 20-40 px wide, saved at
    JPEG quality 20-40, enlarged back to the chip's scale (as the aligner enlarges a small face)."""
    side = tf.shape(image)[0]
    face_px = tf.random.uniform([], 20.0, 40.0)
    factor = face_px / (FACE_WIDTH_IN_EYE_DISTANCES * eye_distance_px)
    small_side = tf.maximum(8, tf.cast(tf.cast(side, tf.float32) * factor, tf.int32))
    small = tf.image.resize(image, [small_side, small_side], antialias=True)
    small = tf.cast(tf.clip_by_value(tf.round(small), 0, 255), tf.uint8)
    small = tf.image.random_jpeg_quality(small, 20, 40)
    enlarged = tf.image.resize(small, [side, side], method="bilinear")
    return tf.cast(tf.clip_by_value(tf.round(enlarged), 0, 255), tf.uint8)


def per_chip(image: tf.Tensor, eye_distance_px: float, thumbnails: float) -> tf.Tensor:
    """The changes that need one uint8 chip at a time (JPEG): a thumbnail for `thumbnails` of them,
    else JPEG re-compression at a random low quality for a fifth."""
    draw = tf.random.uniform([])
    return tf.case([(draw < thumbnails, lambda: thumbnail(image, eye_distance_px)),
                    (draw < thumbnails + 0.2, lambda: tf.image.random_jpeg_quality(image, 30, 90))],
                   default=lambda: image)


def face_ellipse(size: int, geometry: dict, batch: tf.Tensor) -> tf.Tensor:
    """(batch, size, size, 1) in [0, 1]: 1 on the face (brow to chin, cheek to cheek), 0 on the band of
    hair, ears and background around it, a soft edge between; its size varies a little per chip."""
    eye_distance = geometry["eye_distance"] * size
    centre_y = geometry["eye_y"] * size + 0.45 * eye_distance
    half_width = 0.95 * eye_distance * tf.random.uniform([batch, 1, 1, 1], 0.9, 1.12)
    half_height = 1.3 * eye_distance * tf.random.uniform([batch, 1, 1, 1], 0.9, 1.1)
    ys, xs = tf.meshgrid(tf.range(size, dtype=tf.float32), tf.range(size, dtype=tf.float32), indexing="ij")
    xs, ys = xs[None, :, :, None], ys[None, :, :, None]
    radius = tf.sqrt(((xs - (size - 1) / 2) / half_width) ** 2 + ((ys - centre_y) / half_height) ** 2)
    return tf.clip_by_value((1.12 - radius) / 0.12, 0.0, 1.0)


def hide_context(images: tf.Tensor, geometry: dict, probability: float) -> tf.Tensor:
    """For `probability` of the chips, the band outside the face is blurred away, cut to one flat
    colour, or filled with noise (a third each): hair length and ears stop deciding alone."""
    batch, size = tf.shape(images)[0], images.shape[1]
    face = face_ellipse(size, geometry, batch)
    small = tf.image.resize(images, [size // 16, size // 16], antialias=True)
    blurred = tf.image.resize(small, [size, size], method="bilinear")
    flat = tf.random.uniform([batch, 1, 1, 3], 0.0, 255.0) * tf.ones_like(images)
    noise = tf.random.uniform(tf.shape(images), 0.0, 255.0)
    kind = tf.random.uniform([batch, 1, 1, 1])
    band = tf.where(kind < 1 / 3, blurred, tf.where(kind < 2 / 3, flat, noise))
    hidden = face * images + (1.0 - face) * band
    return tf.where(tf.random.uniform([batch, 1, 1, 1]) < probability, hidden, images)


def old_print(images: tf.Tensor, greyscale: float, sepia: float) -> tf.Tensor:
    """Greyscale for `greyscale` of the chips, sepia for `sepia`, colour jitter for the rest."""
    batch = tf.shape(images)[0]
    grey = tf.reduce_sum(images * [0.299, 0.587, 0.114], axis=-1, keepdims=True)
    saturation = tf.random.uniform([batch, 1, 1, 1], 0.6, 1.4)
    draw = tf.random.uniform([batch, 1, 1, 1])
    saturation = tf.where(draw < greyscale, 0.0, saturation)
    coloured = grey + saturation * (images - grey)
    toned = tf.clip_by_value(tf.einsum("bhwc,cd->bhwd", images, SEPIA), 0.0, 255.0)
    return tf.where(draw >= 1.0 - sepia, toned, coloured)


def augment_batch(images: tf.Tensor, size: int, margin: int, geometry: dict, hide: float) -> tf.Tensor:
    """Window jitter and mirror, hidden context, old prints and colour, contrast and light, blur and
    low resolution: each drawn per example."""
    batch = tf.shape(images)[0]
    images = jittered_window(images, size, margin)
    images = hide_context(images, geometry, hide)
    images = old_print(images, greyscale=0.1, sepia=0.06)
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    contrast = tf.random.uniform([batch, 1, 1, 1], 0.7, 1.3)
    brightness = tf.random.uniform([batch, 1, 1, 1], -30.0, 30.0)
    images = (images - mean) * contrast + mean + brightness
    blurred = tf.nn.avg_pool2d(images, 3, 1, "SAME")
    images = tf.where(tf.random.uniform([batch, 1, 1, 1]) < 0.15, blurred, images)
    return tf.clip_by_value(lower_resolution(images), 0.0, 255.0)
