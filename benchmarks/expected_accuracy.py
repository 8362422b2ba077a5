"""The expected accuracy tested on the val parts, plain and degraded (issue #25's targets): per part and
variant, the rows per predicted label with their expected share right beside the true one (target: within
1.5 points), and what `--target-accuracy 0.99` keeps (target: at least 98.5% right).

    python -m export.evaluate celeba fairface utkface allagefaces scut --out build/eval/v4
    python -m export.evaluate ... --out build/eval/v4 --degrade greyscale --limit 1500  # and sepia, thumbnail
    python -m benchmarks.expected_accuracy build/eval/v4                 # the table docs/accuracy.md shows
    python -m benchmarks.expected_accuracy build/eval/v4 --markdown      # the same, as Markdown

Reads export/evaluate.py's every-image outputs ({set}.npz and {set}-{kind}.npz: paths, is_male, p_male,
NaN where no face was found) and computes every figure with the functions the commands use
(gendersort.review.evaluation.calibration over pipeline/expected_accuracy.py). Photos without a face have
no answer: they are left out of the expected-against-true figures and count as not kept.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from gendersort.review.evaluation.calibration import expected_vs_true, target_check
from gendersort.review.evaluation.scoring import Scored

SETS = ("celeba", "fairface", "utkface", "allagefaces", "scut")
VARIANTS = ("", "greyscale", "sepia", "thumbnail")
TARGET = 0.99
GAP_TARGET, KEPT_TARGET = 1.5, 0.985  # points; true accuracy of the kept rows
COLUMNS = ("part", "variant", "photos", "female: rows, expected, true", "male: rows, expected, true",
           "largest gap (points)", "both: expected, true",
           f"--target-accuracy {TARGET}: threshold, kept, true")


def scored_part(path: Path) -> Scored:
    saved = np.load(path)
    return Scored.of(saved["is_male"], saved["p_male"])


def percent(value: float | None, places: int = 1) -> str:
    return "-" if value is None else f"{value * 100:.{places}f}%"


def table_row(part: str, variant: str, scored: Scored) -> tuple[list[str], bool]:
    """The row's cells, and whether the part meets both targets."""
    checks = {check.estimate.label: check for check in expected_vs_true(scored)}
    per_label = [f"{checks[label].estimate.rows}, {percent(checks[label].estimate.share)}, "
                 f"{percent(checks[label].true)}" for label in ("female", "male")]
    both = f"{percent(checks['answered'].estimate.share)}, {percent(checks['answered'].true)}"
    gaps = [abs(checks[label].gap) for label in ("female", "male") if checks[label].gap is not None]
    largest = max(gaps, default=0.0)
    kept = target_check(scored, TARGET)
    threshold = kept.threshold
    share = threshold.kept / kept.photos if kept.photos else 0.0
    chosen = ("none reaches it" if threshold.value is None else
              f"{threshold.value:.4f}, {percent(share)} ({threshold.kept}), {percent(kept.true, 2)}")
    close, right = largest <= GAP_TARGET, kept.true is not None and kept.true >= KEPT_TARGET
    cells = [part, variant or "plain", str(kept.photos), *per_label,
             f"{largest:.2f}{'' if close else ' (missed)'}", both, f"{chosen}{'' if right else ' (missed)'}"]
    return cells, close and right


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="export/evaluate.py's --out (e.g. build/eval/v4)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    rows, missed = [], []
    for part in SETS:
        for variant in VARIANTS:
            path = args.folder / f"{part}{f'-{variant}' if variant else ''}.npz"
            if not path.exists():
                print(f"missing: {path}")
                continue
            cells, met = table_row(part, variant, scored_part(path))
            rows.append(cells)
            if not met:
                missed.append(f"{part} {variant or 'plain'}")
    if args.markdown:
        print("| " + " | ".join(COLUMNS) + " |")
        print("|" + "---|" * len(COLUMNS))
        for cells in rows:
            print("| " + " | ".join(cells) + " |")
    else:
        widths = [max(len(column), *(len(cells[index]) for cells in rows)) for index, column in
                  enumerate(COLUMNS)] if rows else [len(column) for column in COLUMNS]
        for cells in [list(COLUMNS), *rows]:
            print("  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)))
    print(f"targets: expected within {GAP_TARGET} points of true per label; --target-accuracy {TARGET} "
          f"keeps rows at least {KEPT_TARGET:.1%} right. Missed on: {', '.join(missed) or 'none'}")


if __name__ == "__main__":
    main()
