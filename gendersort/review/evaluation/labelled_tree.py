"""Scoring the model on a labelled tree: DIR/male/... and DIR/female/... hold the truth in their names."""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gendersort.errors import BadOptionError
from gendersort.labels import LABELS
from gendersort.outputs.csv_text import csv_writer
from gendersort.outputs.whole_files import write_whole
from gendersort.photos.walk import FoundFile, find_images
from gendersort.pipeline.analysis import FaceAnalyzer
from gendersort.pipeline.api import BATCH_SIZE, WORKERS, classify_paths
from gendersort.pipeline.results import NO_FACE, OK, ImageResult
from gendersort.review.evaluation.metrics import classification_metrics

MISCLASSIFIED_COLUMNS = ("path", "truth", "predicted", "p_male")


def labelled_folders(root: str | Path) -> list[tuple[str, Path]]:
    """(true label, folder) for root's folders named female and male in any case (`Male/`, `FEMALE/`),
    those that exist, in that order; a root with neither is refused here, before any model is loaded."""
    root = Path(root)
    folders = sorted((entry.name.lower(), Path(entry.path)) for entry in os.scandir(root)
                     if entry.name.lower() in LABELS and entry.is_dir())
    if not folders:
        raise BadOptionError(f"{root} has neither a male/ nor a female/ folder (in any case); evaluate needs "
                             "such a tree, or a labels file: evaluate --labels labels.csv (path,label)")
    return folders


def labelled_results(folders: list[tuple[str, Path]], *, analyzer: FaceAnalyzer, batch_size: int = BATCH_SIZE,
                     workers: int = WORKERS) -> Iterator[tuple[str, ImageResult]]:
    """(true label, result) for every photo in labelled_folders(root), labelled by the main face."""
    for truth, folder in folders:
        for result in classify_paths([folder], analyzer=analyzer, batch_size=batch_size, workers=workers):
            yield truth, result


def labelled_photos(folders: list[tuple[str, Path]]) -> Iterator[FoundFile]:
    """The photos labelled_results classifies, in its order, found by the same walk (the bar's count)."""
    return (found for _, folder in folders for found in find_images([folder]))


@dataclass(frozen=True)
class Miss:
    path: str
    truth: str
    predicted: str  # a label, or why there is none ("no face", "unreadable")
    p_male: float | None


@dataclass
class Evaluation:
    """Metrics over the photos with a face; photos without one, and unreadable ones, are counted apart."""

    metrics: dict[str, object]
    misclassified: list[Miss]
    no_face: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def of(cls, labelled: Iterable[tuple[str, ImageResult]]) -> Evaluation:
        truths, p_male, paths, no_face, errors = [], [], [], [], []
        for truth, result in labelled:
            if result.status == OK:
                truths.append(truth == "male")
                p_male.append(result.p_male)
                paths.append(result.path)
            elif result.status == NO_FACE:
                no_face.append(result.path)
            else:
                errors.append((result.path, result.error))
        is_male, scores = np.array(truths, bool), np.array(p_male, float)
        predicted_male = scores >= 0.5
        misses = [Miss(path, label_of(truth), label_of(guess), score)
                  for path, truth, guess, score in zip(paths, is_male, predicted_male, scores, strict=True)
                  if truth != guess]
        return cls(classification_metrics(is_male, predicted_male, scores), misses, no_face, errors)

    def write_misclassified(self, path: str | Path) -> None:
        write_misclassified(self.misclassified, path)

    def report(self) -> str:
        """What `evaluate DIR` prints: the counts, the figures, the confusion matrix, the misclassified."""
        metrics = self.metrics
        (tn, fp), (fn, tp) = metrics["confusion_matrix"]
        lines = [
            f"photos with a face: {metrics['n']} (no face: {len(self.no_face)}, "
            f"unreadable: {len(self.errors)})",
            *(f"{name:<18} {metrics[key]:.4f}" for name, key in (
                ("accuracy", "accuracy"), ("precision (male)", "precision"), ("recall (male)", "recall"),
                ("F1 (male)", "f1"), ("balanced accuracy", "balanced_accuracy"), ("ROC AUC", "roc_auc"))),
            "confusion matrix (rows: truth, columns: predicted)",
            f"{'':>10} {'female':>8} {'male':>8}",
            f"{'female':>10} {tn:>8} {fp:>8}",
            f"{'male':>10} {fn:>8} {tp:>8}",
            f"misclassified: {len(self.misclassified)}",
            *(f"  {miss.path}: {miss.truth}, predicted {miss.predicted} (p_male {miss.p_male:.4f})"
              for miss in self.misclassified),
            *(f"  unreadable: {path}: {error}" for path, error in self.errors),
        ]
        return "\n".join(lines)


def write_misclassified(misses: Iterable[Miss], path: str | Path) -> None:
    text = io.StringIO()
    writer = csv_writer(text)
    writer.writerow(MISCLASSIFIED_COLUMNS)
    writer.writerows((miss.path, miss.truth, miss.predicted,
                      "" if miss.p_male is None else round(miss.p_male, 4)) for miss in misses)
    write_whole(path, text.getvalue())


def label_of(is_male: bool) -> str:
    return "male" if is_male else "female"
