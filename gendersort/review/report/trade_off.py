"""The report's plot of the threshold's trade-off: keeping only the rows whose confidence is at least a
threshold, the share of the rows with a face kept (x) against their expected accuracy (y), inline SVG as
the group plots are (groups.py), so the page stays one file. The dots mark thresholds a reader may pick
(`--min-confidence`), each with its figures on hover; an evaluation adds the kept rows' true accuracy.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence

from gendersort.pipeline.expected_accuracy import KeptPoint, trade_off

WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 560, 300, 56, 16, 14, 40
MARKED = (0.6, 0.7, 0.8, 0.9, 0.95, 0.99)  # thresholds with a dot
MOST_POINTS = 400  # vertices of a line: enough for the eye, small for a page of 100,000 rows
BOTTOMS = (0.99, 0.98, 0.97, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5)  # the plot's lower end: the first below all
TICK_STEPS = ((0.03, 0.005), (0.06, 0.01), (0.2, 0.05), (1.0, 0.1))  # (span up to, step) of the accuracy axis
LABEL_ROOM = 24  # pixels between two thresholds' labels; one closer to the last is left to its dot's title
COLOURS = {"expected": "#2f6db5", "true": "#c0392b"}


def lowest_shown(points: Sequence[KeptPoint], true: Sequence[float]) -> float:
    """The plot's lower end: the first of BOTTOMS below its lowest figure (close figures stay apart)."""
    lowest = min([point.expected for point in points] + list(true), default=0.9)
    return next((bottom for bottom in BOTTOMS if bottom < lowest), BOTTOMS[-1])


def every_few(count: int) -> list[int]:
    """At most MOST_POINTS indexes from 0 to count - 1, both ends among them."""
    step = max(1, math.ceil(count / MOST_POINTS))
    return sorted({*range(0, count, step), count - 1})


def trade_off_svg(confidences: Sequence[float], correct: Sequence[bool] | None = None) -> str:
    """The plot for rows with these confidences (of their answers); `correct`, when the truth is known,
    says for each row (in the same order) whether its answer was right."""
    points = trade_off(confidences)
    if not points:
        return ""
    answered = points[-1].kept
    true = true_accuracy(confidences, correct, points) if correct is not None else []
    bottom = lowest_shown(points, true)
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(kept: int) -> float:
        return LEFT + kept / answered * plot_width

    def y(value: float) -> float:
        return TOP + (1 - value) / (1 - bottom) * plot_height

    shown = every_few(len(points))
    parts = axes(bottom, y)
    for name, values in (("expected", [point.expected for point in points]), ("true", true)):
        if values:
            vertices = " ".join(f"{x(points[index].kept):.1f},{y(values[index]):.1f}" for index in shown)
            parts.append(f'<polyline class="{name}" points="{vertices}" fill="none" stroke="{COLOURS[name]}" '
                         'stroke-width="2"/>')
    labelled_at = (-LABEL_ROOM, -LABEL_ROOM)
    for threshold in MARKED:
        index = last_at_least(points, threshold)
        if index is None:
            continue
        point, left, top = points[index], x(points[index].kept), y(points[index].expected)
        truth = f", true {true[index]:.1%}" if true else ""
        title = (f"threshold {threshold:g}: keeps {point.kept} of {answered} ({point.kept / answered:.1%}), "
                 f"expected {point.expected:.1%} right{truth}")
        label = ""
        if math.dist((left, top), labelled_at) >= LABEL_ROOM:
            label, labelled_at = (f'<text x="{left - 6:.1f}" y="{top + 16:.1f}" class="tick">{threshold:g}'
                                  "</text>"), (left, top)
        parts.append(f'<g class="threshold"><title>{html.escape(title)}</title><circle cx="{left:.1f}" '
                     f'cy="{top:.1f}" r="4" fill="{COLOURS["expected"]}"/>{label}</g>')
    return (f'<svg class="trade-off" id="trade-off-plot" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'aria-label="expected accuracy against the share of rows kept">{"".join(parts)}</svg>')


def axes(bottom: float, y: Callable[[float], float]) -> list[str]:
    """Grid lines and labels: the share kept every 20%, the accuracy from `bottom` in TICK_STEPS' steps."""
    step = next(step for span, step in TICK_STEPS if 1 - bottom <= span + 1e-9)
    accuracy_ticks = [bottom + index * step for index in range(round((1 - bottom) / step) + 1)]
    parts = []
    for share in (0, 0.2, 0.4, 0.6, 0.8, 1.0):
        left = LEFT + share * (WIDTH - LEFT - RIGHT)
        parts.append(f'<line x1="{left:.1f}" y1="{TOP}" x2="{left:.1f}" y2="{HEIGHT - BOTTOM}" '
                     f'class="grid-line"/><text x="{left:.1f}" y="{HEIGHT - BOTTOM + 16}" '
                     f'text-anchor="middle" class="tick">{share:.0%}</text>')
    for value in accuracy_ticks:
        parts.append(f'<line x1="{LEFT}" y1="{y(value):.1f}" x2="{WIDTH - RIGHT}" y2="{y(value):.1f}" '
                     f'class="grid-line"/><text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" '
                     f'class="tick">{value:.{0 if step >= 0.01 else 1}%}</text>')
    parts.append(f'<text x="{LEFT + (WIDTH - LEFT - RIGHT) / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle" '
                 'class="tick">share of the rows with a face kept (labelled male or female)</text>')
    return parts


def last_at_least(points: Sequence[KeptPoint], threshold: float) -> int | None:
    """The point a threshold keeps: the last whose confidence is at least it."""
    indexes = [index for index, point in enumerate(points) if point.threshold >= threshold]
    return indexes[-1] if indexes else None


def true_accuracy(confidences: Sequence[float], correct: Sequence[bool], points: Sequence[KeptPoint]
                  ) -> list[float]:
    """The true accuracy of the rows each point keeps (the most confident first, as trade_off orders)."""
    ordered = sorted(zip(confidences, correct, strict=True), key=lambda pair: -pair[0])
    right, accuracy, taken = 0, [], 0
    for point in points:
        while taken < point.kept:
            right += ordered[taken][1]
            taken += 1
        accuracy.append(right / point.kept)
    return accuracy


def trade_off_html(confidences: Sequence[float], correct: Sequence[bool] | None = None) -> str:
    """The section: the plot, what it shows, and its legend."""
    plot = trade_off_svg(confidences, correct)
    if not plot:
        return ""
    legend = ("blue: expected accuracy of the rows kept (their mean confidence), as --target-accuracy "
              "chooses its threshold; dots: thresholds (hover for the figures)")
    if correct is not None:
        legend += "; red: their true accuracy"
    return (f'<section id="trade-off"><h2>Expected accuracy against the share kept</h2>'
            f'<p class="detail">{html.escape(legend)}</p>{plot}</section>')
