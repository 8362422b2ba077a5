"""Accuracy on celeba-gender/val with reduced JPEG decoding (as classify does) and with every pixel decoded.

    python -m benchmarks.draft_accuracy                      # the whole val split, as it is
    python -m benchmarks.draft_accuracy --limit 1000         # a quick look
    python -m benchmarks.draft_accuracy --limit 1000 --upscale 16

The val crops are small (about 80 x 100 px), too small for any reduced decode: as they are, the two runs
must agree exactly. --upscale F first enlarges every crop F times (bicubic, JPEG quality 90, in a
temporary folder), so that detection decodes at 1/2 scale (F = 16: about 1,300 x 1,700 px) and the chips
come from that reduced decode. Same model, same faces found or not; prints accuracy over the photos with a
face, the photos without one, and how many rows differ at all.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from PIL import Image

from gendersort.labels import LABELS
from gendersort.photos.walk import found
from gendersort.pipeline.api import WORKERS, classify_files, shared_analyzer, threads_beside
from gendersort.pipeline.results import ImageResult

VAL = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "celeba-gender" / "val"


def labelled_val(limit: int) -> list[tuple[Path, str]]:
    """(path, truth) over val, spread evenly over both labels when limited."""
    items = [(path, label) for label in LABELS for path in sorted((VAL / label).glob("*.jpg"))]
    return items[:: max(1, len(items) // limit)][:limit] if limit else items


def enlarged(items: list[tuple[Path, str]], factor: int, folder: Path) -> list[tuple[Path, str]]:
    out = []
    for index, (path, truth) in enumerate(items):
        with Image.open(path) as image:
            size = (image.width * factor, image.height * factor)
            target = folder / f"{index:05d}.jpg"
            image.convert("RGB").resize(size, Image.Resampling.BICUBIC).save(target, quality=90)
        out.append((target, truth))
    return out


def summary(results: list[ImageResult], truths: list[str]) -> tuple[float, int]:
    """Accuracy over the photos with a face, and the number without one."""
    judged = [(result.label, truth) for result, truth in zip(results, truths, strict=True) if result.chosen]
    return sum(label == truth for label, truth in judged) / max(len(judged), 1), len(results) - len(judged)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="photos (0: all 11,649)")
    parser.add_argument("--upscale", type=int, default=1)
    parser.add_argument("--workers", type=int, default=WORKERS)
    args = parser.parse_args()
    analyzer = shared_analyzer("cpu", threads_beside(args.workers))
    items = labelled_val(args.limit)
    with tempfile.TemporaryDirectory() as scratch:
        if args.upscale > 1:
            items = enlarged(items, args.upscale, Path(scratch))
        files, truths = [found(path) for path, _ in items], [truth for _, truth in items]
        runs = {draft: list(classify_files(files, analyzer=analyzer, workers=args.workers, draft=draft))
                for draft in (True, False)}
    print(f"celeba-gender/val, {len(items)} photos, enlarged {args.upscale}x, "
          f"model {analyzer.classifier.version}")
    for draft, name in ((True, "reduced decoding (classify)"), (False, "every pixel decoded")):
        accuracy, no_face = summary(runs[draft], truths)
        print(f"  {name:<28} accuracy {accuracy:.4%}, no face in {no_face}")
    pairs = list(zip(runs[True], runs[False], strict=True))
    rows = sum(mine.rows() != theirs.rows() for mine, theirs in pairs)
    labels = sum(mine.label != theirs.label for mine, theirs in pairs)
    shifts = [abs(mine.p_male - theirs.p_male) for mine, theirs in pairs if mine.chosen and theirs.chosen]
    print(f"  rows that differ at all: {rows}; labels that differ: {labels}; p_male moved by "
          f"{sum(shifts) / max(len(shifts), 1):.4f} on average, {max(shifts, default=0):.4f} at most")


if __name__ == "__main__":
    main()
