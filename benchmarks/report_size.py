"""How `gendersort report` copes with a large run: its time, peak memory and page size, and how fast the
page shows and redraws its cards in headless Chromium. The "Large reports" figures of docs/commands.md
come from here.

    python -m benchmarks.report_size                    # 5,000 rows: under a minute on 2 cores, inputs made
    python -m benchmarks.report_size --rows 20000 --opens 1 --out build/report-bench

Inputs are made once under --out and kept for the next run: ROWS distinct 640 px JPEGs made from the four
fixture photos (tests/fixtures; two with a face, two without), each cropped, shifted, mirrored and tinted
differently so that every thumbnail differs, and their results CSV. Classifying thousands of photos would
take longer than the report itself, so the fixtures are classified once
(gendersort.pipeline.api.classify_paths) and each copy gets its source's result, with the face box carried
through the copy's framing and the copy's own path, size and mtime, written by classify's own writer: the
CSV is the one classify writes.

Then `gendersort report` runs in a process of its own (its wall time and peak resident memory, measured
as benchmarks/peak_memory.py does), and, when Chromium (/usr/bin/chromium) and Playwright are there, the
page is opened --opens times in a fresh tab, launched as the tests launch it (benchmarks/chromium.py):
the time from asking for the page to the first page of cards drawn, the redraw after unticking the
`male` filter, and the next page of cards after scrolling to the last card (both timed inside the page,
to the first frame drawn with the cards in it).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from benchmarks.chromium import CHROMIUM, VIEWPORT, launch
from benchmarks.inputs import FOLDER_SIZE
from benchmarks.throughput import ROOT, run_together
from gendersort.outputs.writers import open_results
from gendersort.pipeline.api import classify_paths
from gendersort.pipeline.results import ImageResult

if TYPE_CHECKING:
    from playwright.sync_api import Browser

FIXTURES = ROOT / "tests" / "fixtures"
SOURCES = ("astronaut.png", "camera.png", "chelsea.png", "coffee.png")
LONG_SIDE = 640
QUALITY = 90
CROP = (0.8, 0.95)  # the share of the source's width and height each copy keeps
TINT = (0.85, 1.15)  # the range of each channel's gain

Box = tuple[float, float, float, float]

# The page's script defines PAGE_SIZE and DATA, and marks the body ready once it has run. The timings below
# end in the first animation frame that finds the cards there: the frame after the one that drew them.
FIRST_PAGE_SHOWN = """() => {
  const cards = document.querySelectorAll("#cards .card").length;
  return document.body?.dataset.ready === "true" && cards >= Math.min(PAGE_SIZE, DATA.rows.length) && cards;
}"""
FILTER_REDRAW = """async () => {
  const start = performance.now();
  document.querySelector("input[name=category][value=male]").click();
  const wanted = Math.min(PAGE_SIZE, Number(document.getElementById("shown-count").textContent));
  while (document.querySelectorAll("#cards .card").length < wanted) await new Promise(requestAnimationFrame);
  return (performance.now() - start) / 1000;
}"""
NEXT_PAGE = """async () => {
  const cards = () => document.querySelectorAll("#cards .card");
  const shown = cards().length;
  if (shown >= Number(document.getElementById("shown-count").textContent)) return null;
  const start = performance.now();
  cards()[shown - 1].scrollIntoView();
  while (cards().length <= shown) await new Promise(requestAnimationFrame);
  return [(performance.now() - start) / 1000, cards().length - shown];
}"""


@dataclass(frozen=True)
class Framing:
    """One copy's take on its source: a crop, maybe mirrored, scaled to LONG_SIDE, each channel tinted."""

    crop: tuple[int, int, int, int]  # left, top, right, bottom in the source's pixels
    mirrored: bool
    size: tuple[int, int]
    gains: tuple[float, float, float]

    def apply(self, source: Image.Image) -> Image.Image:
        image = source.crop(self.crop)
        if self.mirrored:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        pixels = np.asarray(image.resize(self.size, Image.Resampling.LANCZOS), np.float32)
        return Image.fromarray(np.clip(pixels * np.float32(self.gains), 0, 255).astype(np.uint8))

    def map_box(self, box: Box) -> Box:
        """A box in the source's pixels, in the copy's (clipped to it, as the report clips it anyway)."""
        left, top, right, bottom = self.crop
        scale_x, scale_y = self.size[0] / (right - left), self.size[1] / (bottom - top)
        x0, x1 = ((x - left) * scale_x for x in (box[0], box[2]))
        if self.mirrored:
            x0, x1 = self.size[0] - x1, self.size[0] - x0
        y0, y1 = ((y - top) * scale_y for y in (box[1], box[3]))
        width, height = self.size
        return (min(max(x0, 0.0), width), min(max(y0, 0.0), height),
                min(max(x1, 0.0), width), min(max(y1, 0.0), height))


