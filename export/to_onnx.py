"""Export the trained Keras classifier to gendersort/models/gender.onnx with tf2onnx.

    python -m export.to_onnx build/train/best.keras [--metrics build/eval/celeba-val.json] [--flip-average]

The ONNX graph takes uint8 RGB chips `[N, S, S, 3]` and returns the probability of each class; the cast
and scaling are inside the graph. With --flip-average it also averages each chip with its mirror image.
Its metadata carries what the runtime needs (input size, label order, chip geometry) and what a reader
wants (training data, metrics, version). The export fails unless Keras and ONNX agree on at least 256
real chips within 1e-4 in probability.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf2onnx  # noqa: E402

from export.common import MODELS_DIR  # noqa: E402
from gendersort.faces.align import CHIP_GEOMETRY  # noqa: E402
from gendersort.labels import LABELS  # noqa: E402

PARITY_LIMIT = 1e-4
PARITY_CHIPS = 256
OUTPUT_PATH = MODELS_DIR / "gender.onnx"


def uint8_model(model: keras.Model, flip_average: bool) -> keras.Model:
    """Wrap the classifier so it takes uint8 chips (and optionally averages with the mirror image)."""
    size = model.input_shape[1]
    chips = keras.Input((size, size, 3), dtype="uint8", name="chip")
    pixels = keras.layers.Lambda(lambda x: tf.cast(x, tf.float32), name="to_float")(chips)
    probabilities = model(pixels)
    if flip_average:
        mirrored = keras.layers.Lambda(lambda x: tf.reverse(x, axis=[2]), name="mirror")(pixels)
        probabilities = keras.layers.Average(name="flip_average")([probabilities, model(mirrored)])
    return keras.Model(chips, probabilities, name="gender_uint8")


def convert(model: keras.Model, metadata: dict[str, str], output: Path) -> None:
    size = model.input_shape[1]
    signature = [tf.TensorSpec((None, size, size, 3), tf.uint8, name="chip")]
    onnx_model, _ = tf2onnx.convert.from_keras(model, input_signature=signature, opset=17)
    onnx.helper.set_model_props(onnx_model, metadata)
    onnx.checker.check_model(onnx_model)
    output.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(onnx_model, output)


def parity(model: keras.Model, onnx_path: Path, chips: np.ndarray) -> float:
    expected = model.predict(chips, batch_size=64, verbose=0)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    actual = session.run(None, {session.get_inputs()[0].name: chips})[0]
    return float(np.abs(expected - actual).max())


def model_metadata(size: int, flip_average: bool, metrics_file: Path | None, version: str) -> dict[str, str]:
    metrics = json.loads(metrics_file.read_text()) if metrics_file else {}
    return {
        "model_version": version,
        "input_size": str(size),
        "input": ("uint8 RGB chips [N, S, S, 3], aligned by gendersort.faces.align; "
                  "scaling is inside the graph"),
        "labels": json.dumps(list(LABELS)),
        "chip_geometry": json.dumps(CHIP_GEOMETRY.as_dict()),
        "flip_average": str(flip_average).lower(),
        "architecture": "Keras MobileNetV2 alpha 1.0 (ImageNet start) + global average pool + dense softmax",
        "training_data": "celeba-gender train split (CelebA-derived, non-commercial research use only)",
        "metrics": json.dumps(metrics),
        "license": "weights inherit CelebA's non-commercial research terms; see MODEL_CARD.md",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--chips", type=Path, default=Path("build/chips/val.npz"),
                        help="real chips for the parity check")
    parser.add_argument("--metrics", type=Path, help="a metrics JSON from export.evaluate to embed")
    parser.add_argument("--flip-average", action="store_true")
    parser.add_argument("--version", default=f"gender-mnv2-{date.today():%Y%m%d}")
    parser.add_argument("--output", type=Path, default=OUTPUT_PATH)
    args = parser.parse_args(argv)
    model = uint8_model(keras.models.load_model(args.checkpoint), args.flip_average)
    size = model.input_shape[1]
    if size != CHIP_GEOMETRY.size:
        raise SystemExit(f"checkpoint takes {size} px chips but CHIP_GEOMETRY.size is {CHIP_GEOMETRY.size}")
    convert(model, model_metadata(size, args.flip_average, args.metrics, args.version), args.output)
    with np.load(args.chips) as data:
        pick = np.random.default_rng(0).permutation(len(data["labels"]))[:PARITY_CHIPS]
        chips = data["chips"][np.sort(pick)]
    worst = parity(model, args.output, chips)
    print(f"parity on {len(chips)} real chips: max abs difference in probability {worst:.2e} "
          f"(limit {PARITY_LIMIT})")
    if worst >= PARITY_LIMIT:
        args.output.unlink()
        print("parity check FAILED: model removed", file=sys.stderr)
        return 1
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
