"""The seeds' plots, as PNG files: training curves and the class distribution of each split.

    python -m export.plots --history build/train/history.csv --data ../shared/data/celeba-gender \
        --out gendersort/models/plots

(The confusion matrix comes from export.evaluate.)
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from gendersort.labels import LABELS  # noqa: E402


def read_history(path: Path) -> dict[str, list[float]]:
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    return {key: [float(row[key]) for row in rows] for key in rows[0]}


def plot_curves(history: dict[str, list[float]], head_epochs: int, out: Path) -> None:
    epochs = [int(e) + 1 for e in history["epoch"]]
    for metric, title in (("accuracy", "accuracy"), ("loss", "loss")):
        fig, ax = plt.subplots(figsize=(5.5, 3.6))
        ax.plot(epochs, history[metric], "o-", label=f"training {title}")
        ax.plot(epochs, history[f"val_{metric}"], "s-", label=f"validation {title}")
        ax.axvline(head_epochs + 0.5, color="grey", linestyle=":", label="fine-tuning starts")
        ax.set_xlabel("epoch")
        ax.set_ylabel(title)
        ax.set_title(f"Training vs validation {title}")
        ax.legend()
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(out / f"training_{metric}.png", dpi=110)
        plt.close(fig)


def plot_class_distribution(data_root: Path, out: Path) -> None:
    splits = sorted(p.name for p in data_root.iterdir() if p.is_dir())
    counts = {split: [len(list((data_root / split / label).glob("*.jpg"))) for label in LABELS]
              for split in splits}
    fig, ax = plt.subplots(figsize=(5, 3.6))
    width = 0.38
    for offset, (split, values) in enumerate(counts.items()):
        positions = [i + (offset - 0.5) * width for i in range(len(LABELS))]
        bars = ax.bar(positions, values, width, label=split)
        ax.bar_label(bars, fontsize=8)
    ax.set_xticks(range(len(LABELS)), LABELS)
    ax.set_ylabel("images")
    ax.set_title("Class distribution")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "class_distribution.png", dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=Path, default=Path("build/train/history.csv"))
    parser.add_argument("--head-epochs", type=int, default=1)
    parser.add_argument("--data", type=Path, required=True, help="a labelled tree {split}/{female,male}/")
    parser.add_argument("--out", type=Path, default=Path("gendersort/models/plots"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    plot_curves(read_history(args.history), args.head_epochs, args.out)
    plot_class_distribution(args.data, args.out)
    print(f"wrote plots to {args.out}")


if __name__ == "__main__":
    main()
