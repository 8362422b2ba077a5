"""How often the main-face rule picks the subject: composites made from val photos, and dlib's group photos.

    python -m benchmarks.main_face [--set fairface] [--count 400] [--sweep]

Each composite is a news-like 250 px photo: the face of a val photo of one gender in the centre (the
subject, 64 px wide), and the face of a val photo of the other gender at the left or right edge, 1.1 to 1.8
times as wide and cut by the edge (30 to 60% of its box outside), both with some of their photo around
them (faces where export.detections found them). The subject is right when the chosen face's centre lies
in the subject's face box. The rule is measured as classify runs it (main face alone,
coarse to fine); --sweep also scores other weights on every face that every view finds (faces/main_face.py).
On dlib's group photos (no subject to be right about) it prints which face each rule picks, its size rank.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from export.common import LABELLED_SETS, SHARED_DIR, labelled_images
from gendersort.faces.detector import FaceDetector
from gendersort.faces.main_face import CENTRE_WEIGHT, INSIDE_POWER, prominence
from gendersort.labels import LABELS
from gendersort.photos.imaging import load_upright
from gendersort.pipeline.analysis import FaceAnalyzer

SIDE = 250
MALE = LABELS.index("male")
SUBJECT_FACE = 64  # the subject's face width in the composite, in pixels (LFW's faces are about 100)
CONTEXT = 1.6  # each pasted photo shows its face box grown this many times (where the photo has it)


@dataclass(frozen=True)
class Composite:
    image: Image.Image
    subject: tuple[float, float, float, float]  # the subject's face box, in composite pixels


def face_crop(path: str, box: np.ndarray, face_width: float) -> tuple[Image.Image, np.ndarray]:
    """The photo around its face (the box grown CONTEXT times, within the photo), scaled so the face is
    face_width wide; and where the face box's top-left corner lies in it."""
    image = load_upright(path)
    centre, side = (box[:2] + box[2:]) / 2, (box[2] - box[0]) * CONTEXT
    corner = np.maximum(np.floor(centre - side / 2), 0)
    far = np.minimum(np.ceil(centre + side / 2), image.size)
    scale = face_width / (box[2] - box[0])
    crop = image.crop((*corner.astype(int), *far.astype(int)))
    size = np.maximum(1, np.round((far - corner) * scale)).astype(int)
    return crop.resize(tuple(size)), (box[:2] - corner) * scale


def composite(subject: tuple[str, np.ndarray], other: tuple[str, np.ndarray], rng: np.random.Generator,
              background: Image.Image) -> Composite:
    """The subject's face in the centre; the other's, 1.1 to 1.8 times as wide, at the left or right
    edge with 30 to 60% of its box outside; the subject in front."""
    canvas = background.resize((SIDE, SIDE)).filter(ImageFilter.GaussianBlur(12))
    other_width = SUBJECT_FACE * rng.uniform(1.1, 1.8)
    other_crop, other_offset = face_crop(*other, other_width)
    outside = rng.uniform(0.3, 0.6)
    face_left = SIDE - other_width * (1 - outside) if rng.random() < 0.5 else -other_width * outside
    face_top = rng.uniform(0.1, 0.5) * SIDE
    canvas.paste(other_crop, (round(face_left - other_offset[0]), round(face_top - other_offset[1])))
    subject_crop, subject_offset = face_crop(*subject, SUBJECT_FACE)
    left = (SIDE - SUBJECT_FACE) / 2 + rng.uniform(-12, 12)
    top = 0.3 * SIDE + rng.uniform(-12, 12)
    canvas.paste(subject_crop, (round(left - subject_offset[0]), round(top - subject_offset[1])))
    return Composite(canvas, (left, top, left + SUBJECT_FACE, top + SUBJECT_FACE))


def picks_subject(box: tuple[float, float, float, float], subject: tuple[float, float, float, float]) -> bool:
    centre_x, centre_y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return subject[0] <= centre_x <= subject[2] and subject[1] <= centre_y <= subject[3]


