"""The classifier's graph without its mirror pass: what the mirror costs and what it buys (issue #26).

    python -m export.without_mirror gendersort/models/gender.onnx --out build/passes/no-mirror.onnx

The shipped member averages its probabilities for the chip and for the chip mirrored (export/to_onnx.py
--flip-average), a second MobileNetV2 pass per face. Here that average takes the chip's pass alone, and the
nodes that only the mirrored pass needed are dropped, so the graph runs one pass; the stack after it is
left as fitted. The runtime, `export.evaluate --model` and `export.steadiness --model` take the result like
any classifier; benchmarks/network_passes.py times it against the whole graph.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import onnx

FLIP_AVERAGE_OP = "Add"
FLIP_AVERAGE_SCOPE = "flip_average"
MIRROR_SCOPE = "mirror"  # the Keras layer that mirrors the chip before the second pass


def flip_average(graph: onnx.GraphProto) -> onnx.NodeProto:
    """The node that adds the two passes' probabilities (tf2onnx keeps the Keras layer's name in it)."""
    found = [node for node in graph.node
             if FLIP_AVERAGE_SCOPE in node.name and node.op_type == FLIP_AVERAGE_OP]
    if len(found) != 1 or len(set(found[0].input)) == 1:  # one input twice: taken out already
        raise SystemExit(f"this graph has no mirror pass to take out (no {FLIP_AVERAGE_OP} of two passes in "
                         f"a {FLIP_AVERAGE_SCOPE!r} scope)")
    return found[0]


def needed_for(graph: onnx.GraphProto, names: set[str]) -> list[onnx.NodeProto]:
    """The nodes the tensors `names` depend on, in the graph's (topological) order."""
    wanted, kept = set(names), []
    for node in reversed(graph.node):
        if wanted.intersection(node.output):
            kept.append(node)
            wanted.update(node.input)
    return kept[::-1]


def chip_pass(graph: onnx.GraphProto, average: onnx.NodeProto) -> str:
    """Which of the average's inputs is the unmirrored chip's pass: the one no mirroring node feeds."""
    unmirrored = [name for name in average.input
                  if not any(MIRROR_SCOPE in node.name for node in needed_for(graph, {name}))]
    if len(unmirrored) != 1:
        raise SystemExit(f"cannot tell the chip's own pass among {list(average.input)}")
    return unmirrored[0]


def keep_needed(graph: onnx.GraphProto) -> None:
    """Drop the nodes and initializers that no output depends on."""
    kept = needed_for(graph, {output.name for output in graph.output})
    wanted = {name for node in kept for name in node.input}
    graph.ClearField("node")
    graph.node.extend(kept)
    initializers = [item for item in graph.initializer if item.name in wanted]
    graph.ClearField("initializer")
    graph.initializer.extend(initializers)


def without_mirror(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with the flip average fed the chip's pass twice (so it is that pass), the rest pruned."""
    node = flip_average(model.graph)
    own = chip_pass(model.graph, node)
    node.input[0] = node.input[1] = own
    keep_needed(model.graph)
    metadata = {prop.key: prop.value for prop in model.metadata_props}
    metadata["model_version"] = f"{metadata.get('model_version', 'unknown')}-no-mirror"
    onnx.helper.set_model_props(model, metadata)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(without_mirror(onnx.load(str(args.model))), str(args.out))
    print(f"{args.out}: {len(onnx.load(str(args.out)).graph.node)} nodes")


if __name__ == "__main__":
    main()
