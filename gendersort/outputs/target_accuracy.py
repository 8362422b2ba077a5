"""`classify --target-accuracy A`: the rows below the run's threshold relabelled unknown, once, at the end.

The threshold depends on every row of the run, so the rows are written as any run writes them (each
labelled by its more likely side; flushed, crash-safe, resumable, under the lock) and, once every photo has
its row, the whole output is relabelled in one rewrite under the same lock: CSV and JSONL through a hidden
file renamed over it (writers.rewrite), a Parquet dataset part by part, each part renamed into place. The
threshold is chosen from the rows as the output holds them (p_male to four places), so a run killed at any
moment and resumed with the same options ends with the very rows of an uninterrupted one: whatever labels a
kill left, the resumed run chooses the threshold again from the same values and relabels every row by it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gendersort.outputs.writers import PARQUET, parquet_support, read_output, rewrite
from gendersort.pipeline.expected_accuracy import (
    ExpectedAccuracy,
    Threshold,
    answered_confidences,
    check_target,
    choose_threshold,
    p_male_of,
)
from gendersort.pipeline.results import OK

Row = dict[str, object]


def relabelled(rows: list[Row], threshold: Threshold) -> list[Row]:
    """The rows, each answer labelled by the threshold (male or female at or above it, unknown below)."""
    return [relabelled_row(row, threshold) for row in rows]


def relabelled_row(row: Mapping[str, object], threshold: Threshold) -> Row:
    p_male = p_male_of(row)
    if row.get("status") != OK or p_male is None:
        return dict(row)
    return {**row, "label": threshold.label(p_male)}


@dataclass
class TargetAccuracy:
    """What `apply` chose for an output: the threshold and, for the summary, the relabelled rows' expected
    accuracy per label."""

    target: float
    threshold: Threshold | None = None
    expected: ExpectedAccuracy | None = None

    def __post_init__(self) -> None:
        check_target(self.target)

    def apply(self, path: Path, fmt: str) -> None:
        """Choose the threshold over every row of the output and relabel the output by it."""
        rows = read_output(path, fmt)
        threshold = choose_threshold(answered_confidences(rows), self.target)
        if fmt == PARQUET:
            parquet_support().rewrite_parts(path, lambda part: relabelled(part, threshold))
        else:
            rewrite(path, fmt, relabelled(rows, threshold))
        self.threshold = threshold
        self.expected = ExpectedAccuracy().add_rows(relabelled(rows, threshold))
