"""`gendersort sort`: photos copied, moved or linked into DEST/male, DEST/female and DEST/unknown."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from gendersort.cli.app import EXIT_FILE_ERRORS, EXIT_OK, app
from gendersort.cli.monitoring import (
    MetricsOption,
    SummaryOption,
    TargetAccuracyOption,
    check_monitoring,
    check_target_options,
    monitored,
)
from gendersort.cli.options import (
    AUTO,
    DEFAULT_CLASSIFIER,
    BatchSize,
    DeviceOption,
    Exclude,
    Include,
    MinConfidence,
    ModelOption,
    QuietOption,
    Recursive,
    Workers,
    expected_lines,
    given,
    interruptible,
    no_photo,
    note,
    note_device,
    passed_over_note,
    patterns,
)
from gendersort.errors import BadOptionError
from gendersort.outputs.run_summary import RunSummary
from gendersort.photos.walk import check_paths_exist
from gendersort.pipeline.api import WORKERS
from gendersort.pipeline.results import ERROR
from gendersort.printable import echo
from gendersort.progress import progress
from gendersort.sorting.job import COPIED_OUTSIDE, LEFT, SortJob
from gendersort.wording import counted

MODEL_OPTIONS = ("model", "device", "batch_size", "workers")


@app.command()
def sort(
    ctx: typer.Context,
    src: Annotated[Path, typer.Argument(metavar="SRC", help="Folder of photos to sort.", show_default=False)],
    dest: Annotated[Path, typer.Argument(
        metavar="DEST", help="Gets male/, female/ and unknown/.", show_default=False)],
    copy: Annotated[bool, typer.Option("--copy", help="Copy the photos (the default).")] = False,
    move: Annotated[bool, typer.Option("--move", help=(
        "Move them (verified copy across disks); a file in a folder outside SRC is copied."))] = False,
    link: Annotated[bool, typer.Option("--link", help="Make symbolic links to them.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would happen, do nothing.")] = False,
    flatten: Annotated[bool, typer.Option("--flatten", help="Do not keep the sub-folders of SRC.")] = False,
    manifest: Annotated[Path | None, typer.Option(
        "--manifest", metavar="FILE", help="Manifest CSV (default: DEST/gendersort-manifest.csv).",
        show_default=False)] = None,
    include: Include = None,
    exclude: Exclude = None,
    results: Annotated[Path | None, typer.Option(
        "--results", metavar="FILE", show_default=False, help=(
            "Place by an earlier classify run's rows (CSV, JSONL, Parquet) instead of the models."))] = None,
    min_confidence: MinConfidence = 0.0,
    target_accuracy: TargetAccuracyOption = None,
    summary: SummaryOption = None,
    metrics: MetricsOption = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace existing --summary and --metrics files.")] = False,
    recursive: Recursive = True,
    batch_size: BatchSize = 32,
    workers: Workers = WORKERS,
    device: DeviceOption = AUTO,
    model: ModelOption = DEFAULT_CLASSIFIER,
    quiet: QuietOption = False,
) -> None:
    """Copy (or move, or link) photos into DEST/male, DEST/female and DEST/unknown; never overwrite.

    Unreadable files, and files that are not images, stay where they are and are listed. Rerunning
    finishes an interrupted sort.

    \b
    Example: gendersort sort ./photos ./sorted --move
    From an earlier run: gendersort sort ./photos ./sorted --results results.csv --target-accuracy 0.99
    """
    if copy + move + link > 1:
        raise typer.BadParameter("choose one of --copy, --move and --link")
    check_target_options(target_accuracy, given(ctx, "min_confidence"))
    if results is not None:
        check_paths_exist([results])
        if any(given(ctx, option) for option in MODEL_OPTIONS):
            raise BadOptionError("--results places by an earlier run's rows, no model runs: leave out "
                                 "--model, --device, --batch-size and --workers")
    check_monitoring(summary, metrics, overwrite=overwrite)
    mode = "move" if move else "link" if link else "copy"
    job = SortJob(src, dest, mode=mode, dry_run=dry_run, flatten=flatten, recursive=recursive,
                  min_confidence=min_confidence, batch_size=batch_size, workers=workers, manifest=manifest,
                  device=device.value, model=model.value, patterns=patterns(include, exclude),
                  results=results, target_accuracy=target_accuracy)
    run = RunSummary("sort", str(dest))
    if job.analyzer:
        note_device(job.analyzer, device, quiet)
        run.model_version, run.device = job.analyzer.classifier.version, job.analyzer.classifier.model.chosen
    elif job.earlier:
        run.model_version = ", ".join(job.earlier.model_versions)
    again = " (with --overwrite: it wrote --summary or --metrics)" if (summary or metrics) and not overwrite \
        else ""
    counts: Counter[str] = Counter()
    with monitored(run, summary, metrics), interruptible(
            f"nothing is lost; the same command again{again} finishes the sort"):
        if job.classifies_first:  # --target-accuracy without --results: every photo classified first
            for result in progress(job.classify_first(), quiet, count=job.unsorted):
                if result.status == ERROR:
                    note(f"{result.path}: {result.error}", quiet)
        for placement in progress(job.run(), quiet, count=job.unsorted):
            counts[placement.label if placement.destination else LEFT] += 1
            run.tally.count(placement.status, 0)
            if placement.destination is None:
                run.error(str(placement.source), placement.error)
                note(f"{LEFT}: {placement.source}: {placement.error}", quiet)
            elif dry_run:
                echo(f"{placement.action} {placement.source} -> {placement.destination}")
            if placement.action == COPIED_OUTSIDE:
                note(f"{placement.source}: copied, not moved: its folder lies outside SRC (a link)", quiet)
        closing(job, counts, run, quiet)


def closing(job: SortJob, counts: Counter[str], run: RunSummary, quiet: bool) -> NoReturn:
    """The closing lines: the files passed over, every folder's files with their expected accuracy, the
    threshold, and, last, this run's files by folder; then the exit."""
    for path in job.passed_over:
        note(f"passed over (not an image): {path}", quiet)
    run.passed_over, run.done_before, run.threshold = len(job.passed_over), job.already_sorted, job.threshold
    if not counts and not job.already_sorted:
        no_photo(str(job.source), len(job.passed_over), quiet)
    if not job.dry_run:
        run.rows = job.folders()
        heading = f"files in {job.destination} by folder ({job.accuracy_path.name})"
        for line in expected_lines(run.rows, heading):
            note(line, quiet)
    if job.threshold:
        note(job.threshold.sentence(), quiet)
    folders = ", ".join(f"{count} {name}" for name, count in sorted(counts.items()))
    passed = passed_over_note(len(job.passed_over))
    note(f"{counted(sum(counts.values()), 'file')}: {folders or 'nothing to do'}; "
         f"{job.already_sorted} sorted before (in {job.manifest}){f'; {passed}' if passed else ''}", quiet)
    raise typer.Exit(EXIT_FILE_ERRORS if counts[LEFT] else EXIT_OK)


