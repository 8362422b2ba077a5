"""How good a face's photo is, read off its aligned chip, as numbers a stack can weigh (export/stack.py's
quality forms): greyscale and sepia photos have no colour of their own, thumbnails and small faces are
blurred. Both are 0 on a good photo and 1 on a bad one, so a stack's quality terms vanish where v4's plain
form already holds. Each is defined twice, in numpy (the reference export.stack fits on) and as ONNX nodes
on the graph's uint8 chip (export.stack_onnx), and the two agree to float rounding.

Both look at the middle of the chip (the face, little background, none of the black fill beyond a
photo's edge, whose sharp border would read as detail).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

REGION = (0.2, 0.8)  # the middle of the chip, as fractions of its side
# Luma, and two opponent colours (red-green, yellow-blue), as columns: a chip's pixels times this matrix.
OPPONENT = np.array([[0.299, 1.0, 0.5], [0.587, -1.0, 0.5], [0.114, 0.0, -1.0]], np.float32)
# Only pixels of mid luma count for colour: sepia's highlights clip at 255 and take a hue of their own.
MID_LUMA = (40.0, 170.0)
# Colour left once the part proportional to luma is taken out (0-255 scale): a sepia or greyscale photo
# has under 3, the val parts' colour photos above 9 for 95% of faces; from this on a photo is in colour.
COLOUR_FULL = 12.0
# Sharpness, mean |Laplacian| of luma over mean |luma - its mean|: the val parts' plain chips lie at 0.3 to
# 0.5 in the median (5% below 0.05 to 0.2: FairFace's small faces are blurred too), thumbnails (a 30 px face
# enlarged) at 0.14 to 0.16 (90% at 0.07 to 0.24).
SHARP_FULL, SHARP_NONE = 0.25, 0.08
# The face's size in the photo, its eye distance in pixels: from SMALL_FACE_NONE down to SMALL_FACE_FULL a
# face counts as ever smaller (on a log scale). Not a feature of the chip: a graph would need it as an input.
SMALL_FACE_NONE, SMALL_FACE_FULL = 48.0, 12.0
LAPLACIAN = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float32)
FEATURES = ("colourless", "blur")
BATCH = 1024


def middle(chips: np.ndarray) -> np.ndarray:
    """The middle of (N, S, S, 3) uint8 chips, as float32."""
    start, stop = (round(fraction * chips.shape[1]) for fraction in REGION)
    return chips[:, start:stop, start:stop].astype(np.float32)


def ramp(value: np.ndarray, zero_at: float, one_at: float) -> np.ndarray:
    """0 at `zero_at`, 1 at `one_at`, linear between, flat beyond."""
    return np.clip((value - zero_at) / np.float32(one_at - zero_at), 0, 1).astype(np.float32)


def colour_residual(chips: np.ndarray) -> np.ndarray:
    """The opponent colours left over after the best fit proportional to luma (mid-luma pixels): about 0
    for greyscale and sepia, whose every pixel's colour is its luma times one hue."""
    luma, red_green, yellow_blue = np.moveaxis(middle(chips) @ OPPONENT, -1, 0)
    counted = ((luma > MID_LUMA[0]) & (luma < MID_LUMA[1])).astype(np.float32)
    square = (counted * luma * luma).sum((1, 2)) + 1
    left = np.zeros(len(chips), np.float32)
    for opponent in (red_green, yellow_blue):
        slope = (counted * opponent * luma).sum((1, 2)) / square
        left += (counted * (opponent - slope[:, None, None] * luma) ** 2).sum((1, 2))
    return np.sqrt(left / (counted.sum((1, 2)) + 1))


def sharpness(chips: np.ndarray) -> np.ndarray:
    """Fine detail over contrast: low for a face enlarged from few pixels, whatever its lighting."""
    luma = middle(chips) @ OPPONENT[:, 0]
    laplacian = sum(weight * luma[:, row:row + luma.shape[1] - 2, column:column + luma.shape[2] - 2]
                    for (row, column), weight in np.ndenumerate(LAPLACIAN) if weight)
    contrast = np.abs(luma - luma.mean((1, 2), keepdims=True)).mean((1, 2))
    return np.abs(laplacian).mean((1, 2)) / (contrast + 1)


def quality_features(chips: np.ndarray) -> dict[str, np.ndarray]:
    """Each FEATURE of (N, S, S, 3) uint8 aligned chips, 0 (a good photo) to 1 (BATCH chips at a time: a
    val part's float copies at once would not fit)."""
    batches = [chips[start:start + BATCH] for start in range(0, len(chips), BATCH)] or [chips]
    return {"colourless": np.concatenate([1 - ramp(colour_residual(batch), 0.0, COLOUR_FULL)
                                          for batch in batches]),
            "blur": np.concatenate([ramp(sharpness(batch), SHARP_FULL, SHARP_NONE) for batch in batches])}


def small_face(eye_px: np.ndarray) -> np.ndarray:
    """0 for a face at least SMALL_FACE_NONE px between the eyes, 1 at SMALL_FACE_FULL or less."""
    return ramp(np.log(eye_px), np.log(SMALL_FACE_NONE), np.log(SMALL_FACE_FULL))