def framing(source_size: tuple[int, int], index: int) -> Framing:
    """The index-th copy's framing, the same on every run."""
    rng = np.random.default_rng(index)
    width, height = source_size
    keep = rng.uniform(*CROP)
    crop_w, crop_h = round(width * keep), round(height * keep)
    left, top = (round(rng.uniform(0, width - crop_w)), round(rng.uniform(0, height - crop_h)))
    scale = LONG_SIDE / max(crop_w, crop_h)
    return Framing((left, top, left + crop_w, top + crop_h), bool(rng.integers(2)),
                   (round(crop_w * scale), round(crop_h * scale)),
                   tuple(float(gain) for gain in rng.uniform(*TINT, size=3)))


def write_copy(source: Image.Image, frame: Framing, target: Path) -> None:
    frame.apply(source).save(target, quality=QUALITY)


def copy_result(source: ImageResult, frame: Framing, path: Path) -> ImageResult:
    """What classify says about the copy at `path`: its source's faces, framed as the copy frames them."""
    stat = path.stat()
    faces = tuple(replace(face, box=frame.map_box(face.box)) for face in source.predictions)
    return replace(source, path=str(path), size=stat.st_size, mtime=stat.st_mtime, predictions=faces)


def make_inputs(root: Path, rows: int) -> Path:
    """root/rows-N: N photos and results.csv, made now unless already there; the CSV's path."""
    folder = root / f"rows-{rows}"
    results = folder / "results.csv"
    if (folder / "complete").exists():
        return results
    print(f"making {rows} photos and their results under {folder} ...", flush=True)
    sources = {name: Image.open(FIXTURES / name).convert("RGB") for name in SOURCES}
    for image in sources.values():
        image.load()
    copies = [(SOURCES[index % len(SOURCES)], framing(sources[SOURCES[index % len(SOURCES)]].size, index),
               folder / f"{index // FOLDER_SIZE:03d}" / f"copy-{index:05d}.jpg") for index in range(rows)]
    for parent in {target.parent for _, _, target in copies}:
        parent.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(os.cpu_count()) as pool:  # Pillow and numpy release the GIL
        jobs = [pool.submit(write_copy, sources[name], frame, target) for name, frame, target in copies]
        for job in jobs:
            job.result()
    classified = {Path(result.path).name: result
                  for result in classify_paths([FIXTURES / name for name in SOURCES], device="cpu")}
    with open_results(str(results), "csv", overwrite=True) as (writer, _):
        for name, frame, target in copies:
            writer.write(copy_result(classified[name], frame, target).rows())
    (folder / "complete").touch()
    return results


def time_report(results: Path, page: Path) -> tuple[float, float]:
    """`gendersort report` in a process of its own: wall seconds and peak resident memory (MB)."""
    command = [sys.executable, "-m", "gendersort", "report", str(results), "--out", str(page), "--overwrite",
               "--quiet"]
    start = time.perf_counter()
    (done,) = run_together([command])
    return time.perf_counter() - start, done.peak_mb


def browser_missing() -> str:
    """Why the page cannot be opened here, or '' when it can."""
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (Debian package chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "no Python package playwright (pip install playwright; no `playwright install`)"
    return ""


def open_once(browser: Browser, page_path: Path) -> None:
    """Open the page in a fresh tab and print its three timings."""
    tab = browser.new_page(viewport=VIEWPORT)
    try:
        start = time.perf_counter()
        tab.goto(page_path.as_uri(), wait_until="commit")
        # A function, not an expression: the report's Content-Security-Policy forbids string evaluation.
        shown = tab.wait_for_function(FIRST_PAGE_SHOWN, timeout=120_000).json_value()
        first = time.perf_counter() - start
        redraw = tab.evaluate(FILTER_REDRAW)
        more = tab.evaluate(NEXT_PAGE)
        next_text = (f"next {more[1]} cards {more[0]:.3f} s" if more
                     else "no next page: every card is shown")
        print(f"  first {shown} cards drawn {first:.2f} s after asking for the page, "
              f"redraw after unticking male {redraw:.3f} s, {next_text}", flush=True)
    finally:
        tab.close()


def in_browser(page_path: Path, opens: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            print(f"headless Chromium {browser.version}, {opens} opens, each in a fresh tab:")
            for _ in range(opens):
                open_once(browser, page_path)
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000, help="rows of the results, one photo each")
    parser.add_argument("--out", default=str(ROOT / "build" / "report-bench"),
                        help="where inputs are made and kept, and the page is written")
    parser.add_argument("--opens", type=int, default=3, help="times the page is opened in Chromium")
    args = parser.parse_args()
    root = Path(args.out)
    results = make_inputs(root, args.rows)
    photos = sorted(results.parent.rglob("*.jpg"))
    average = sum(path.stat().st_size for path in photos) / len(photos) / 1e3
    print(f"{os.cpu_count()} cores; {len(photos)} distinct {LONG_SIDE} px JPEGs (average {average:.0f} KB), "
          f"{args.rows} rows in {results}")
    page = root / f"report-{args.rows}.html"
    seconds, peak_mb = time_report(results, page)
    size = page.stat().st_size
    print(f"gendersort report: {seconds:.1f} s, peak {peak_mb:.0f} MB; page {size / 1e6:.1f} MB "
          f"({size / args.rows / 1e3:.1f} KB per row) in {page}")
    missing = browser_missing()
    if missing:
        print(f"browser part skipped: {missing}")
    else:
        in_browser(page, args.opens)


if __name__ == "__main__":
    main()
