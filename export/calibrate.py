"""Fit a temperature so that p_male means what it says, from the val parts' pipeline results.

    python -m export.calibrate build/eval/uncalibrated --out build/eval/calibration.json \\
        --plot gendersort/models/plots/reliability.png

Reads the {set}.npz files export.evaluate wrote (every image's p_male through the pipeline; images without
a face are left out) and fits one temperature T for p' = sigmoid(logit(p) / T), minimising the mean over
the sets of each set's log loss (so CelebA's size does not decide it alone). The expected calibration
error (15 equal-width bins of confidence) is given before and after; "after" is cross-fitted: each half of
every set is scored with the temperature fitted on the other halves, so it is not measured on what it was
fitted to. export.to_onnx --calibration puts T inside the graph.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

BINS = 15
EPSILON = 1e-6


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPSILON, 1 - EPSILON)
    return np.log(p / (1 - p))


def with_temperature(p: np.ndarray, temperature: float) -> np.ndarray:
    return 1 / (1 + np.exp(-logit(p) / temperature))


def log_loss(truth: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, EPSILON, 1 - EPSILON)
    return float(-np.mean(truth * np.log(p) + (1 - truth) * np.log(1 - p)))


def fit_temperature(sets: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """The T in [0.2, 5] minimising the mean of the sets' log losses (golden-section search on log T)."""

    def loss(log_t: float) -> float:
        return float(np.mean([log_loss(truth, with_temperature(p, np.exp(log_t))) for truth, p in sets]))

    low, high = np.log(0.2), np.log(5.0)
    ratio = (np.sqrt(5) - 1) / 2
    for _ in range(60):
        a, b = high - ratio * (high - low), low + ratio * (high - low)
        if loss(a) < loss(b):
            high = b
        else:
            low = a
    return float(np.exp((low + high) / 2))


def reliability(truth: np.ndarray, p: np.ndarray) -> tuple[float, list[dict]]:
    """Expected calibration error on the confidence of the predicted label, and the bins behind it."""
    predicted = p >= 0.5
    confidence = np.where(predicted, p, 1 - p)
    correct = predicted == truth.astype(bool)
    edges = np.linspace(0.5, 1.0, BINS + 1)
    which = np.clip(np.digitize(confidence, edges) - 1, 0, BINS - 1)
    bins, error = [], 0.0
    for number in range(BINS):
        mine = which == number
        if mine.any():
            gap = abs(float(confidence[mine].mean()) - float(correct[mine].mean()))
            error += gap * mine.mean()
            bins.append({"from": float(edges[number]), "to": float(edges[number + 1]),
                         "n": int(mine.sum()), "confidence": float(confidence[mine].mean()),
                         "accuracy": float(correct[mine].mean())})
    return float(error), bins


def load_sets(folder: Path, names: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    sets = {}
    for name in names:
        with np.load(folder / f"{name}.npz") as data:
            found = ~np.isnan(data["p_male"])
            sets[name] = (data["is_male"][found].astype(float), data["p_male"][found])
    return sets


def cross_fitted(sets: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """Each set's p_male, every half calibrated with the temperature fitted on the other halves."""
    halves = {name: np.arange(len(truth)) % 2 for name, (truth, _) in sets.items()}
    calibrated = {name: np.empty_like(p) for name, (_, p) in sets.items()}
    for half in (0, 1):
        fitted = fit_temperature([(truth[halves[name] != half], p[halves[name] != half])
                                  for name, (truth, p) in sets.items()])
        for name, (_, p) in sets.items():
            mine = halves[name] == half
            calibrated[name][mine] = with_temperature(p[mine], fitted)
    return calibrated


def plot(sets: dict, after: dict[str, np.ndarray], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    truth = np.concatenate([truth for truth, _ in sets.values()])
    fig, axes = plt.subplots(1, 2, figsize=(9, 4), sharey=True)
    for ax, (title, p) in zip(axes, [("before", np.concatenate([p for _, p in sets.values()])),
                                      ("after (cross-fitted)", np.concatenate(list(after.values())))],
                              strict=True):
        error, bins = reliability(truth, p)
        ax.plot([0.5, 1], [0.5, 1], color="grey", linestyle="--", label="perfectly calibrated")
        ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o", label="model")
        ax.set_title(f"{title}: ECE {error:.3f}")
        ax.set_xlabel("confidence of the predicted label")
        ax.legend(loc="upper left")
    axes[0].set_ylabel("share of faces labelled right")
    fig.suptitle("Reliability on the val parts, every set pooled (faces found)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("eval_dir", type=Path,
                        help="export.evaluate's output folder for the uncalibrated model")
    parser.add_argument("--sets", nargs="+", default=["celeba", "fairface", "utkface", "allagefaces", "scut"])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args()
    sets = load_sets(args.eval_dir, args.sets)
    temperature = fit_temperature(list(sets.values()))
    after = cross_fitted(sets)
    report = {"temperature": temperature, "sets": {}}
    for name, (truth, p) in sets.items():
        report["sets"][name] = {
            "ece_before": reliability(truth, p)[0], "ece_after": reliability(truth, after[name])[0],
            "log_loss_before": log_loss(truth, p), "log_loss_after": log_loss(truth, after[name]),
        }
    pooled_truth = np.concatenate([truth for truth, _ in sets.values()])
    report["pooled"] = {
        "ece_before": reliability(pooled_truth, np.concatenate([p for _, p in sets.values()]))[0],
        "ece_after": reliability(pooled_truth, np.concatenate(list(after.values())))[0],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    if args.plot:
        plot(sets, after, args.plot)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
