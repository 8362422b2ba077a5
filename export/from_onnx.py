"""Rebuild a Keras checkpoint from a shipped classifier's ONNX graph, to start a new training from it.

    python -m export.from_onnx gendersort/models/gender.onnx --out build/v2.keras

A stack (export/stack_onnx.py) gives its MobileNetV2 member.

Checkpoints are not committed, only the ONNX graphs, and tf2onnx folds each BatchNormalization into the
convolution before it (or into a multiply-add after a depthwise one). Fine-tuning keeps BatchNormalization
in inference mode, where it is an affine map per channel, so the folded graph is the same network: each
convolution gets the folded kernel, its BatchNormalization the identity statistics with the folded shift
(and scale). The rebuilt model must agree with the ONNX graph on real chips or nothing is written.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402

from export.common import centre_crop  # noqa: E402
from export.stack_onnx import member_of_stack  # noqa: E402
from export.to_onnx import parity, uint8_model  # noqa: E402
from export.train import build_model  # noqa: E402

AGREEMENT_LIMIT = 1e-4


class OnnxBranch:
    """The nodes of one copy of the network inside the graph (flip-averaged graphs hold two)."""

    def __init__(self, graph: onnx.GraphProto) -> None:
        self.constants = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
        self.consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
        for node in graph.node:
            for name in node.input:
                self.consumers[name].append(node)
        first_conv = next(node for node in graph.node if node.op_type == "Conv")
        reachable, frontier = set(), [first_conv]
        while frontier:
            node = frontier.pop()
            if id(node) not in reachable:
                reachable.add(id(node))
                frontier += [after for out in node.output for after in self.consumers[out]]
        self.nodes = [node for node in graph.node if id(node) in reachable]

    def only_consumer(self, node: onnx.NodeProto, op_type: str) -> onnx.NodeProto:
        (after,) = self.consumers[node.output[0]]
        if after.op_type != op_type:
            raise SystemExit(f"expected {op_type} after {node.name}, found {after.op_type}")
        return after

    def constant_input(self, node: onnx.NodeProto) -> np.ndarray:
        return next(self.constants[name] for name in node.input if name in self.constants)

    def convolutions(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(kernel, scale, shift) of each convolution in order, with BatchNormalization folded in."""
        found = []
        for node in self.nodes:
            if node.op_type != "Conv":
                continue
            kernel = self.constants[node.input[1]]
            channels = kernel.shape[0]
            if len(node.input) == 3:
                found.append((kernel, np.ones(channels), self.constants[node.input[2]]))
            else:
                multiply = self.only_consumer(node, "Mul")
                add = self.only_consumer(multiply, "Add")
                scale, shift = self.constant_input(multiply), self.constant_input(add)
                found.append((kernel, scale.ravel(), shift.ravel()))
        return found

    def dense(self) -> tuple[np.ndarray, np.ndarray]:
        matmul = next(node for node in self.nodes if node.op_type == "MatMul")
        return self.constant_input(matmul), self.constant_input(self.only_consumer(matmul, "Add")).ravel()


def rebuild(onnx_path: Path) -> tuple[keras.Model, dict[str, str]]:
    model_proto = onnx.load(onnx_path)
    metadata = {prop.key: prop.value for prop in model_proto.metadata_props}
    size = int(metadata["input_size"])
    branch = OnnxBranch(model_proto.graph)
    model, base = build_model(size, None)
    convolution_types = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)
    layers = [layer for layer in base.layers if isinstance(layer, convolution_types)]
    convolutions = branch.convolutions()
    if len(layers) != len(convolutions):
        raise SystemExit(f"{len(convolutions)} convolutions in the graph, {len(layers)} in MobileNetV2")
    for layer, (kernel, scale, shift) in zip(layers, convolutions, strict=True):
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            layer.set_weights([kernel.transpose(2, 3, 0, 1)])
        else:
            layer.set_weights([kernel.transpose(2, 3, 1, 0)])
        norm = base.layers[base.layers.index(layer) + 1]
        if not isinstance(norm, keras.layers.BatchNormalization):
            raise SystemExit(f"{layer.name} is not followed by BatchNormalization")
        channels = len(shift)
        norm.set_weights([scale.astype(np.float32), shift.astype(np.float32), np.zeros(channels, np.float32),
                          np.full(channels, 1 - norm.epsilon, np.float32)])
    kernel, bias = branch.dense()
    model.get_layer("probabilities").set_weights([kernel, bias])
    return model, metadata


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("onnx_model", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--chips", type=Path, default=Path("build/chips/celeba-val.npz"),
                        help="margin chips of the model's geometry, for the agreement check")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rebuilt = check_and_rebuild(member_of_stack(args.onnx_model, Path(tmp)), args.chips)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rebuilt.save(args.out)
    print(f"wrote {args.out}")


def check_and_rebuild(onnx_path: Path, chips_path: Path) -> keras.Model:
    """The rebuilt Keras model, once it agrees with the graph on real chips."""
    model, metadata = rebuild(onnx_path)
    with np.load(chips_path) as data:
        if json.loads(str(data["geometry"])) != json.loads(metadata["chip_geometry"]):
            raise SystemExit(f"{chips_path} was cut with another geometry than the model's")
        chips = centre_crop(data["chips"][:: max(1, len(data["labels"]) // 256)][:256], int(data["margin"]))
    # The rebuilt network wrapped as the export wraps it (mirror average, temperature), against the graph.
    wrapped = uint8_model(model, metadata.get("flip_average") == "true",
                          float(metadata.get("temperature", "1.0")))
    worst = parity(wrapped, onnx_path, chips)
    print(f"Keras against ONNX on {len(chips)} real chips: max abs difference in probability {worst:.2e}")
    if worst >= AGREEMENT_LIMIT:
        raise SystemExit("the rebuilt model does not agree with the graph: nothing written")
    return model


if __name__ == "__main__":
    main()
