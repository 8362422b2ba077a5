"""`gendersort evaluate`: accuracy on a labelled tree or a labels file (per group too), scored one way."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from gendersort.cli.app import EXIT_FILE_ERRORS, EXIT_OK, app
from gendersort.cli.options import (
    AUTO,
    DEFAULT_CLASSIFIER,
    BatchSize,
    DeviceOption,
    ModelOption,
    QuietOption,
    Workers,
    given,
    load_models,
    note,
)
from gendersort.errors import BadOptionError
from gendersort.pipeline.api import WORKERS
from gendersort.review.evaluate import Outputs, Run, evaluate_labels, evaluate_tree
from gendersort.review.evaluation.labels_file import LabelColumns


@app.command()
def evaluate(
    ctx: typer.Context,
    directory: Annotated[Path | None, typer.Argument(
        metavar="DIR", help="A labelled tree: DIR/male/... and DIR/female/... (or --labels).",
        show_default=False)] = None,
    labels: Annotated[Path | None, typer.Option(metavar="FILE", show_default=False, help=(
        "Instead of DIR: a CSV with path and label (male/female) columns, and any others for --by."))] = None,
    by: Annotated[list[str] | None, typer.Option(metavar="COLUMN", show_default=False, help=(
        "With --labels: figures per group of this column; age:0,18,30 bands numbers. Repeatable."))] = None,
    results: Annotated[Path | None, typer.Option(metavar="FILE", show_default=False, help=(
        "With --labels: score this classify output (CSV, JSONL, Parquet) instead of running the models."))
    ] = None,
    label_map: Annotated[list[str] | None, typer.Option(metavar="MAPPING", show_default=False, help=(
        "With --labels: what other labels mean, e.g. 0=male,1=female (UTKFace)."))] = None,
    path_column: Annotated[str, typer.Option(metavar="NAME", help="With --labels: its column of paths.")
                           ] = LabelColumns.path,
    label_column: Annotated[str, typer.Option(metavar="NAME", help="With --labels: its column of labels.")
                            ] = LabelColumns.label,
    json_out: Annotated[Path | None, typer.Option(
        "--json", metavar="FILE", show_default=False, help="Also write the figures as JSON.")
    ] = None,
    misclassified: Annotated[Path | None, typer.Option(
        metavar="FILE", help="Also write the misclassified photos to this CSV.", show_default=False)] = None,
    report: Annotated[Path | None, typer.Option(
        metavar="FILE", show_default=False,
        help="Also write an HTML report: confusion matrix, figures, the misclassified photos.")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace existing --misclassified, --report and --json files.")] = False,
    batch_size: BatchSize = 32,
    workers: Workers = WORKERS,
    device: DeviceOption = AUTO,
    model: ModelOption = DEFAULT_CLASSIFIER,
    quiet: QuietOption = False,
) -> None:
    """Measure accuracy on a labelled tree or a labels file, every photo counted (no face is wrong), as a
    whole and per group, with 95% intervals: figures, confusion matrix, misclassified files.

    \b
    Example: gendersort evaluate ./labelled --misclassified wrong.csv --report evaluation.html
    Per group: gendersort evaluate --labels labels.csv --by race --by age:0,18,30,60 --json audit.json
    """
    outputs = Outputs(json_out, misclassified, report, overwrite)
    run = Run(lambda: load_models(device, quiet, workers, model), batch_size, workers, quiet,
              partial(note, quiet=quiet))
    if labels is not None:
        if directory is not None:
            raise BadOptionError("give DIR or --labels FILE, not both")
        complete = evaluate_labels(
            labels, by or [], label_map or [], columns=LabelColumns(path_column, label_column),
            results=results, model=model.value if given(ctx, "model") else None, outputs=outputs, run=run)
    elif directory is None:
        raise BadOptionError("evaluate needs DIR (a male/ and female/ tree) or --labels FILE")
    elif by or results or label_map or given(ctx, "path_column") or given(ctx, "label_column"):
        raise BadOptionError("--by, --results, --label-map, --path-column and --label-column go with "
                             "--labels FILE, not DIR")
    else:
        complete = evaluate_tree(directory, outputs=outputs, run=run)
    raise typer.Exit(EXIT_OK if complete else EXIT_FILE_ERRORS)
