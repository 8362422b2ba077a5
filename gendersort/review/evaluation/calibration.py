"""The expected accuracy tested: on labelled photos, per predicted label, the share right that the model's own
probabilities expect (pipeline/expected_accuracy.py, as every summary says it) beside the share that was
right; and what --target-accuracy's threshold keeps, and how right that really is. What `evaluate` prints
beside its true figures and writes in --json, and what benchmarks/expected_accuracy.py tabulates.

Only photos with a face count here: a photo without one has no answer to expect anything of (the true
figures elsewhere count it wrong).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gendersort.labels import LABELS
from gendersort.pipeline.expected_accuracy import (
    ExpectedAccuracy,
    LabelEstimate,
    Threshold,
    choose_threshold,
    rounded,
)
from gendersort.pipeline.results import label_for
from gendersort.review.evaluation.scoring import Scored
from gendersort.wording import confidence_of


@dataclass(frozen=True)
class LabelCheck:
    """One predicted label: its rows and their expected share right (`estimate`), and the true share."""

    estimate: LabelEstimate
    true: float | None

    @property
    def gap(self) -> float | None:
        """Expected minus true, in points (positive: the estimate promised more than it gave)."""
        expected = self.estimate.share
        return None if expected is None or self.true is None else (expected - self.true) * 100

    def sentence(self) -> str:
        """'female 412, expected 97.8% right: about 9 wrong; true 97.1%: 12 wrong'."""
        said = self.estimate.sentence()
        if self.true is None:
            return said
        return f"{said}; true {self.true:.1%}: {round(self.estimate.rows * (1 - self.true))} wrong"

    def record(self) -> dict[str, object]:
        return {"label": self.estimate.label, **self.estimate.record(), "true_accuracy": rounded(self.true),
                "gap_points": rounded(self.gap)}


def answers(scored: Scored) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The photos with a face: p_male, whether it was right, and the label it was given."""
    p_male, found = scored.p_male[scored.found], scored.found
    right = (p_male >= 0.5) == scored.is_male[found]
    return p_male, right, np.array([label_for(float(p)) for p in p_male], dtype=object)


def expected_vs_true(scored: Scored) -> list[LabelCheck]:
    """Per predicted label (female, male), then for both together ('answered')."""
    p_male, right, labels = answers(scored)
    expected = ExpectedAccuracy.of(zip(labels, (float(p) for p in p_male), strict=True))
    checks = [LabelCheck(expected.labels[label], share(right[labels == label])) for label in LABELS]
    both = LabelEstimate("answered", len(p_male), sum(expected.labels[label].right for label in LABELS))
    return [*checks, LabelCheck(both, share(right))]


def share(right: np.ndarray) -> float | None:
    return float(right.mean()) if right.size else None


@dataclass(frozen=True)
class TargetCheck:
    """--target-accuracy on labelled photos: the threshold it chooses, and the kept rows' true accuracy."""

    threshold: Threshold
    photos: int  # every labelled photo, with a face or not
    true: float | None

    def record(self) -> dict[str, object]:
        return {**self.threshold.record(), "photos": self.photos, "true_accuracy": rounded(self.true)}


def target_check(scored: Scored, target: float) -> TargetCheck:
    p_male, right, _ = answers(scored)
    confidences = [confidence_of(float(p)) for p in p_male]
    threshold = choose_threshold(confidences, target)
    value = threshold.value
    kept = np.array(confidences) >= value if value is not None else np.zeros(len(confidences), bool)
    return TargetCheck(threshold, len(scored.is_male), share(right[kept]))
