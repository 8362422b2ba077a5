"""`gendersort report`: one self-contained HTML page to look at a run's results instead of reading the CSV.

A card per results row (one per photo, or one per face with `--faces all`) with an embedded thumbnail, the
face box, the label and p_male; summary counts; filters; sorted by confidence so the doubtful ones come first.
For an evaluation run it adds the confusion matrix, the accuracy figures and a gallery of the mistakes; for
one per group (`evaluate --labels --by`), a plot per column and a filter by group (groups.py).
"""

from __future__ import annotations

import html
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from gendersort.labels import UNKNOWN
from gendersort.outputs.whole_files import write_whole
from gendersort.pipeline.expected_accuracy import ExpectedAccuracy
from gendersort.pipeline.results import OK
from gendersort.printable import printable
from gendersort.review.report.groups import GroupView, filters_html, groups_html
from gendersort.review.report.page import render_page
from gendersort.review.report.thumbs import Thumbnail, make_thumbnail
from gendersort.review.report.trade_off import trade_off_html
from gendersort.review.results_file import ResultRow, as_rows, read_results
from gendersort.wording import confidence_of, describe

CATEGORIES = ("male", "female", "unknown", "error")
METRIC_NAMES = (
    ("accuracy", "Accuracy"),
    ("balanced_accuracy", "Balanced accuracy"),
    ("precision", "Precision (male)"),
    ("recall", "Recall (male)"),
    ("f1", "F1 (male)"),
    ("roc_auc", "ROC AUC"),
)
# What a photo that cannot be made into a thumbnail may raise: the card then says why instead.
UNREADABLE = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)

RowsSource = str | Path | Iterable[ResultRow | Mapping[str, Any]]
# Given the thumbnails as they are made and how many there will be, the same thumbnails (a progress bar).
Track = Callable[[Iterator[Any], int], Iterable[Any]]


@dataclass(frozen=True)
class EvaluationSummary:
    """What `gendersort evaluate` knows beyond the rows: the metrics and the rows it got wrong.

    `metrics` is review/evaluation/metrics.py's classification_metrics dict; each misclassified row carries
    its true label in `truth` (a ResultRow field, or a 'truth' key in a plain record).
    """

    metrics: Mapping[str, Any]
    misclassified: Sequence[ResultRow | Mapping[str, Any]] = field(default_factory=tuple)


@dataclass(frozen=True)
class ReportSummary:
    rows: int
    images: int
    faces: int
    by_category: dict[str, int]
    unreadable_images: int
    expected: ExpectedAccuracy
    first_unreadable: str = ""  # "path: why", of the first photo without a preview


def _thumbnails(paths: list[str], size: int, track: Track) -> dict[str, Thumbnail | str]:
    """Each distinct photo's thumbnail, or why it has none; decoded on threads (Pillow frees the GIL)."""

    def one(path: str) -> Thumbnail | str:
        try:
            return make_thumbnail(path, size)
        except UNREADABLE as error:
            return f"cannot read the photo: {error}"

    with ThreadPoolExecutor() as pool:
        return dict(zip(paths, track(pool.map(one, paths), len(paths)), strict=True))


def _faces_text(row: ResultRow) -> str:
    if row.face_index is not None:
        return f"face {row.face_index + 1} of {row.faces}" if row.faces else f"face {row.face_index + 1}"
    return f"{row.faces} faces, the main one shown" if row.faces and row.faces > 1 else ""


def _sentence(row: ResultRow) -> str:
    if row.p_male is None:
        return "Could not be classified" if row.status == "error" else "No face found"
    if row.label == UNKNOWN:  # classify ran with --min-confidence and this face fell short of it
        return f"Below the confidence threshold. {describe(row.p_male)}"
    return describe(row.p_male)


def _card_data(index: int, row: ResultRow, thumbnail: Thumbnail | str, thumb_index: int | None,
               groups: Mapping[str, str] | None) -> dict:
    """The fields the page's script renders a card from (and filters it by)."""
    unreadable = thumbnail if isinstance(thumbnail, str) else ""
    problems = [message for message in (row.error, unreadable) if message]
    box = row.box and isinstance(thumbnail, Thumbnail) and thumbnail.box_percent(row.box)
    return {
        "index": index,
        "path": row.path,
        "name": Path(row.path).name,
        "href": Path(row.path).absolute().as_uri(),
        "category": row.category,
        "sentence": _sentence(row),
        "p_male": row.p_male,
        "confidence": row.confidence,
        "faces_text": _faces_text(row),
        "box": box or None,
        "thumb": thumb_index,
        "truth": row.truth,
        "problems": problems,
        "groups": groups,
    }


def summarize(rows: Sequence[ResultRow], thumbnails: Mapping[str, Thumbnail | str]) -> ReportSummary:
    counts = Counter(row.category for row in rows)
    return ReportSummary(
        rows=len(rows),
        images=len({row.path for row in rows}),
        faces=sum({row.path: row.faces or 0 for row in rows}.values()),  # `--faces all` repeats the count
        by_category={category: counts.get(category, 0) for category in CATEGORIES},
        unreadable_images=sum(isinstance(thumbnail, str) for thumbnail in thumbnails.values()),
        expected=ExpectedAccuracy.of((row.label, row.p_male) for row in rows),
        first_unreadable=next((f"{path}: {thumbnail}" for path, thumbnail in thumbnails.items()
                               if isinstance(thumbnail, str)), ""),
    )


