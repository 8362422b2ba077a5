"""`gendersort evaluate --labels FILE`: read and check everything that needs no model (the labels, the `--by`
columns, the files to write, an earlier run's results), then get each labelled photo's row (from the results
file, or by running the models on the photos), score, print, and write what was asked for."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from gendersort.errors import BadOptionError, FatalError
from gendersort.models.classifier import GenderClassifier
from gendersort.models.registry import model_path
from gendersort.outputs.writers import check_output
from gendersort.photos.walk import check_paths_exist, found
from gendersort.pipeline.analysis import FaceAnalyzer
from gendersort.pipeline.api import classify_files
from gendersort.printable import echo
from gendersort.progress import progress
from gendersort.review.evaluation.audit import LabelledAudit
from gendersort.review.evaluation.grouping import GroupBy
from gendersort.review.evaluation.labelled_tree import write_misclassified
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


def evaluate_labels(labels: Path, by: list[str], label_map: list[str], *, columns: LabelColumns,
                    results: Path | None, json_out: Path | None, misclassified: Path | None,
                    report: Path | None, overwrite: bool, quiet: bool, model: str | None,
                    analyzer: Callable[[], FaceAnalyzer], batch_size: int, workers: int,
                    note: Callable[[str], None]) -> bool:
    """Run the command; True when every labelled photo was scored (none unreadable or without a row).
    `model` is the classifier's name when the command line asked for one: results of another are refused."""
    check_paths_exist([labels, *([results] if results else [])])
    groupings = [GroupBy.parse(spec) for spec in by]
    labelled = read_labels(labels, groupings, parse_label_map(label_map), columns)
    if not labelled.photos:
        raise BadOptionError(f"{labels} labels no photo ({counted(labelled.without_label, 'row')} without a "
                             "label)")
    for written in (json_out, misclassified, report):
        if written:
            check_output(str(written), overwrite=overwrite)
    if results:
        rows = read_results(results)
        if model:
            check_model(rows, results, model)
    else:
        check_photos_found(labelled, labels, note)
        rows = classified(labelled, analyzer(), batch_size, workers, quiet)
    matched = match(labelled.photos, rows)
    if not matched.pairs:
        raise FatalError(nothing_matched(matched, results or labels))
    audit = LabelledAudit.of(labelled, groupings, matched)
    echo(audit_report(audit))
    if json_out:
        audit.write_json(json_out, labels, results)
        note(f"wrote {json_out}")
    if misclassified:
        write_misclassified(audit.misclassified, misclassified)
    if report:
        write_audit_report(audit, report)
        note(f"wrote {report}")
    return not audit.matched.missing and not audit.scored.unreadable.any()


def check_model(rows: list[ResultRow], results: Path, model: str) -> None:
    """Refuse results of a model other than the one --model names: their figures would be read as its."""
    version = GenderClassifier(device="cpu", threads=1, model_path=model_path(model)).version
    others = sorted({row.model_version for row in rows if row.model_version} - {version})
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


def classified(labelled: LabelsFile, analyzer: FaceAnalyzer, batch_size: int, workers: int,
               quiet: bool) -> list[ResultRow]:
    """Each labelled photo's row, as classify labels it; a photo that is not there is an error row."""
    files = (found(Path(photo.path)) for photo in labelled.photos)
    results = classify_files(files, analyzer=analyzer, batch_size=batch_size, workers=workers)
    return as_rows(result.rows()[0] for result in progress(results, quiet, total=len(labelled.photos)))


def write_audit_report(audit: LabelledAudit, out: Path) -> None:
    from gendersort.review.report.build import EvaluationSummary, write_report
    from gendersort.review.report.groups import GroupView

    wrong = {miss.path for miss in audit.misclassified}
    rows = [row for _, row in audit.matched.pairs]
    mistakes = [replace(row, truth=photo.truth) for photo, row in audit.matched.pairs if row.path in wrong]
    columns = list(audit.columns)
    of_path = {row.path: dict(zip(columns, photo.groups, strict=True)) for photo, row in audit.matched.pairs}
    view = GroupView(columns=audit.columns, worst=audit.worst_groups, of_path=of_path)
    write_report(rows, out, evaluation=EvaluationSummary(audit.overall, mistakes), groups=view)
