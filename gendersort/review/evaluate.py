"""`gendersort evaluate`: read and check everything that needs no model (the labels, from a labels file or a
labelled tree's folder names; the `--by` columns, the files to write, an earlier run's results), then get
each labelled photo's row (from the results file, or by running the models on the photos), score, print, and
write what was asked for. A tree and a labels file take this one path: the same figures, printout, JSON and
report."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from gendersort.errors import BadOptionError, FatalError
from gendersort.models.classifier import GenderClassifier
from gendersort.models.registry import model_path
from gendersort.outputs.writers import check_output
from gendersort.photos.walk import check_paths_exist, found
from gendersort.pipeline.analysis import FaceAnalyzer, classifier_version
from gendersort.pipeline.api import classify_files
from gendersort.printable import echo
from gendersort.progress import progress
from gendersort.review.evaluation.audit import LabelledAudit, write_misclassified
from gendersort.review.evaluation.grouping import GroupBy
from gendersort.review.evaluation.labelled_tree import read_tree
from gendersort.review.evaluation.labels_file import (
    LabelColumns,
    LabelsFile,
    parse_label_map,
    paths_hint,
    read_labels,
)
from gendersort.review.evaluation.matching import match, nothing_matched
from gendersort.review.evaluation.printout import audit_report
from gendersort.review.results_file import ResultRow, as_rows, read_results
from gendersort.wording import counted


@dataclass(frozen=True)
class Outputs:
    """What the command writes beside its printout, and how."""

    json_out: Path | None = None
    misclassified: Path | None = None
    report: Path | None = None
    overwrite: bool = False

    def check(self) -> None:
        for written in (self.json_out, self.misclassified, self.report):
            if written:
                check_output(str(written), overwrite=self.overwrite)


@dataclass(frozen=True)
class Run:
    """How the models run on the labelled photos, when no earlier run's results are given."""

    analyzer: Callable[[], FaceAnalyzer]
    batch_size: int
    workers: int
    quiet: bool
    note: Callable[[str], None]


def evaluate_labels(labels: Path, by: list[str], label_map: list[str], *, columns: LabelColumns,
                    results: Path | None, model: str | None, outputs: Outputs, run: Run) -> bool:
    """`evaluate --labels FILE`; True when every labelled photo was scored (none unreadable or without a
    row). `model` is the classifier's name when the command line asked for one: results of another are
    refused."""
    check_paths_exist([labels, *([results] if results else [])])
    groupings = [GroupBy.parse(spec) for spec in by]
    labelled = read_labels(labels, groupings, parse_label_map(label_map), columns)
    if not labelled.photos:
        raise BadOptionError(f"{labels} labels no photo ({counted(labelled.without_label, 'row')} without a "
                             "label)")
    outputs.check()
    if results:
        rows = read_results(results)
        if model:
            check_model(rows, results, model)
    else:
        check_photos_found(labelled, labels, run.note)
        rows = classified(labelled, run)
    return score(labelled, groupings, rows, labels, results, outputs, run.note)


def evaluate_tree(root: Path, *, outputs: Outputs, run: Run) -> bool:
    """`evaluate DIR`: the photos in DIR's male/ and female/ folders, labelled by them, scored as
    evaluate_labels scores a labels file."""
    check_paths_exist([root])
    labelled = read_tree(root)
    if not labelled.photos:
        raise BadOptionError(f"{root}'s male/ and female/ folders hold no photo")
    outputs.check()
    return score(labelled, [], classified(labelled, run), root, None, outputs, run.note)


def score(labelled: LabelsFile, groupings: list[GroupBy], rows: list[ResultRow], labels: Path,
          results: Path | None, outputs: Outputs, note: Callable[[str], None]) -> bool:
    """Pair, score, print and write; True when every labelled photo was scored."""
    matched = match(labelled.photos, rows)
    if not matched.pairs:
        raise FatalError(nothing_matched(matched, results or labels))
    audit = LabelledAudit.of(labelled, groupings, matched)
    echo(audit_report(audit))
    if outputs.json_out:
        audit.write_json(outputs.json_out, labels, results)
        note(f"wrote {outputs.json_out}")
    if outputs.misclassified:
        write_misclassified(audit.misclassified, outputs.misclassified)
    if outputs.report:
        write_audit_report(audit, outputs.report)
        note(f"wrote {outputs.report}")
    return not audit.matched.missing and not audit.scored.unreadable.any()


def check_model(rows: list[ResultRow], results: Path, model: str) -> None:
    """Refuse results of a model other than the one --model names: their figures would be read as its
    (whichever detector graph found the faces)."""
    version = GenderClassifier(device="cpu", threads=1, model_path=model_path(model)).version
    others = sorted({classifier_version(row.model_version) for row in rows if row.model_version} - {version})
    if others:
        raise BadOptionError(f"{results} holds rows of model {', '.join(others)}, not {version} (--model "
                             f"{model}); leave --model out to score them, or classify with --model {model}")


def check_photos_found(labelled: LabelsFile, labels: Path, note: Callable[[str], None]) -> None:
    """Before the models load: a labels file none of whose photos exists is refused, one most of whose
    photos are missing is warned about (they count as unreadable); both say where paths are read from."""
    missing = [photo.path for photo in labelled.photos if "://" not in photo.path and
               not os.path.exists(photo.path)]
    if not missing:
        return
    where = paths_hint(labels, missing)
    if len(missing) == len(labelled.photos):
        raise BadOptionError(f"none of the {len(missing)} photos in {labels} exists (e.g. {missing[0]}); "
                             f"{where}")
    if 2 * len(missing) > len(labelled.photos):
        note(f"warning: {len(missing)} of the {len(labelled.photos)} photos in {labels} do not exist (e.g. "
             f"{missing[0]}) and count as unreadable; {where}")


def classified(labelled: LabelsFile, run: Run) -> list[ResultRow]:
    """Each labelled photo's row, as classify labels it; a photo that is not there is an error row."""
    files = (found(Path(photo.path)) for photo in labelled.photos)
    results = classify_files(files, analyzer=run.analyzer(), batch_size=run.batch_size, workers=run.workers)
    return as_rows(result.rows()[0] for result in progress(results, run.quiet, total=len(labelled.photos)))


def write_audit_report(audit: LabelledAudit, out: Path) -> None:
    from gendersort.review.report.build import EvaluationSummary, write_report
    from gendersort.review.report.groups import GroupView

    wrong = {miss.path for miss in audit.misclassified}
    rows = [row for _, row in audit.matched.pairs]
    mistakes = [replace(row, truth=photo.truth) for photo, row in audit.matched.pairs if row.path in wrong]
    columns = list(audit.columns)
    of_path = {row.path: dict(zip(columns, photo.groups, strict=True)) for photo, row in audit.matched.pairs}
    view = GroupView(columns=audit.columns, worst=audit.worst_groups, of_path=of_path) if columns else None
    write_report(rows, out, evaluation=EvaluationSummary(audit.overall, mistakes), groups=view)