def _summary_html(summary: ReportSummary, model_versions: list[str]) -> str:
    items = [("photos", summary.images), ("faces found", summary.faces), ("rows", summary.rows),
             ("photos without preview", summary.unreadable_images)]
    if model_versions:
        items.append(("model", ", ".join(model_versions)))
    cells = "".join(f'<div><dt>{html.escape(name)}</dt><dd id="count-{name.replace(" ", "-")}">'
                    f"{html.escape(str(value))}</dd></div>" for name, value in items)
    expected = "; ".join(summary.expected.sentences())
    return (f'<dl class="stats">{cells}</dl><p class="expected" id="expected-accuracy" title="the mean '
            f'max(p_male, 1 - p_male) of each label\'s rows">Rows by label: {html.escape(expected)}</p>')


def _controls_html(summary: ReportSummary) -> str:
    boxes = "".join(f'<label><input type="checkbox" name="category" value="{category}" checked> '
                    f"{category} ({count})</label>" for category, count in summary.by_category.items())
    return f"""<div class="controls">{boxes}
<label>confidence at most <input type="range" id="max-confidence" min="50" max="100" step="0.5" value="100">
<output id="max-confidence-value">100.0%</output></label>
<label>order <select id="order">
<option value="confidence-ascending">least confident first</option>
<option value="confidence-descending">most confident first</option>
<option value="file">as in the results file</option></select></label>
<span>showing <strong id="shown-count">0</strong> of {summary.rows}</span></div>"""


def _percent(value: Any) -> str:
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    return "n/a" if missing else f"{value * 100:.1f}%"


def _evaluation_html(metrics: Mapping[str, Any], misclassified: int) -> str:
    """The confusion matrix (rows: truth, columns: prediction) and the metrics table."""
    (ff, fm), (mf, mm) = metrics["confusion_matrix"]
    figures = "".join(f"<tr><th>{title}</th><td>{_percent(metrics.get(key))}</td></tr>"
                      for key, title in METRIC_NAMES if key in metrics)
    return f"""<section id="evaluation">
<h2>Evaluation on {ff + fm + mf + mm} labelled photos</h2>
<table class="confusion" id="confusion-matrix">
<tr><th>truth \\ predicted</th><th>female</th><th>male</th></tr>
<tr><th>female</th><td>{ff}</td><td>{fm}</td></tr>
<tr><th>male</th><td>{mf}</td><td>{mm}</td></tr>
</table>
<table class="confusion" id="metrics">{figures}</table>
<h2>Misclassified ({misclassified})</h2>
<div id="misclassified" class="grid"></div>
</section>"""


def write_report(rows: RowsSource, out_html: str | Path, *, evaluation: EvaluationSummary | None = None,
                 groups: GroupView | None = None, thumb_size: int = 160, title: str | None = None,
                 track: Track = lambda thumbnails, count: thumbnails) -> ReportSummary:
    """Write the HTML report for a results file (CSV, JSONL or Parquet) or for rows already in memory.

    Relative photo paths are opened relative to the current directory, as `gendersort classify` wrote them.
    The thumbnails, the slow part, go through `track` as they are made.
    """
    results = read_results(rows) if isinstance(rows, (str, Path)) else as_rows(rows)
    wrong = as_rows(evaluation.misclassified) if evaluation else []
    paths = list(dict.fromkeys(row.path for row in [*results, *wrong]))
    thumbnails = _thumbnails(paths, thumb_size, track)
    readable = [path for path, thumbnail in thumbnails.items() if isinstance(thumbnail, Thumbnail)]
    thumb_of = {path: index for index, path in enumerate(readable)}

    def cards(chosen: list[ResultRow]) -> list[dict]:
        return [_card_data(index, row, thumbnails[row.path], thumb_of.get(row.path),
                           groups.of_path.get(row.path) if groups else None)
                for index, row in enumerate(chosen)]

    summary = summarize(results, thumbnails)
    versions = sorted({row.model_version for row in results if row.model_version})
    evaluation_html = _evaluation_html(evaluation.metrics, len(wrong)) if evaluation else ""
    answered = [row for row in results if row.status == OK and row.p_male is not None]
    wrong_paths = {row.path for row in wrong}
    trade_off = trade_off_html([confidence_of(row.p_male) for row in answered if row.p_male is not None],
                               [row.path not in wrong_paths for row in answered] if evaluation else None)
    page = render_page(
        title or ("gendersort evaluation" if evaluation else "gendersort results"),
        _summary_html(summary, versions),
        _controls_html(summary) + (filters_html(groups) if groups else ""),
        evaluation_html + trade_off + (groups_html(groups) if groups else ""),
        {"rows": cards(results), "misclassified": cards(wrong),
         "thumbs": [thumbnails[path].data_uri for path in readable]},
    )
    write_whole(out_html, printable(page))  # a name's undecodable bytes as \\x escapes: the page is UTF-8
    return summary