def make_composites(set_name: str, detections: Path, count: int, seed: int) -> list[Composite]:
    """Pairs of val photos of opposite genders, their faces where export.detections found them."""
    rng = np.random.default_rng(seed)
    with np.load(detections / f"{set_name}-val.npz") as data:
        found = ~np.isnan(data["boxes"][:, 0])
        paths, labels, boxes = data["paths"][found], data["labels"][found], data["boxes"][found]
    by_label = [np.flatnonzero(labels == wanted) for wanted in (0, 1)]
    composites = []
    for number in range(count):
        subject_label = number % 2
        subject = int(rng.choice(by_label[subject_label]))
        other = int(rng.choice(by_label[1 - subject_label]))
        composites.append(composite((str(paths[subject]), boxes[subject]), (str(paths[other]), boxes[other]),
                                    rng, load_upright(str(paths[subject]))))
    return composites


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="fairface", help="val part the composites are made of")
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--detections", type=Path, default=Path("build/detections"))
    parser.add_argument("--sweep", action="store_true", help="score other weights too")
    parser.add_argument("--save", type=Path, help="save the first 8 composites here (PNG)")
    parser.add_argument("--val-check", type=int, default=0, metavar="N",
                        help="also: on N photos of each val part, where the main face is not the largest")
    args = parser.parse_args()
    detector = FaceDetector(device="cpu")
    composites = make_composites(args.set, args.detections, args.count, args.seed)
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        for number, item in enumerate(composites[:8]):
            item.image.save(args.save / f"composite-{number}.png")
    classify_right = sum(
        bool(faces) and picks_subject(faces[0].box, item.subject)
        for item in composites for faces in [detector.detect(item.image, main_only=True)])
    print(f"{len(composites)} composites of {args.set} val: classify's main face is the subject in "
          f"{classify_right / len(composites):.1%} (centre weight {CENTRE_WEIGHT}, inside power "
          f"{INSIDE_POWER})")
    every = [detector.detect(item.image) for item in composites]
    size = (SIDE, SIDE)
    largest_right = sum(bool(faces) and picks_subject(max(faces, key=lambda f: f.area).box, item.subject)
                        for item, faces in zip(composites, every, strict=True))
    print(f"  the largest face (the old rule) is the subject in {largest_right / len(composites):.1%}")
    if args.sweep:
        for centre_weight in (0.0, 0.25, 0.5, 0.75):
            for inside_power in (0.0, 1.0, 2.0):
                def rule(face, weight=centre_weight, power=inside_power):
                    return prominence(face, size, weight, power)

                right = sum(bool(faces) and picks_subject(max(faces, key=rule).box, item.subject)
                            for item, faces in zip(composites, every, strict=True))
                print(f"  centre weight {centre_weight}, inside power {inside_power}: "
                      f"{right / len(composites):.1%}")
    group_photos(detector)
    if args.val_check:
        val_parts_check(args.val_check)


def group_photos(detector: FaceDetector) -> None:
    """dlib's group photos: the main face's rank by size among every face, and its share of the largest."""
    folder = SHARED_DIR / "data" / "dlib-faces"
    for path in sorted(folder.glob("*.jpg")):
        image = load_upright(path)
        every = detector.detect(image)
        if not every:
            print(f"  {path.name}: no face")
            continue
        main = every[0]  # every view's main face is the one classify chooses (faces/detector.py)
        by_size = sorted(every, key=lambda face: face.area, reverse=True)
        rank = next(number for number, face in enumerate(by_size)
                    if np.allclose(face.box, main.box, atol=1.0))
        print(f"  {path.name}: {len(every)} faces; the main face is number {rank + 1} by size, "
              f"{main.width:.0f} px wide (largest {by_size[0].width:.0f} px)")


def val_parts_check(per_set: int) -> None:
    """Where the main face of a val photo is not the largest face of the same look, and whether the row's
    label is right with each (the val parts must lose nothing to the rule)."""
    analyzer = FaceAnalyzer(device="cpu")
    for name in LABELLED_SETS:
        items = labelled_images(name, "val")
        items = items[:: max(1, len(items) // per_set)][:per_set]
        differ = main_right = largest_right = 0
        for path, label in items:
            image = load_upright(path)
            faces = analyzer.detector.detect(image, main_only=True)
            largest = max(faces, key=lambda face: face.area) if faces else None
            if largest is None or largest is faces[0]:
                continue
            differ += 1
            p_main, p_largest = analyzer.classifier.p_male(analyzer.chips(image, [faces[0], largest]))
            main_right += (p_main >= 0.5) == (label == MALE)
            largest_right += (p_largest >= 0.5) == (label == MALE)
        print(f"  {name} val, {len(items)} photos: the main face is not the largest in {differ}; "
              f"labelled right by the main face {main_right}, by the largest {largest_right}")


if __name__ == "__main__":
    main()
