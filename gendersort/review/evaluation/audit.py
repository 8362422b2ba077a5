"""`gendersort evaluate`: the labelled photos' rows scored as a whole and per `--by` column, the JSON
document `--json` writes and the misclassified photos' CSV.

The labels come from a labels file or from a tree's folder names (labelled_tree.py); the rows from running
the models on the labelled photos or from an earlier run's results file; either way they are paired with
the labels by path (matching.py), and a photo without a face or unreadable counts as wrong (scoring.py).
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gendersort.outputs.csv_text import csv_writer
from gendersort.outputs.whole_files import write_whole
from gendersort.pipeline.results import ERROR, OK
from gendersort.review.evaluation.calibration import LabelCheck, expected_vs_true
from gendersort.review.evaluation.grouping import GroupBy
from gendersort.review.evaluation.intervals import Z95
from gendersort.review.evaluation.labels_file import LabelsFile
from gendersort.review.evaluation.matching import Matched
from gendersort.review.evaluation.scoring import SMALL_GROUP, GroupScore, Scored, by_group, overall, worst
from gendersort.review.results_file import ResultRow

INTERVAL = ("Wilson score, 95%; balanced accuracy: the Wilson limits of women's and men's accuracy "
            "combined by MOVER")
RULES = {"every_photo_counts": "a photo without a face, or unreadable, counts as wrong",
         "confusion_matrix": "rows: true female, male; columns: predicted female, male; a photo without an "
                             "answer counts as predicted the other gender",
         "confusion_with_no_answer": "rows: true female, male; columns: predicted female, male, no face, "
                                     "unreadable",
         "interval": INTERVAL, "z": Z95, "small_group": f"fewer than {SMALL_GROUP} photos: not ranked",
         "worst": "the lowest balanced accuracy among the groups not too small, when below another of "
                  "them; null when none is",
         "expected_vs_true": "photos with a face, by predicted label: expected accuracy, the mean "
                             "max(p_male, 1 - p_male), beside the true accuracy; gap in points"}
MISCLASSIFIED_COLUMNS = ("path", "truth", "predicted", "p_male")


@dataclass(frozen=True)
class Miss:
    path: str
    truth: str
    predicted: str  # a label, or why there is none ("no face", "unreadable")
    p_male: float | None


@dataclass
class LabelledAudit:
    labels: LabelsFile
    by: list[GroupBy]
    matched: Matched
    scored: Scored
    overall: dict[str, object]
    columns: dict[str, list[GroupScore]]

    @classmethod
    def of(cls, labels: LabelsFile, by: list[GroupBy], matched: Matched) -> LabelledAudit:
        rows = [row for _, row in matched.pairs]
        scored = Scored.of([photo.truth == "male" for photo, _ in matched.pairs],
                           [row.p_male if row.status == OK and row.p_male is not None else math.nan
                            for row in rows],
                           [row.status == ERROR for row in rows])
        columns = {}
        for index, group_by in enumerate(by):
            groups = [photo.groups[index] for photo, _ in matched.pairs]
            columns[group_by.column] = by_group(scored, groups, group_by.ordered(groups))
        return cls(labels, by, matched, scored, overall(scored), columns)

    @property
    def expected_vs_true(self) -> list[LabelCheck]:
        """Per predicted label, the accuracy the model's probabilities expect beside the true one."""
        return expected_vs_true(self.scored)

    def worst(self, column: str) -> GroupScore | None:
        return worst(self.columns[column])

    @property
    def worst_groups(self) -> dict[str, str | None]:
        """Each column's worst group by name (None: no ranked group scores below another, audit.no_worst)."""
        return {column: (score.group if (score := worst(scores)) else None)
                for column, scores in self.columns.items()}

    @property
    def misclassified(self) -> list[Miss]:
        """Every photo counted wrong: a wrong answer, no face, or unreadable."""
        misses = []
        for photo, row in self.matched.pairs:
            if row.status != OK or row.p_male is None:
                misses.append(Miss(row.path, photo.truth, "unreadable" if row.status == ERROR else "no face",
                                   None))
            elif (row.p_male >= 0.5) != (photo.truth == "male"):
                said = "male" if row.p_male >= 0.5 else "female"
                misses.append(Miss(row.path, photo.truth, said, row.p_male))
        return misses

    @property
    def unreadable(self) -> list[ResultRow]:
        """The photos that could not be read (scored as wrong)."""
        return [row for _, row in self.matched.pairs if row.status == ERROR]

    @property
    def model_versions(self) -> list[str]:
        return sorted({row.model_version for _, row in self.matched.pairs if row.model_version})

    def document(self, labels_path: Path, results_path: Path | None) -> dict[str, object]:
        """What `--json` writes: overall, groups per column, the worst group of each, what was not scored."""
        return {
            "labels": str(labels_path),
            "results": None if results_path is None else str(results_path),
            "model_versions": self.model_versions,
            "rules": RULES,
            "overall": self.overall,
            "expected_vs_true": [check.record() for check in self.expected_vs_true],
            "groups": {column: [score.record() for score in scores]
                       for column, scores in self.columns.items()},
            "worst": self.worst_groups,
            "by": {group_by.column: list(group_by.edges) or None for group_by in self.by},
            "unreadable": [{"path": row.path, "error": row.error} for row in self.unreadable],
            "unscored": {
                "missing_from_results": self.matched.missing,
                "results_without_label": self.matched.unlabelled,
                "duplicate_results": self.matched.duplicates,
                "duplicate_labels": [{"path": path, "rows": rows, "labels_differ": differ}
                                     for path, (rows, differ) in self.labels.duplicates.items()],
                "labels_without_label": self.labels.without_label,
            },
        }

    def write_json(self, out: Path, labels_path: Path, results_path: Path | None) -> None:
        text = json.dumps(self.document(labels_path, results_path), indent=2, allow_nan=False,
                          ensure_ascii=False)
        write_whole(out, text + "\n")


def write_misclassified(misses: Iterable[Miss], path: str | Path) -> None:
    text = io.StringIO()
    writer = csv_writer(text)
    writer.writerow(MISCLASSIFIED_COLUMNS)
    writer.writerows((miss.path, miss.truth, miss.predicted,
                      "" if miss.p_male is None else round(miss.p_male, 4)) for miss in misses)
    write_whole(path, text.getvalue())
