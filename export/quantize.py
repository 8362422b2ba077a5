"""int8 versions of the shipped graphs for the CPU: static quantization with onnxruntime, calibrated on real
inputs (issue #26).

    python -m export.quantize classifier gendersort/models/gender.onnx \
        --second-chips build/chips/second                                  # -> gender.int8.onnx beside it
    python -m export.quantize detector gendersort/models/face_detector.onnx \
        --exclude regressor_face_4,classifier_face_4                      # its output layers kept float

The classifier is calibrated on chips the runtime's own detector and aligner cut (export/chips.py's context
chips, centre crop; for a graph that also takes Cydral's chip, export.chips --second-chip's chips of the
same faces), the detector on the views it looks through (faces/detector.py) of real photos; both
from the train parts, so that the val parts that decide whether the CPU may run the int8 graph
(export/quantized_accuracy.py) were not used to fit it. Weights are quantized per channel, activations per
tensor, with min-max ranges (or clipped ones: --method). The int8 graph keeps the float graph's metadata,
its model_version marked `-int8`, so every row says which ran (gendersort/models/session.py runs it on the
CPU when it lies beside the float graph). What was tried and what it cost: docs/benchmarks.md, "int8 on
the CPU".
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quant_pre_process,
    quantize_static,
)

from export.common import LABELLED_SETS, centre_crop, labelled_images, set_stem
from gendersort.faces.detector import FaceDetector, render_view
from gendersort.models.session import quantized_path
from gendersort.photos.imaging import Photo, load_upright

FORMATS = {"qoperator": QuantFormat.QOperator, "qdq": QuantFormat.QDQ}
# How activation ranges are read off the calibration inputs: min-max keeps every value, percentile and
# entropy clip the rare far ones (a finer step for the common ones).
METHODS = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
           "entropy": CalibrationMethod.Entropy}
CALIBRATION_BATCH = 32
SEED = 26


class Batches(CalibrationDataReader):
    """Feeds onnxruntime's calibrator one batch of every input at a time."""

    def __init__(self, inputs: dict[str, np.ndarray]) -> None:
        count = len(next(iter(inputs.values())))
        self.batches = iter([{name: batch[start:start + CALIBRATION_BATCH] for name, batch in inputs.items()}
                             for start in range(0, count, CALIBRATION_BATCH)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.batches, None)


def whole_batches(inputs: list[np.ndarray]) -> list[np.ndarray]:
    """The inputs cut to whole calibration batches: onnxruntime's histogram calibrators (--method
    percentile, entropy) stack the batches and refuse a shorter last one."""
    size = min(CALIBRATION_BATCH, len(inputs[0]))
    return [array[:len(array) // size * size] for array in inputs]


def chips_for_calibration(sets: list[str], chips_dir: Path, per_set: int,
                          second_dir: Path | None = None) -> list[np.ndarray]:
    """`per_set` faces of each set's train part, drawn at random, as the classifier takes them: their
    aligned chips and, from `second_dir`, the same faces' second chips."""
    rng = np.random.default_rng(SEED)
    aligned, second = [], []
    for name in sets:
        with np.load(chips_dir / f"{set_stem(name)}-train.npz") as data:
            chips, margin = data["chips"], int(data["margin"])
            picked = np.sort(rng.choice(len(chips), min(per_set, len(chips)), replace=False))
            aligned.append(centre_crop(chips[picked], margin))
        if second_dir is not None:
            with np.load(second_dir / f"{set_stem(name)}-train.npz") as data:
                second.append(data["chips"][picked])
    return [np.ascontiguousarray(np.concatenate(drawn)) for drawn in (aligned, second) if drawn]


def views_for_calibration(sets: list[str], per_set: int) -> np.ndarray:
    """The detector's views of `per_set` photos of each set's train part, drawn at random: padded whole,
    whole and, for large photos, tiles, rendered as the detector renders them."""
    rng = np.random.default_rng(SEED)
    detector = FaceDetector(device="cpu", threads=1, quantized=False)
    views = []
    for name in sets:
        items = labelled_images(name, "train")
        for index in np.sort(rng.choice(len(items), min(per_set, len(items)), replace=False)):
            photo = Photo.whole(load_upright(items[index][0]))
            views += [render_view(photo.image, view, detector.input_size)
                      for view in detector.views_for(*photo.full_size)]
    return np.stack(views)


def graph_inputs(graph: onnx.ModelProto) -> list[str]:
    return [item.name for item in graph.graph.input]


def quantize(float_path: Path, inputs: list[np.ndarray], out_path: Path, calibrated_on: str, form: str,
             operators: list[str] | None, kept_float: list[str], method: str = "minmax") -> None:
    """Writes the int8 graph of `float_path` (`form`: FORMATS; `operators`: the types quantized, None for
    every one onnxruntime can; `kept_float`: nodes left as they are; `method`: METHODS), calibrated on
    `inputs` (one array per graph input, in the graph's order), with the float graph's metadata."""
    original = onnx.load(str(float_path))
    calibrated = inputs if method == "minmax" else whole_batches(inputs)
    named = dict(zip(graph_inputs(original), calibrated, strict=True))
    with tempfile.TemporaryDirectory() as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(out_path), Batches(named),
                        quant_format=FORMATS[form], op_types_to_quantize=operators,
                        nodes_to_exclude=kept_float,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=METHODS[method])
    quantized = onnx.load(str(out_path))
    metadata = {prop.key: prop.value for prop in original.metadata_props}
    float_version = metadata.get("model_version", float_path.stem)
    metadata["model_version"] = f"{float_version}-int8"
    metadata["quantized"] = json.dumps({
        "from": float_version, "format": f"{form}, weights int8 per channel, activations uint8 per tensor",
        "operators": operators or "all", "kept_float": kept_float, "calibration": calibrated_on,
        "method": method})
    onnx.helper.set_model_props(quantized, metadata)
    onnx.save(quantized, str(out_path))
    sizes = f"{out_path.stat().st_size / 1e6:.1f} MB (float {float_path.stat().st_size / 1e6:.1f} MB)"
    print(f"{out_path}: {sizes}, version {metadata['model_version']}, calibrated on {calibrated_on}",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["classifier", "detector"])
    parser.add_argument("model", type=Path, help="the float ONNX graph")
    parser.add_argument("sets", nargs="*", default=list(LABELLED_SETS), help="whose train parts calibrate")
    parser.add_argument("--out", type=Path, help="default: the float graph's path, .int8.onnx")
    parser.add_argument("--chips", type=Path, default=Path("build/chips/context"),
                        help="export/chips.py's context chips (the classifier's calibration)")
    parser.add_argument("--second-chips", type=Path,
                        help="export.chips --second-chip's chips of the same faces, for a graph taking both")
    parser.add_argument("--per-set", type=int, default=200, help="train-part inputs per set")
    parser.add_argument("--format", choices=FORMATS, default="qoperator")
    parser.add_argument("--operators", help="comma-separated operator types to quantize (default: all)")
    parser.add_argument("--exclude", default="", help="comma-separated node names kept float")
    parser.add_argument("--method", choices=METHODS, default="minmax", help="how activation ranges are set")
    args = parser.parse_args()
    if args.kind == "classifier":
        takes_second = len(graph_inputs(onnx.load(str(args.model)))) > 1
        if takes_second and args.second_chips is None:
            parser.error(f"{args.model} also takes Cydral's chip: give --second-chips "
                         "(export.chips --second-chip)")
        inputs = chips_for_calibration(args.sets, args.chips, args.per_set,
                                       args.second_chips if takes_second else None)
        described = f"{len(inputs[0])} faces' chips, {args.per_set} per train part of {', '.join(args.sets)}"
    else:
        inputs = [views_for_calibration(args.sets, args.per_set)]
        described = (f"{len(inputs[0])} detector views of {args.per_set} photos per train part of "
                     f"{', '.join(args.sets)}")
    operators = args.operators.split(",") if args.operators else None
    kept_float = [name for name in args.exclude.split(",") if name]
    quantize(args.model, inputs, args.out or quantized_path(args.model), described, args.format, operators,
             kept_float, args.method)


if __name__ == "__main__":
    main()
