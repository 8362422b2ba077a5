"""Export the trained Keras classifier to gendersort/models/gender.onnx with tf2onnx.

    python -m export.to_onnx build/train/best.keras --chips build/chips/tight/celeba-val.npz \
        [--flip-average] [--calibration build/eval/calibration.json] [--metrics build/eval/*.json]

The ONNX graph takes uint8 RGB chips `[N, S, S, 3]` and returns the probability of each class; the cast
and scaling are inside the graph. With --flip-average it also averages each chip with its mirror image;
with --calibration it divides the log-odds by the fitted temperature. Its metadata carries what the
runtime needs (input size, label order, chip geometry) and what a reader wants (training data,
temperature, metrics, version). The export fails unless Keras and ONNX agree on at least 256
real chips within 1e-4 in probability.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import date
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf2onnx  # noqa: E402

from export.common import MODELS_DIR, parity_sample, parity_verdict  # noqa: E402
from gendersort.faces.align import CHIP_GEOMETRY  # noqa: E402
from gendersort.labels import LABELS  # noqa: E402

PARITY_LIMIT = 1e-4
PARITY_CHIPS = 256
OUTPUT_PATH = MODELS_DIR / "gender.onnx"
# What each choice of training data (export/train.py --sets) means for the weights: (data, terms line).
DATA_TERMS = {
    "default": ("train parts of celeba-gender (CelebA-derived), FairFace, UTKFace, All-Age-Faces and "
                "SCUT-FBP5500, as built by ../shared/data/facesets.py; see MODEL_CARD.md",
                "non-commercial research only: the weights inherit CelebA's, UTKFace's and "
                "SCUT-FBP5500's non-commercial research terms; FairFace (CC BY 4.0) by Karkkainen and Joo; "
                "see MODEL_CARD.md"),
    "open": ("FairFace's train part alone (CC BY 4.0), from the Keras ImageNet MobileNetV2 weights; "
             "chosen on FairFace's val part alone; see MODEL_CARD.md, 'Open model'",
             "commercial use allowed: FairFace CC BY 4.0 (credit K. Karkkainen and J. Joo, WACV 2021); "
             "MobileNetV2 ImageNet weights as Keras publishes them; see MODEL_CARD.md"),
}


def uint8_model(model: keras.Model, flip_average: bool, temperature: float = 1.0) -> keras.Model:
    """Wrap the classifier so it takes uint8 chips, optionally averages with the mirror image, and
    divides the log-odds by a calibration temperature (export/calibrate.py): softmax(log p / T)."""
    size = model.input_shape[1]
    chips = keras.Input((size, size, 3), dtype="uint8", name="chip")
    pixels = keras.layers.Lambda(lambda x: tf.cast(x, tf.float32), name="to_float")(chips)
    probabilities = model(pixels)
    if flip_average:
        mirrored = keras.layers.Lambda(lambda x: tf.reverse(x, axis=[2]), name="mirror")(pixels)
        probabilities = keras.layers.Average(name="flip_average")([probabilities, model(mirrored)])
    if temperature != 1.0:
        probabilities = keras.layers.Lambda(
            lambda p: tf.nn.softmax(tf.math.log(tf.maximum(p, 1e-7)) / temperature), name="temperature")(
            probabilities)
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


def model_metadata(geometry: dict, flip_average: bool, temperature: float, metrics_files: list[Path],
                   version: str, data: str = "default") -> dict[str, str]:
    metrics = {}
    for path in metrics_files:
        report = json.loads(path.read_text())
        metrics[path.stem] = {key: report["all"][key]
                              for key in ("balanced_accuracy", "women", "men", "no_face")}
    return {
        "model_version": version,
        "input_size": str(geometry["size"]),
        "input": ("uint8 RGB chips [N, S, S, 3], aligned by gendersort.faces.align; "
                  "scaling is inside the graph"),
        "labels": json.dumps(list(LABELS)),
        "chip_geometry": json.dumps(geometry),
        "flip_average": str(flip_average).lower(),
        "temperature": repr(temperature),
        "architecture": "Keras MobileNetV2 alpha 1.0 (ImageNet start) + global average pool + dense softmax",
        "training_data": DATA_TERMS[data][0],
        "metrics": json.dumps(metrics),
        "license": DATA_TERMS[data][1],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--chips", type=Path, default=Path("build/chips/celeba-val.npz"),
                        help="real margin chips (export.chips) for the parity check, of the model's geometry")
    parser.add_argument("--metrics", type=Path, nargs="*", default=[],
                        help="metrics JSON files from export.evaluate to embed, one per val set")
    parser.add_argument("--calibration", type=Path,
                        help="export.calibrate's JSON: its temperature goes inside the graph")
    parser.add_argument("--flip-average", action="store_true")
    parser.add_argument("--version", default=f"gender-mnv2-{date.today():%Y%m%d}")
    parser.add_argument("--output", type=Path, default=OUTPUT_PATH)
    parser.add_argument("--data", choices=sorted(DATA_TERMS), default="default",
                        help="what the checkpoint was trained on (its data and terms go in the metadata)")
    args = parser.parse_args(argv)
    temperature = json.loads(args.calibration.read_text())["temperature"] if args.calibration else 1.0
    model = uint8_model(keras.models.load_model(args.checkpoint), args.flip_average, temperature)
    with np.load(args.chips) as data:
        geometry = json.loads(str(data["geometry"]))
    chips = parity_sample(args.chips, PARITY_CHIPS)
    if geometry != CHIP_GEOMETRY.as_dict() or model.input_shape[1] != CHIP_GEOMETRY.size:
        raise SystemExit(f"the chips ({geometry}) or the checkpoint ({model.input_shape[1]} px) do not match "
                         f"CHIP_GEOMETRY {CHIP_GEOMETRY}, which the runtime cuts by default")
    metadata = model_metadata(geometry, args.flip_average, temperature, args.metrics, args.version,
                              args.data)
    convert(model, metadata, args.output)
    if not parity_verdict(args.output, len(chips), parity(model, args.output, chips), PARITY_LIMIT,
                          "probability"):
        return 1
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