def quality_nodes(chip: str, size: int) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """ONNX nodes computing quality_features of the uint8 NHWC input `chip` (side `size`) as tensors
    `q/colourless` and `q/blur`, each [N]."""
    start, stop = (round(fraction * size) for fraction in REGION)
    values = {"q/start": np.array([start, start], np.int64), "q/stop": np.array([stop, stop], np.int64),
              "q/axes": np.array([1, 2], np.int64), "q/opponent": OPPONENT,
              "q/luma_low": np.float32(MID_LUMA[0]), "q/luma_high": np.float32(MID_LUMA[1]),
              "q/one": np.float32(1), "q/zero": np.float32(0),
              "q/colour_full": np.float32(COLOUR_FULL), "q/sharp_full": np.float32(SHARP_FULL),
              "q/sharp_span": np.float32(SHARP_NONE - SHARP_FULL),
              "q/laplacian": LAPLACIAN.reshape(1, 1, 3, 3), "q/channel": np.array([1], np.int64)}
    node = helper.make_node
    nodes = [
        node("Cast", [chip], ["q/float"], to=onnx.TensorProto.FLOAT),
        node("Slice", ["q/float", "q/start", "q/stop", "q/axes"], ["q/middle"]),
        node("MatMul", ["q/middle", "q/opponent"], ["q/opponents"]),
        node("Split", ["q/opponents"], ["q/luma3", "q/red_green3", "q/yellow_blue3"], axis=3, num_outputs=3),
        *(node("Squeeze", [f"q/{name}3", "q/channel_last"], [f"q/{name}"])
          for name in ("luma", "red_green", "yellow_blue")),
        node("Greater", ["q/luma", "q/luma_low"], ["q/above"]),
        node("Less", ["q/luma", "q/luma_high"], ["q/below"]),
        node("And", ["q/above", "q/below"], ["q/mid"]),
        node("Cast", ["q/mid"], ["q/counted"], to=onnx.TensorProto.FLOAT),
        node("Mul", ["q/counted", "q/luma"], ["q/counted_luma"]),
        node("Mul", ["q/counted_luma", "q/luma"], ["q/counted_square"]),
        node("ReduceSum", ["q/counted_square", "q/axes"], ["q/square_sum"], keepdims=0),
        node("Add", ["q/square_sum", "q/one"], ["q/square"]),
        node("ReduceSum", ["q/counted", "q/axes"], ["q/count_sum"], keepdims=0),
        node("Add", ["q/count_sum", "q/one"], ["q/count"]),
    ]
    for name in ("red_green", "yellow_blue"):
        nodes += [
            node("Mul", ["q/counted_luma", f"q/{name}"], [f"q/{name}_moment"]),
            node("ReduceSum", [f"q/{name}_moment", "q/axes"], [f"q/{name}_moment_sum"], keepdims=1),
            node("Unsqueeze", ["q/square", "q/axes"], [f"q/{name}_square"]),
            node("Div", [f"q/{name}_moment_sum", f"q/{name}_square"], [f"q/{name}_slope"]),
            node("Mul", [f"q/{name}_slope", "q/luma"], [f"q/{name}_fitted"]),
            node("Sub", [f"q/{name}", f"q/{name}_fitted"], [f"q/{name}_left"]),
            node("Mul", [f"q/{name}_left", f"q/{name}_left"], [f"q/{name}_left_square"]),
            node("Mul", ["q/counted", f"q/{name}_left_square"], [f"q/{name}_counted_left"]),
            node("ReduceSum", [f"q/{name}_counted_left", "q/axes"], [f"q/{name}_left_sum"], keepdims=0),
        ]
    nodes += [
        node("Add", ["q/red_green_left_sum", "q/yellow_blue_left_sum"], ["q/left_sum"]),
        node("Div", ["q/left_sum", "q/count"], ["q/left_mean"]),
        node("Sqrt", ["q/left_mean"], ["q/residual"]),
        node("Div", ["q/residual", "q/colour_full"], ["q/colour_share"]),
        node("Clip", ["q/colour_share", "q/zero", "q/one"], ["q/colour"]),
        node("Sub", ["q/one", "q/colour"], ["q/colourless"]),
        # sharpness: the Laplacian of luma as a 3 x 3 convolution on [N, 1, H, W]
        node("Unsqueeze", ["q/luma", "q/channel"], ["q/luma_nchw"]),
        node("Conv", ["q/luma_nchw", "q/laplacian"], ["q/laplacian_map"]),
        node("Abs", ["q/laplacian_map"], ["q/laplacian_abs"]),
        node("ReduceMean", ["q/laplacian_abs", "q/spatial"], ["q/detail"], keepdims=0),
        node("ReduceMean", ["q/luma", "q/axes"], ["q/luma_mean"], keepdims=1),
        node("Sub", ["q/luma", "q/luma_mean"], ["q/luma_centred"]),
        node("Abs", ["q/luma_centred"], ["q/luma_spread"]),
        node("ReduceMean", ["q/luma_spread", "q/axes"], ["q/contrast_mean"], keepdims=0),
        node("Add", ["q/contrast_mean", "q/one"], ["q/contrast"]),
        node("Div", ["q/detail", "q/contrast"], ["q/sharpness"]),
        node("Sub", ["q/sharpness", "q/sharp_full"], ["q/sharp_below"]),
        node("Div", ["q/sharp_below", "q/sharp_span"], ["q/blur_share"]),
        node("Clip", ["q/blur_share", "q/zero", "q/one"], ["q/blur"]),
    ]
    values["q/channel_last"] = np.array([3], np.int64)
    values["q/spatial"] = np.array([1, 2, 3], np.int64)
    return nodes, [numpy_helper.from_array(np.asarray(value), name) for name, value in values.items()]
