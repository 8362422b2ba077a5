"""Turn carried weights (export/carry/*/best.npz or last.npz) back into a Keras model file.

    python -m export.carried export/carry/v5-member/best.npz --out build/v5-member.keras

A carried run keeps its weights alone (np.savez of get_weights(), 9 MB, so they move with the repository);
export.to_onnx and export.train --init read a Keras file, which this writes on a machine without the
run's build/.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from export.train import build_model, load_carried
from gendersort.faces.align import CHIP_GEOMETRY


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", type=Path, help="a carried .npz of the classifier's weights")
    parser.add_argument("--out", type=Path, required=True, help="the .keras file to write")
    parser.add_argument("--size", type=int, default=CHIP_GEOMETRY.size, help="the chip's side in pixels")
    args = parser.parse_args()
    model, _ = build_model(args.size, None)
    load_carried(model, args.weights)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    print(f"{args.weights} -> {args.out}")


if __name__ == "__main__":
    main()
