"""How many of a run's answers are likely right, from the model's own probabilities, and the threshold that
`--target-accuracy` chooses from the same figure.

The classifier's p_male is calibrated (the model card's reliability plot): of the faces it gives 0.9, about
nine in ten are men. So the mean confidence, max(p, 1 - p), of a set of answers estimates their accuracy
without a label, and the sum of 1 - confidence how many of them are wrong. The estimate holds on photos like
those it was calibrated on and drifts where they differ (docs/expected-accuracy.md says where it was
measured). Every summary (classify, sort, report, evaluate) and benchmarks/expected_accuracy.py use this
one module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gendersort.errors import BadOptionError
from gendersort.labels import LABELS, UNKNOWN
from gendersort.pipeline.results import OK, label_for
from gendersort.wording import confidence_of

# Sums of confidences are not exact: a mean that reaches the target up to this is taken to reach it.
TOLERANCE = 1e-9


def p_male_of(row: Mapping[str, object]) -> float | None:
    """A results row's p_male, as CSV (text), JSONL or Parquet (numbers) hold it; None when it has none."""
    value = row.get("p_male")
    return None if value is None or value == "" else float(str(value))


def answered_confidences(rows: Iterable[Mapping[str, object]]) -> list[float]:
    """The confidence of every row with an answer (status ok): what a threshold is chosen over."""
    return [confidence_of(p_male) for row in rows
            if row.get("status") == OK and (p_male := p_male_of(row)) is not None]


@dataclass
class LabelEstimate:
    """One label's rows, and for male and female how many of them are expected right (sum of confidences)."""

    label: str
    rows: int = 0
    right: float = 0.0

    @property
    def share(self) -> float | None:
        """The expected share right: the rows' mean confidence (None for unknown, which answers nothing)."""
        return self.right / self.rows if self.rows and self.label != UNKNOWN else None

    @property
    def wrong(self) -> float | None:
        return None if self.share is None else self.rows - self.right

    def sentence(self) -> str:
        """'female 412, expected 97.8% right: about 9 wrong'; 'unknown 12'."""
        if self.share is None or self.wrong is None:
            return f"{self.label} {self.rows}"
        about = f"{self.wrong:.0f}" if self.wrong >= 1 else f"{self.wrong:.1f}"
        return f"{self.label} {self.rows}, expected {self.share:.1%} right: about {about} wrong"

    def record(self) -> dict[str, object]:
        return {"rows": self.rows, "expected_accuracy": rounded(self.share),
                "expected_wrong": rounded(self.wrong)}


class ExpectedAccuracy:
    """Per label (female, male, unknown): how many rows, and for the answers the expected share right and
    number wrong. A row without a p_male (no face, an error) counts as unknown."""

    def __init__(self) -> None:
        self.labels = {label: LabelEstimate(label) for label in (*LABELS, UNKNOWN)}

    def add(self, label: str, p_male: float | None) -> None:
        estimate = self.labels[label if p_male is not None else UNKNOWN]
        estimate.rows += 1
        if estimate.label != UNKNOWN and p_male is not None:
            estimate.right += confidence_of(p_male)

    def add_rows(self, rows: Iterable[Mapping[str, object]]) -> ExpectedAccuracy:
        for row in rows:
            self.add(str(row.get("label") or UNKNOWN), p_male_of(row))
        return self

    @classmethod
    def of(cls, labelled: Iterable[tuple[str, float | None]]) -> ExpectedAccuracy:
        expected = cls()
        for label, p_male in labelled:
            expected.add(label, p_male)
        return expected

    def sentences(self) -> list[str]:
        return [estimate.sentence() for estimate in self.labels.values()]

    def record(self) -> dict[str, dict[str, object]]:
        return {label: estimate.record() for label, estimate in self.labels.items()}


@dataclass(frozen=True)
class Threshold:
    """The threshold --target-accuracy chose: rows whose confidence is at least `value` are labelled male or
    female, the rest unknown. `value` None: no set of rows reaches the target, every row is unknown."""

    target: float
    value: float | None
    kept: int
    answered: int  # rows with an answer (a face), kept or not
    expected: float | None  # the kept rows' expected accuracy

    def label(self, p_male: float) -> str:
        return UNKNOWN if self.value is None else label_for(p_male, self.value)

    def sentence(self) -> str:
        """'target accuracy 99.0%: threshold 0.9123, kept 480 of 541 rows with a face (88.7%), expected 99.0%
        right'."""
        head = f"target accuracy {self.target:.1%}: "
        if not self.answered:
            return f"{head}no row with a face to keep"
        if self.value is None or self.expected is None:
            return f"{head}no set of rows reaches it; all {self.answered} rows with a face labelled unknown"
        share = self.kept / self.answered
        return (f"{head}threshold {self.value:.4f}, kept {self.kept} of {self.answered} rows with a face "
                f"({share:.1%}), expected {self.expected:.1%} right")

    def record(self) -> dict[str, object]:
        return {"target": self.target, "threshold": self.value, "kept": self.kept, "answered": self.answered,
                "expected_accuracy": rounded(self.expected)}


def check_target(target: float) -> float:
    """A target accuracy lies strictly between 0.5 (a coin) and 1 (no model is sure of every answer)."""
    if not 0.5 < target < 1.0:
        hint = f"; for {target:g}%, give {target / 100:g}" if 50.0 < target < 100.0 else ""
        raise BadOptionError(f"the target accuracy must lie between 0.5 and 1 (both excluded), not "
                             f"{target:g}{hint}")
    return target


@dataclass(frozen=True)
class KeptPoint:
    """One point of the threshold's trade-off: keeping the rows whose confidence is at least `threshold`."""

    threshold: float
    kept: int
    expected: float


def trade_off(confidences: Iterable[float]) -> list[KeptPoint]:
    """The most confident rows first: at each distinct confidence, how many rows a threshold there keeps and
    their expected accuracy (their mean confidence, which never rises as more are kept). A threshold keeps
    every row of its confidence or none, so ties end a point together."""
    ordered = sorted(confidences, reverse=True)
    points, total = [], 0.0
    for count, value in enumerate(ordered, 1):
        total += value
        if count == len(ordered) or ordered[count] != value:
            points.append(KeptPoint(value, count, total / count))
    return points


def choose_threshold(confidences: Iterable[float], target: float) -> Threshold:
    """The lowest threshold whose kept rows have an expected accuracy of at least `target`: the most rows
    kept (the trade-off's mean confidence falls as the threshold falls)."""
    check_target(target)
    points = trade_off(confidences)
    reaching = [point for point in points if point.expected >= target - TOLERANCE]
    answered = points[-1].kept if points else 0
    if not reaching:
        return Threshold(target, None, 0, answered, None)
    chosen = reaching[-1]
    return Threshold(target, chosen.threshold, chosen.kept, answered, chosen.expected)


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
