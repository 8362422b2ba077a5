"""Average the weights of several checkpoints of one training run (stochastic weight averaging).

    python -m export.average build/train/best-epoch5.keras build/train/best-epoch6.keras \
        build/train/last.keras --out build/train/averaged.keras

The last low-learning-rate epochs of a run sit around one minimum; their mean usually generalises a little
better than any one of them. This is safe here without recomputing BatchNormalization statistics because
fine-tuning keeps them frozen (inference mode), so every checkpoint has the same ones.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402


def average_checkpoints(paths: list[Path]) -> keras.Model:
    models = [keras.models.load_model(path) for path in paths]
    averaged = models[0]
    weights = [model.get_weights() for model in models]
    averaged.set_weights([np.mean(layer, axis=0) for layer in zip(*weights, strict=True)])
    return averaged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    average_checkpoints(args.checkpoints).save(args.out)
    print(f"averaged {len(args.checkpoints)} checkpoints into {args.out}")


if __name__ == "__main__":
    main()
