"""The seeds' plots, as PNG files: training curves and the class distribution of every set and split.

    python -m export.plots --history build/train/cand-context/history.csv build/train/v3/history.csv \
        --out gendersort/models/plots

Several histories are one training in stages (a candidate run, then the run continued from it), drawn
one after the other. (Confusion matrices come from export.evaluate, the reliability plot from
export.calibrate.)
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from export.common import LABELLED_SETS, labelled_images, set_root  # noqa: E402
from gendersort.labels import LABELS  # noqa: E402


def read_histories(paths: list[Path]) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for path in paths:
        with path.open() as handle:
            rows += list(csv.DictReader(handle))
    return rows


def plot_curves(rows: list[dict[str, str]], out: Path) -> None:
    """Training accuracy and loss, and each val set's balanced accuracy, epoch by epoch."""
    epochs = list(range(1, len(rows) + 1))
    sets = [name for name in LABELLED_SETS if f"{name}_balanced" in rows[0]]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    training = [float(row["accuracy"]) for row in rows]
    ax.plot(epochs, training, "o-", color="black", label="training (augmented)")
    for name in sets:
        ax.plot(epochs, [float(row[f"{name}_balanced"]) for row in rows], "s-", label=f"{name} val, balanced")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_title("Training accuracy and each val set's balanced accuracy (chips)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "training_accuracy.png", dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(epochs, [float(row["loss"]) for row in rows], "o-", label="training loss (label smoothing 0.05)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("Training loss")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "training_loss.png", dpi=110)
    plt.close(fig)


def plot_class_distribution(out: Path) -> None:
    """Women and men in the train and val parts of every labelled set that is here."""
    sets = [name for name in LABELLED_SETS if (set_root(name) / "train").is_dir()]
    fig, axes = plt.subplots(1, len(sets), figsize=(2.6 * len(sets), 3.6), squeeze=False)
    for ax, name in zip(axes[0], sets, strict=True):
        for offset, split in enumerate(("train", "val")):
            labels = [label for _, label in labelled_images(name, split)]
            values = [labels.count(index) for index in range(len(LABELS))]
            bars = ax.bar([i + (offset - 0.5) * 0.38 for i in range(len(LABELS))], values, 0.38, label=split)
            ax.bar_label(bars, fontsize=7)
        ax.set_xticks(range(len(LABELS)), LABELS)
        ax.set_title(name)
    axes[0][0].set_ylabel("images")
    axes[0][0].legend()
    fig.suptitle("Class distribution of the training and validation parts")
    fig.tight_layout()
    fig.savefig(out / "class_distribution.png", dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=Path, nargs="+", default=[Path("build/train/history.csv")])
    parser.add_argument("--out", type=Path, default=Path("gendersort/models/plots"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    plot_curves(read_histories(args.history), args.out)
    plot_class_distribution(args.out)
    print(f"wrote plots to {args.out}")


if __name__ == "__main__":
    main()
