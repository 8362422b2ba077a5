"""Scoring a labelled set as a whole and per group: the one way gendersort scores a group, used by
`gendersort evaluate --labels` and by export/ for the model card's tables.

Every photo counts: one without a face, or one that could not be read, counts as wrong. Each figure has a
95% interval (intervals.py). Balanced accuracy is the mean of women's and men's accuracy over the genders
the group has (a group of men alone: the men's accuracy, as scikit-learn's balanced_accuracy_score gives
it). A group of fewer than SMALL_GROUP photos is too small to say much about: it is shown, flagged, and
never named the worst; a worst group is named only when it scores below another group that is ranked.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gendersort.review.evaluation.intervals import Interval, mean_interval, wilson
from gendersort.review.evaluation.metrics import classification_metrics

SMALL_GROUP = 30


@dataclass(frozen=True)
class Scored:
    """Every labelled photo: its truth and the model's p_male (NaN: no face found, or unreadable)."""

    is_male: np.ndarray
    p_male: np.ndarray
    unreadable: np.ndarray

    @classmethod
    def of(cls, is_male: Sequence[bool] | np.ndarray, p_male: Sequence[float] | np.ndarray,
           unreadable: Sequence[bool] | np.ndarray | None = None) -> Scored:
        truth = np.asarray(is_male, bool)
        missing = np.zeros(truth.shape, bool) if unreadable is None else np.asarray(unreadable, bool)
        return cls(truth, np.asarray(p_male, float), missing)

    @property
    def found(self) -> np.ndarray:
        return ~np.isnan(self.p_male)

    @property
    def predicted_male(self) -> np.ndarray:
        """The model's answer; a photo without one gets the wrong answer."""
        return np.where(self.found, self.p_male >= 0.5, ~self.is_male)

    @property
    def correct(self) -> np.ndarray:
        return self.predicted_male == self.is_male

    def subset(self, mask: np.ndarray) -> Scored:
        return Scored(self.is_male[mask], self.p_male[mask], self.unreadable[mask])


@dataclass(frozen=True)
class GroupScore:
    """One group's counts, and the figures and intervals they give (None where the group has no one)."""

    group: str
    women_n: int
    women_correct: int
    men_n: int
    men_correct: int
    no_face: int
    unreadable: int

    @classmethod
    def of(cls, group: str, scored: Scored) -> GroupScore:
        men, correct = scored.is_male, scored.correct
        return cls(group, int((~men).sum()), int((correct & ~men).sum()), int(men.sum()),
                   int((correct & men).sum()), int((~scored.found & ~scored.unreadable).sum()),
                   int(scored.unreadable.sum()))

    @property
    def n(self) -> int:
        return self.women_n + self.men_n

    @property
    def correct(self) -> int:
        return self.women_correct + self.men_correct

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.n if self.n else None

    @property
    def women(self) -> float | None:
        return self.women_correct / self.women_n if self.women_n else None

    @property
    def men(self) -> float | None:
        return self.men_correct / self.men_n if self.men_n else None

    @property
    def per_gender(self) -> list[tuple[float, Interval]]:
        """(accuracy, interval) of each gender the group has."""
        return [(correct / n, wilson(correct, n)) for correct, n in
                ((self.women_correct, self.women_n), (self.men_correct, self.men_n)) if n]

    @property
    def balanced_accuracy(self) -> float | None:
        genders = self.per_gender
        return sum(accuracy for accuracy, _ in genders) / len(genders) if genders else None

    @property
    def balanced_interval(self) -> Interval | None:
        genders = self.per_gender
        if not genders:
            return None
        return mean_interval([accuracy for accuracy, _ in genders], [interval for _, interval in genders])

    @property
    def too_small(self) -> bool:
        return self.n < SMALL_GROUP

    def record(self) -> dict[str, object]:
        """The group as `--json` writes it (and export/'s JSON files)."""
        return {
            "group": self.group, "n": self.n, "correct": self.correct,
            "accuracy": self.accuracy, "ci95": as_list(wilson(self.correct, self.n)),
            "balanced_accuracy": self.balanced_accuracy,
            "balanced_accuracy_ci95": as_list(self.balanced_interval),
            "women": self.women, "women_n": self.women_n,
            "women_ci95": as_list(wilson(self.women_correct, self.women_n)),
            "men": self.men, "men_n": self.men_n, "men_ci95": as_list(wilson(self.men_correct, self.men_n)),
            "no_face": self.no_face, "unreadable": self.unreadable, "too_small": self.too_small,
        }


def as_list(interval: Interval | None) -> list[float] | None:
    return None if interval is None else list(interval)


def overall(scored: Scored, group: str = "all") -> dict[str, object]:
    """The whole set: the group record, then precision, recall, F1, ROC AUC and the confusion matrix, where a
    photo without an answer is predicted as the gender it is not (p_male 0 for a man, 1 for a woman), and
    `confusion_with_no_answer`, where such photos have columns of their own (confusion())."""
    scores = np.where(scored.found, scored.p_male, np.where(scored.is_male, 0.0, 1.0))
    metrics = classification_metrics(scored.is_male, scored.predicted_male, scores)
    record = GroupScore.of(group, scored).record()
    extra = {key: None if isinstance(value, float) and math.isnan(value) else value  # the AUC of one gender
             for key, value in metrics.items() if key not in record}
    return record | extra | {"confusion_with_no_answer": confusion(scored)}


def confusion(scored: Scored) -> list[list[int]]:
    """Rows: true female, true male; columns: predicted female, male, no face found, unreadable."""
    answered, no_face = scored.found, ~scored.found & ~scored.unreadable
    said_male = scored.p_male >= 0.5
    return [[int(np.sum(truth & answered & ~said_male)), int(np.sum(truth & answered & said_male)),
             int(np.sum(truth & no_face)), int(np.sum(truth & scored.unreadable))]
            for truth in (~scored.is_male, scored.is_male)]


def by_group(scored: Scored, groups: Sequence[str], order: Sequence[str]) -> list[GroupScore]:
    """A score per group, in `order`; `groups` names each photo's group."""
    names = np.asarray(groups, dtype=object)
    return [GroupScore.of(name, scored.subset(names == name)) for name in order]


def ranked(scores: Sequence[GroupScore]) -> list[GroupScore]:
    """The groups large enough to rank."""
    return [score for score in scores if not score.too_small and score.balanced_accuracy is not None]


def worst(scores: Sequence[GroupScore]) -> GroupScore | None:
    """The ranked group with the lowest balanced accuracy, when that is below another ranked group's: a
    group ranked alone, or groups that all score alike, have no worst (no_worst() says why)."""
    groups = ranked(scores)
    lowest = min(groups, key=lambda score: score.balanced_accuracy, default=None)
    below = lowest and any(score.balanced_accuracy > lowest.balanced_accuracy for score in groups)
    return lowest if below else None


def no_worst(scores: Sequence[GroupScore]) -> str:
    """Why worst() names no group, in words."""
    count = len(ranked(scores))
    if count == 0:
        return f"no group of {SMALL_GROUP} photos or more to rank"
    if count == 1:
        return f"one group of {SMALL_GROUP} photos or more: none to rank it against"
    return f"the groups of {SMALL_GROUP} photos or more score alike: none is worst"
