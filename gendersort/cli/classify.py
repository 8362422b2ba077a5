"""`gendersort classify`: a row per photo (or face), locally or on Ray."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from gendersort.cli.app import EXIT_FILE_ERRORS, EXIT_OK, app
from gendersort.cli.help import choices
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
    LOCAL,
    MAIN,
    ActorCpus,
    Actors,
    BatchSize,
    DeviceOption,
    EngineOption,
    Exclude,
    FaceMode,
    Format,
    Include,
    MinConfidence,
    ModelOption,
    QuietOption,
    RayAddress,
    Recursive,
    RowsPerFile,
    Workers,
    expected_lines,
    given,
    interruptible,
    load_models,
    no_photo,
    note,
    passed_over_note,
    patterns,
)
from gendersort.errors import BadOptionError, FatalError
from gendersort.outputs.resume import finished_rows, unfinished
from gendersort.outputs.run_summary import RunSummary
from gendersort.outputs.target_accuracy import TargetAccuracy
from gendersort.outputs.writers import FORMATS, STDOUT, check_output, open_results, output_format
from gendersort.photos.walk import FoundFile, check_paths_exist, find_images, read_path_list
from gendersort.pipeline.api import WORKERS, classify_files
from gendersort.pipeline.expected_accuracy import ExpectedAccuracy
from gendersort.pipeline.results import ERROR, FACE_MODES
from gendersort.progress import progress
from gendersort.wording import counted


@app.command()
def classify(
    ctx: typer.Context,
    paths: Annotated[list[str] | None, typer.Argument(
        metavar="PATH", help="Photos and folders to classify (Ray: one folder, or an s3:// or gs:// URI).",
        show_default=False)] = None,
    files_from: Annotated[str | None, typer.Option(
        "--files-from", metavar="FILE", show_default=False,
        help="Also the photos and folders listed in FILE, one a line; - reads the list from stdin.")] = None,
    include: Include = None,
    exclude: Exclude = None,
    out: Annotated[str, typer.Option(
        "--out", "-o", metavar="FILE",
        help="results.csv, results.jsonl, results.parquet (a folder of parts), or - (stdout).")] = "-",
    fmt: Annotated[Format | None, typer.Option(
        "--format", metavar=choices(FORMATS), help="Overrides --out's suffix.")] = None,
    faces: Annotated[FaceMode, typer.Option(
        metavar=choices(FACE_MODES), help=(
            "main: a row per photo, by its main face (the most prominent; 'largest' is its old name); "
            "all: a row per face, face_index 0 the main face."))] = MAIN,
    min_confidence: MinConfidence = 0.0,
    target_accuracy: TargetAccuracyOption = None,
    recursive: Recursive = True,
    resume: Annotated[bool, typer.Option("--resume", help="Keep rows of --out for unchanged files.")] = False,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace an existing --out (and --summary, --metrics).")] = False,
    summary: SummaryOption = None,
    metrics: MetricsOption = None,
    batch_size: BatchSize = 32,
    workers: Workers = WORKERS,
    device: DeviceOption = AUTO,
    model: ModelOption = DEFAULT_CLASSIFIER,
    quiet: QuietOption = False,
    engine: EngineOption = LOCAL,
    ray_address: RayAddress = "local",
    actors: Actors = None,
    actor_cpus: ActorCpus = None,
    rows_per_file: RowsPerFile = 2000,
) -> None:
    """Classify every photo in the given files and folders: a row each (path, status, label, p_male, ...).

    \b
    Example: gendersort classify ./photos --out results.csv
    From a list: find /photos -newer last-run | gendersort classify --files-from - --out new.csv
    On Ray: gendersort classify s3://bucket/photos --engine ray --out s3://bucket/results
    Nightly: gendersort classify /photos --out results.csv --resume --target-accuracy 0.99 --summary run.json
    """
    paths = paths or []
    if not (paths or files_from):
        raise BadOptionError("classify needs a PATH or --files-from FILE")
    check_target_options(target_accuracy, given(ctx, "min_confidence"))
    if engine.value == "ray":
        if files_from or include or exclude:
            raise BadOptionError("--files-from, --include and --exclude go with the local engine")
        if target_accuracy is not None or summary or metrics:
            raise BadOptionError("--target-accuracy, --summary and --metrics go with the local engine; "
                                 "on Ray, classify, then sort --results DEST --target-accuracy A")
        if ray_address == "local":
            # A cluster of this machine alone talks over loopback, not the machine's network address;
            # Ray reads this when it is imported, so it is set before.
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        try:
            from gendersort.engines.ray.command import classify_on_ray
        except ImportError as error:
            raise FatalError(f"--engine ray needs the ray extra ({error}): "
                             "pip install 'gendersort[ray]'") from None
        run = classify_on_ray(
            paths, out, fmt and fmt.value, quiet=quiet, resume=resume, overwrite=overwrite, faces=faces.value,
            min_confidence=min_confidence, device=device.value, recursive=recursive, batch_size=batch_size,
            actors=actors, actor_cpus=actor_cpus, rows_per_file=rows_per_file, address=ray_address,
            model=model.value)
        if not run.listed:
            no_photo(", ".join(paths), 0, quiet)
        raise typer.Exit(EXIT_FILE_ERRORS if run.errors else EXIT_OK)
    if target_accuracy is not None and out == STDOUT:
        raise BadOptionError("--target-accuracy relabels the rows once the run ends: name a file with --out")
    check_paths_exist(paths)
    listed = read_path_list(files_from) if files_from else []
    where = ", ".join([*paths, *([f"the list {files_from}"] if files_from else [])])
    chosen = patterns(include, exclude)
    out_format = output_format(out, fmt and fmt.value)
    check_output(out, overwrite=overwrite, resume=resume)
    check_monitoring(summary, metrics, overwrite=overwrite, resume=resume)
    analyzer = load_models(device, quiet, workers, model)
    run = RunSummary("classify", out, analyzer.version, analyzer.classifier.model.chosen)
    target = TargetAccuracy(target_accuracy) if target_accuracy is not None else None
    finished = partial(finished_rows, model_version=analyzer.version,
                       every_face=faces.value == "all")
    run.rows = expected = ExpectedAccuracy()
    with monitored(run, summary, metrics):
        with open_results(out, out_format, resume=resume, overwrite=overwrite, keep=finished,
                          rows_per_file=rows_per_file, on_finish=target and target.apply) as (writer, kept):
            run.done_before = len({row["path"] for row in kept})
            if kept:
                note(f"{counted(run.done_before, 'file')} already done in {out}", quiet)
            expected.add_rows(kept)

            def to_do(passed_over: Callable[[Path], None] | None = None) -> Iterator[FoundFile]:
                """The files left to classify: the work's walk (told of the files passed over), and walked
                again for the bar's total."""
                found = find_images(paths, recursive=recursive, patterns=chosen, passed_over=passed_over,
                                    listed=listed)
                return unfinished(found, kept)

            passed_over: list[Path] = []
            results = classify_files(to_do(passed_over.append), analyzer=analyzer, faces=faces.value,
                                     min_confidence=min_confidence, batch_size=batch_size, workers=workers)
            with interruptible(f"{out} holds the rows so far: the same command with --resume finishes it"
                               if out != STDOUT else "the rows so far went to stdout"):
                for result in progress(results, quiet, count=to_do):
                    rows = result.rows()
                    writer.write(rows)
                    expected.add_rows(rows)
                    run.tally.add(result)
                    if result.status == ERROR:
                        run.error(result.path, result.error)
                        note(f"{result.path}: {result.error}", quiet)
            run.passed_over = len(passed_over)
        if target:
            run.rows, run.threshold = target.expected, target.threshold
        if not run.tally.files and not kept:
            no_photo(where, len(passed_over), quiet)
        heading = f"rows{'' if out == STDOUT else f' in {out}'} by label"
        chosen_threshold = [run.threshold.sentence()] if run.threshold else []
        for line in [*chosen_threshold, *expected_lines(run.rows, heading)]:
            note(line, quiet)
        note("; ".join(filter(None, (run.tally.summary(), passed_over_note(len(passed_over))))), quiet)
        if out != STDOUT:
            note(f"wrote {out}", quiet)
        raise typer.Exit(EXIT_FILE_ERRORS if run.tally.errors else EXIT_OK)
