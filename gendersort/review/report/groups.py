"""The report of `gendersort evaluate --labels --by COLUMN`: a plot per column (each group's accuracy and
balanced accuracy with their 95% intervals, inline SVG, so the page stays one file) and a filter by group.

Clicking a group's row in a plot, or choosing it in the header's list, shows that group's photos alone.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gendersort.review.evaluation.intervals import Interval, wilson
from gendersort.review.evaluation.scoring import SMALL_GROUP, GroupScore, no_worst

ROW_HEIGHT, LABEL_WIDTH, PLOT_WIDTH, RIGHT_MARGIN, TOP = 24, 170, 420, 120, 28
COLOURS = {"ranked": "#2f6db5", "small": "#9a9a9a", "worst": "#c0392b"}


@dataclass(frozen=True)
class GroupView:
    """Each column's scores and worst group, and each photo's group in every column (by its path)."""

    columns: Mapping[str, Sequence[GroupScore]]
    worst: Mapping[str, str | None]
    of_path: Mapping[str, Mapping[str, str]]


def lowest_shown(scores: Sequence[GroupScore]) -> float:
    """The plot's left end: a tenth below the lowest interval, so that close figures stay apart."""
    lows = [interval[0] for score in scores for interval in intervals(score) if interval]
    return math.floor(min(lows, default=0.0) * 10) / 10


def intervals(score: GroupScore) -> tuple[Interval | None, Interval | None]:
    return wilson(score.correct, score.n), score.balanced_interval


def plot_svg(column: str, scores: Sequence[GroupScore], worst: str | None) -> str:
    start = lowest_shown(scores)
    height = TOP + ROW_HEIGHT * len(scores) + 8

    def x(value: float) -> float:
        return LABEL_WIDTH + (value - start) / (1 - start) * PLOT_WIDTH if start < 1 else LABEL_WIDTH

    ticks = [start + step / 10 for step in range(round((1 - start) * 10) + 1)]
    parts = [f'<text x="{x(tick):.1f}" y="12" text-anchor="middle" class="tick">{tick:.0%}</text>'
             f'<line x1="{x(tick):.1f}" y1="16" x2="{x(tick):.1f}" y2="{height - 4}" class="grid-line"/>'
             for tick in ticks]
    for row, score in enumerate(scores):
        kind = "worst" if score.group == worst else "small" if score.too_small else "ranked"
        colour, middle = COLOURS[kind], TOP + row * ROW_HEIGHT + ROW_HEIGHT / 2
        label = score.group + (" *" if score.too_small else "")
        figures = f"n {score.n}" + (f", {score.accuracy:.1%}" if score.accuracy is not None else "")
        marks = []
        for offset, value, interval, shape in ((-4, score.accuracy, intervals(score)[0], "circle"),
                                               (4, score.balanced_accuracy, intervals(score)[1], "diamond")):
            if value is None or interval is None:
                continue
            y = middle + offset
            marks.append(f'<line x1="{x(interval[0]):.1f}" y1="{y}" x2="{x(interval[1]):.1f}" y2="{y}" '
                         f'stroke="{colour}" stroke-width="2"/>')
            marks.append(marker(shape, x(value), y, colour))
        title, name = html.escape(f"{score.group}: {describe(score)}"), html.escape(score.group)
        parts.append(
            f'<g class="group-row" data-column="{html.escape(column)}" data-group="{name}">'
            f"<title>{title}</title>"
            f'<rect x="0" y="{middle - ROW_HEIGHT / 2}" width="{LABEL_WIDTH + PLOT_WIDTH + RIGHT_MARGIN}" '
            f'height="{ROW_HEIGHT}" class="row-band"/>'
            f'<text x="{LABEL_WIDTH - 8}" y="{middle + 4}" text-anchor="end" fill="{colour}">'
            f"{html.escape(label)}</text>{''.join(marks)}"
            f'<text x="{LABEL_WIDTH + PLOT_WIDTH + 8}" y="{middle + 4}" class="tick">{figures}</text></g>')
    width = LABEL_WIDTH + PLOT_WIDTH + RIGHT_MARGIN
    return (f'<svg class="group-plot" id="plot-{html.escape(column)}" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="accuracy by {html.escape(column)}">'
            f"{''.join(parts)}</svg>")


def marker(shape: str, x: float, y: float, colour: str) -> str:
    if shape == "circle":
        return f'<circle cx="{x:.1f}" cy="{y}" r="3.5" fill="{colour}"/>'
    points = f"{x:.1f},{y - 4} {x + 4:.1f},{y} {x:.1f},{y + 4} {x - 4:.1f},{y}"
    return f'<polygon points="{points}" fill="#fff" stroke="{colour}" stroke-width="1.5"/>'


def describe(score: GroupScore) -> str:
    def percent(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2%}"

    return (f"{score.n} photos, accuracy {percent(score.accuracy)}, "
            f"balanced {percent(score.balanced_accuracy)}, women {percent(score.women)}, "
            f"men {percent(score.men)}, no face {score.no_face}")


def groups_html(view: GroupView) -> str:
    """A section with each column's plot, its worst group named and the rule for small groups."""
    blocks = []
    for column, scores in view.columns.items():
        worst = view.worst.get(column)
        said = f"worst: {html.escape(worst)}" if worst else no_worst(scores)
        blocks.append(f"<h3>By {html.escape(column)} ({said})</h3>{plot_svg(column, scores, worst)}")
    legend = ("dot: accuracy, diamond: balanced accuracy, lines: 95% intervals (Wilson; balanced: MOVER); "
              f"* fewer than {SMALL_GROUP} photos, not ranked; red: the worst ranked group; "
              "click a group to see its photos")
    return (f'<section id="groups"><h2>Accuracy per group</h2><p class="detail">{legend}</p>'
            f'{"".join(blocks)}</section>')


def filters_html(view: GroupView) -> str:
    """A list per column in the header: every group, or one."""
    lists = []
    for column, scores in view.columns.items():
        options = "".join(f'<option value="{html.escape(score.group)}">{html.escape(score.group)} ({score.n})'
                          "</option>" for score in scores)
        name = html.escape(column)
        lists.append(f'<label>{name} <select class="group-filter" data-column="{name}">'
                     f'<option value="">every group</option>{options}</select></label>')
    return f'<div class="controls">{"".join(lists)}</div>'
