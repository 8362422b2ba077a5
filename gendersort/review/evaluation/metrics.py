"""Binary classification metrics with 'male' as the positive class; no scikit-learn needed."""

from __future__ import annotations

import numpy as np


def classification_metrics(is_male: np.ndarray, predicted_male: np.ndarray,
                           p_male: np.ndarray | None = None) -> dict[str, float | list[list[int]]]:
    """Accuracy, precision, recall, F1, balanced accuracy, confusion matrix, and ROC AUC when scores exist.

    The confusion matrix is [[female->female, female->male], [male->female, male->male]].
    """
    truth, guess = np.asarray(is_male, bool), np.asarray(predicted_male, bool)
    tp, tn = int(np.sum(truth & guess)), int(np.sum(~truth & ~guess))
    fp, fn = int(np.sum(~truth & guess)), int(np.sum(truth & ~guess))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    specificity = tn / (tn + fp) if tn + fp else 0.0
    result: dict[str, float | list[list[int]]] = {
        "n": int(truth.size),
        "accuracy": (tp + tn) / truth.size if truth.size else 0.0,
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "balanced_accuracy": (recall + specificity) / 2,
        "confusion_matrix": [[tn, fp], [fn, tp]],
    }
    if p_male is not None:
        result["roc_auc"] = roc_auc(truth, np.asarray(p_male, float))
    return result


def roc_auc(truth: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve via the rank-sum (Mann-Whitney) statistic, ties averaged."""
    positives, negatives = int(truth.sum()), int((~truth).sum())
    if not positives or not negatives:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(scores)]])
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2
    return float((ranks[truth].sum() - positives * (positives + 1) / 2) / (positives * negatives))
