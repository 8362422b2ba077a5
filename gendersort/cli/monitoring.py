"""The options of the commands a scheduler runs (classify, sort): --target-accuracy, and --summary and
--metrics, checked before anything slow and written however the run ends (outputs/run_summary.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from gendersort.cli.app import EXIT_FATAL, EXIT_INTERRUPTED, EXIT_OK
from gendersort.errors import BadOptionError, FatalError
from gendersort.outputs.run_summary import RunSummary, check_metrics_name
from gendersort.outputs.writers import check_output
from gendersort.pipeline.expected_accuracy import check_target


def target_in_range(value: float | None) -> float | None:
    if value is not None:
        try:
            check_target(value)
        except BadOptionError as error:
            raise typer.BadParameter(str(error)) from None
    return value


TargetAccuracyOption = Annotated[float | None, typer.Option(
    "--target-accuracy", metavar="A", callback=target_in_range, show_default=False, help=(
        "Label male/female only the rows at or above the lowest confidence threshold at which they are "
        "expected (their mean confidence) to be at least A right, e.g. 0.99; the rest unknown. Chosen over "
        "the whole run."))]
SummaryOption = Annotated[Path | None, typer.Option(
    "--summary", metavar="FILE", show_default=False,
    help="Also write the run's figures as JSON (counts, expected accuracy, errors, exit code...).")]
MetricsOption = Annotated[Path | None, typer.Option(
    "--metrics", metavar="FILE", show_default=False,
    help="Also write them to FILE.prom for node_exporter's textfile collector (Prometheus text format).")]


def check_target_options(target: float | None, min_confidence_given: bool) -> None:
    if target is not None and min_confidence_given:
        raise BadOptionError("--target-accuracy chooses the confidence threshold itself; leave out "
                             "--min-confidence (or give it alone)")


def check_monitoring(summary: Path | None, metrics: Path | None, *, overwrite: bool,
                     resume: bool = False) -> None:
    """Before the models load: an existing file is refused unless --overwrite or --resume (a run that goes
    on replaces its summary) says to replace it, and so is one in a folder that does not exist; --metrics
    must be a *.prom file."""
    check_metrics_name(metrics)
    for path in (summary, metrics):
        if path is not None:
            check_output(str(path), overwrite=overwrite or resume)
    if summary is not None and metrics is not None and summary.resolve() == metrics.resolve():
        raise BadOptionError("--summary and --metrics name the same file")


@contextmanager
def monitored(run: RunSummary, summary: Path | None, metrics: Path | None) -> Iterator[RunSummary]:
    """The block's run, its --summary and --metrics written when it ends, with its exit code: the one it
    exits with, 1 for a fatal error, 130 for an interruption."""
    try:
        yield run
    except typer.Exit as stop:
        run.write(summary, metrics, stop.exit_code)
        raise
    except (FatalError, OSError):
        run.write(summary, metrics, EXIT_FATAL)
        raise
    except KeyboardInterrupt:
        run.write(summary, metrics, EXIT_INTERRUPTED)
        raise
    run.write(summary, metrics, EXIT_OK)
