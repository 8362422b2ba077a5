"""The `gendersort` command: a thin typer layer over gendersort.pipeline.api, one function per command.

Exit codes: 0 every file processed; 1 usage or fatal error (nothing or not everything was done);
2 finished, but some files could not be read (they are listed, and have status "error").
"""

from __future__ import annotations

import os
import sys
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from PIL import Image, features
from tqdm import tqdm
from typer.core import TyperGroup

from gendersort import __version__
from gendersort.cli_help import PlainHelpTyper, choices, plain_usage_message
from gendersort.errors import BadOptionError, FatalError
from gendersort.models.classifier import GenderClassifier
from gendersort.models.device import DEVICES, runtime
from gendersort.models.registry import DEFAULT_MODEL, MODELS, ModelMissingError, model_path
from gendersort.outputs.results import ERROR, FACE_MODE_ALIASES, FACE_MODES, Tally
from gendersort.outputs.resume import finished_rows, unfinished
from gendersort.outputs.sorting import LEFT, SortJob
from gendersort.outputs.writers import FORMATS, check_output, open_results, output_format
from gendersort.photos.decode import HEIF_HINT, heif_supported
from gendersort.photos.walk import FoundFile, check_paths_exist, find_images
from gendersort.pipeline.analysis import FaceAnalyzer
from gendersort.pipeline.api import WORKERS, classify_files, shared_analyzer, threads_beside
from gendersort.progress import progress
from gendersort.review.evaluation import Evaluation, labelled_folders, labelled_photos, labelled_results
from gendersort.review.labelled_command import evaluate_labels
from gendersort.review.sentences import describe
from gendersort.review.wording import counted

try:  # recent typer releases bundle their own copy of click
    from typer._click.exceptions import UsageError
except ImportError:
    from click.exceptions import UsageError

EXIT_OK, EXIT_FATAL, EXIT_FILE_ERRORS = 0, 1, 2


class Commands(TyperGroup):
    """Makes a bad command line exit 1, as documented (click's own code for it, 2, means 'finished with
    per-file errors' here), and shows fatal errors as one line instead of a traceback."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with usage_errors_exit_1():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        with usage_errors_exit_1(), warnings.catch_warnings():
            # photos/decode.py reports such files as errors (in the reading threads, where catching it is
            # unsafe)
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            try:
                return super().invoke(ctx)
            except BrokenPipeError:
                raise  # the reader went away (| head): typer exits quietly
            except (FatalError, OSError) as error:
                typer.echo(f"gendersort: error: {error}", err=True)
                raise typer.Exit(EXIT_FATAL) from None


@contextmanager
def usage_errors_exit_1() -> Iterator[None]:
    try:
        yield
    except UsageError as error:
        error.exit_code = EXIT_FATAL
        error.message = plain_usage_message(error.message)
        raise


app = PlainHelpTyper(
    cls=Commands, no_args_is_help=True, add_completion=False,
    help="Tell, for every photo in a folder tree, whether the face in it is male or female.",
    epilog="Exit codes: 0 all files processed, 1 usage or fatal error, 2 finished with per-file errors.",
)

Device = Enum("Device", {name: name for name in DEVICES}, type=str)
FaceMode = Enum("FaceMode", {name: name for name in (*FACE_MODES, *FACE_MODE_ALIASES)}, type=str)
Format = Enum("Format", {name: name for name in FORMATS}, type=str)
DeviceOption = Annotated[Device, typer.Option(
    metavar=choices(DEVICES), help="Where the models run; cuda never falls back to CPU.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar, notes or summary.")]
MinConfidence = Annotated[float, typer.Option(
    min=0.0, max=1.0, metavar="FLOAT",
    help="Label a face unknown when max(p_male, 1 - p_male) is below this.")]
Recursive = Annotated[bool, typer.Option("--recursive/--no-recursive", help="Descend into sub-folders.")]
BatchSize = Annotated[int, typer.Option(
    min=1, metavar="INTEGER", help="Faces sent through the classifier together.")]
Workers = Annotated[int, typer.Option(
    min=1, metavar="INTEGER", help="Photos decoded and searched for faces at once (threads).")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace an existing --out.")]
ENGINES = ("local", "ray")
Engine = Enum("Engine", {name: name for name in ENGINES}, type=str)
EngineOption = Annotated[Engine, typer.Option(metavar=choices(ENGINES), help=(
    "local: threads here; ray: a Ray cluster, --out a Parquet dataset (pip install 'gendersort[ray]')."))]
RayAddress = Annotated[str, typer.Option(
    metavar="ADDRESS", help="Ray: local (a new cluster here), auto (the one `ray start` began), ray://HOST:PORT.")]
Actors = Annotated[int | None, typer.Option(metavar="INTEGER", min=1, show_default=False, help=(
    "Ray: model replicas (default: as many as the CPUs hold, less room to read and write)."))]
ActorCpus = Annotated[int | None, typer.Option(metavar="INTEGER", min=1, show_default=False, help=(
    "Ray: CPUs per actor, its threads (default: up to 4, a CPU of each node left free)."))]
RowsPerFile = Annotated[int, typer.Option(
    metavar="INTEGER", min=1, help="Rows per Parquet part file of --out (either engine).")]
AUTO, MAIN, LOCAL = Device("auto"), FaceMode("main"), Engine("local")
Model = Enum("Model", {name: name for name in MODELS}, type=str)
ModelOption = Annotated[Model, typer.Option(metavar=choices(MODELS), help=(
    "The gender classifier: default (non-commercial research only) or open (commercial use allowed); "
    "gendersort info shows their terms."))]
DEFAULT_CLASSIFIER = Model(DEFAULT_MODEL)


def load_models(device: Device, quiet: bool, workers: int = WORKERS,
                model: Model = DEFAULT_CLASSIFIER) -> FaceAnalyzer:
    """The models (the classifier `model`) on the asked-for device, saying which execution provider was
    chosen."""
    analyzer = shared_analyzer(device.value, threads_beside(workers), model.value)
    note_device(analyzer, device, quiet)
    return analyzer


def note_device(analyzer: FaceAnalyzer, device: Device, quiet: bool) -> None:
    note(f"device {device.value}: {analyzer.classifier.model.chosen}", quiet)


def note(message: str, quiet: bool) -> None:
    if not quiet:
        tqdm.write(message, file=sys.stderr)


@app.command()
def classify(
    paths: Annotated[list[str], typer.Argument(
        metavar="PATH", help="Photos and folders to classify (Ray: one folder, or an s3:// or gs:// URI).",
        show_default=False)],
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
    recursive: Recursive = True,
    resume: Annotated[bool, typer.Option("--resume", help="Keep rows of --out for unchanged files.")] = False,
    overwrite: Overwrite = False,
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
    On Ray: gendersort classify s3://bucket/photos --engine ray --out s3://bucket/results
    """
    if engine.value == "ray":
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
        raise typer.Exit(EXIT_FILE_ERRORS if run.errors else EXIT_OK)
    check_paths_exist(paths)
    out_format = output_format(out, fmt and fmt.value)
    check_output(out, overwrite=overwrite, resume=resume)
    analyzer = load_models(device, quiet, workers, model)
    tally = Tally()
    finished = partial(finished_rows, model_version=analyzer.classifier.version)
    with open_results(out, out_format, resume=resume, overwrite=overwrite, keep=finished,
                      rows_per_file=rows_per_file) as (writer, kept):
        if kept:
            note(f"{counted(len({row['path'] for row in kept}), 'file')} already done in {out}", quiet)

        def to_do() -> Iterator[FoundFile]:
            """The files left to classify: the work's walk, and walked again for the bar's total."""
            return unfinished(find_images(paths, recursive=recursive), kept)

        results = classify_files(to_do(), analyzer=analyzer, faces=faces.value,
                                 min_confidence=min_confidence, batch_size=batch_size, workers=workers)
        for result in progress(results, quiet, count=to_do):
            writer.write(result.rows())
            tally.add(result)
            if result.status == ERROR:
                note(f"{result.path}: {result.error}", quiet)
    note(tally.summary(), quiet)
    raise typer.Exit(EXIT_FILE_ERRORS if tally.errors else EXIT_OK)


@app.command()
def sort(
    src: Annotated[Path, typer.Argument(metavar="SRC", help="Folder of photos to sort.", show_default=False)],
    dest: Annotated[Path, typer.Argument(
        metavar="DEST", help="Gets male/, female/ and unknown/.", show_default=False)],
    copy: Annotated[bool, typer.Option("--copy", help="Copy the photos (the default).")] = False,
    move: Annotated[bool, typer.Option("--move", help="Move them (verified copy across disks).")] = False,
    link: Annotated[bool, typer.Option("--link", help="Make symbolic links to them.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would happen, do nothing.")] = False,
    flatten: Annotated[bool, typer.Option("--flatten", help="Do not keep the sub-folders of SRC.")] = False,
    manifest: Annotated[Path | None, typer.Option(
        "--manifest", metavar="FILE", help="Manifest CSV (default: DEST/gendersort-manifest.csv).",
        show_default=False)] = None,
    min_confidence: MinConfidence = 0.0,
    recursive: Recursive = True,
    batch_size: BatchSize = 32,
    workers: Workers = WORKERS,
    device: DeviceOption = AUTO,
    model: ModelOption = DEFAULT_CLASSIFIER,
    quiet: QuietOption = False,
) -> None:
    """Copy (or move, or link) photos into DEST/male, DEST/female and DEST/unknown; never overwrite.

    Unreadable files stay where they are and are listed. Rerunning finishes an interrupted sort.

    Example: gendersort sort ./photos ./sorted --move
    """
    if copy + move + link > 1:
        raise typer.BadParameter("choose one of --copy, --move and --link")
    mode = "move" if move else "link" if link else "copy"
    job = SortJob(src, dest, mode=mode, dry_run=dry_run, flatten=flatten, recursive=recursive,
                  min_confidence=min_confidence, batch_size=batch_size, workers=workers, manifest=manifest,
                  device=device.value, model=model.value)
    note_device(job.analyzer, device, quiet)
    counts: Counter[str] = Counter()
    for placement in progress(job.run(), quiet, count=job.unsorted):
        counts[placement.label if placement.destination else LEFT] += 1
        if placement.destination is None:
            note(f"{LEFT}: {placement.source}: {placement.error}", quiet)
        elif dry_run:
            typer.echo(f"{placement.action} {placement.source} -> {placement.destination}")
    folders = ", ".join(f"{count} {name}" for name, count in sorted(counts.items()))
    note(f"{counted(sum(counts.values()), 'file')}: {folders or 'nothing to do'}; "
         f"{job.already_sorted} sorted before (in {job.manifest})", quiet)
    raise typer.Exit(EXIT_FILE_ERRORS if counts[LEFT] else EXIT_OK)


@app.command()
def predict(
    images: Annotated[list[Path], typer.Argument(
        metavar="IMAGE", help="Photos (or folders) to look at.", show_default=False)],
    min_confidence: MinConfidence = 0.0,
    device: DeviceOption = AUTO,
    model: ModelOption = DEFAULT_CLASSIFIER,
    quiet: QuietOption = False,
) -> None:
    """Say in a sentence, for every face, whether it is a man or a woman and how sure that is.

    Example: gendersort predict photo.jpg  ->  photo.jpg: it is very likely a man (98.7%)
    """
    found = find_images(images)
    errors = 0
    results = classify_files(found, faces="all", min_confidence=min_confidence,
                             analyzer=load_models(device, quiet, model=model))
    for result in results:
        errors += result.status == ERROR
        for sentence in describe(result):
            typer.echo(sentence)
    raise typer.Exit(EXIT_FILE_ERRORS if errors else EXIT_OK)


@app.command()
def evaluate(
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
    json_out: Annotated[Path | None, typer.Option(
        "--json", metavar="FILE", show_default=False, help="With --labels: also write the figures as JSON.")
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
    """Measure accuracy on a labelled tree (metrics, confusion matrix, misclassified files), or from a labels
    file, as a whole and per group, with 95% intervals.

    \b
    Example: gendersort evaluate ./labelled --misclassified wrong.csv --report evaluation.html
    Per group: gendersort evaluate --labels labels.csv --by race --by age:0,18,30,60 --json audit.json
    """
    if labels is not None:
        if directory is not None:
            raise BadOptionError("give DIR or --labels FILE, not both")
        complete = evaluate_labels(
            labels, by or [], label_map or [], results=results, json_out=json_out,
            misclassified=misclassified, report=report, overwrite=overwrite, quiet=quiet,
            analyzer=lambda: load_models(device, quiet, workers, model), batch_size=batch_size,
            workers=workers, note=partial(note, quiet=quiet))
        raise typer.Exit(EXIT_OK if complete else EXIT_FILE_ERRORS)
    if directory is None:
        raise BadOptionError("evaluate needs DIR (a male/ and female/ tree) or --labels FILE")
    if by or results or label_map or json_out:
        raise BadOptionError("--by, --results, --label-map and --json go with --labels FILE, not DIR")
    check_paths_exist([directory])
    folders = labelled_folders(directory)
    for written in (misclassified, report):
        if written:
            check_output(str(written), overwrite=overwrite)
    analyzer = load_models(device, quiet, workers, model)
    outcomes = labelled_results(folders, analyzer=analyzer, batch_size=batch_size, workers=workers)
    labelled = list(progress(outcomes, quiet, count=partial(labelled_photos, folders)))
    evaluation = Evaluation.of(labelled)
    typer.echo(evaluation_report(evaluation))
    if misclassified:
        evaluation.write_misclassified(misclassified)
    if report:
        from gendersort.review.report import EvaluationSummary, write_report

        rows = [row for _, result in labelled for row in result.rows()]
        truth = {miss.path: miss.truth for miss in evaluation.misclassified}
        wrong = [row | {"truth": truth[row["path"]]} for row in rows if row["path"] in truth]
        write_report(rows, report, evaluation=EvaluationSummary(evaluation.metrics, wrong))
        note(f"wrote {report}", quiet)
    raise typer.Exit(EXIT_FILE_ERRORS if evaluation.errors else EXIT_OK)


def evaluation_report(evaluation: Evaluation) -> str:
    metrics = evaluation.metrics
    (tn, fp), (fn, tp) = metrics["confusion_matrix"]
    lines = [
        f"photos with a face: {metrics['n']} (no face: {len(evaluation.no_face)}, "
        f"unreadable: {len(evaluation.errors)})",
        *(f"{name:<18} {metrics[key]:.4f}" for name, key in (
            ("accuracy", "accuracy"), ("precision (male)", "precision"), ("recall (male)", "recall"),
            ("F1 (male)", "f1"), ("balanced accuracy", "balanced_accuracy"), ("ROC AUC", "roc_auc"))),
        "confusion matrix (rows: truth, columns: predicted)",
        f"{'':>10} {'female':>8} {'male':>8}",
        f"{'female':>10} {tn:>8} {fp:>8}",
        f"{'male':>10} {fn:>8} {tp:>8}",
        f"misclassified: {len(evaluation.misclassified)}",
        *(f"  {miss.path}: {miss.truth}, predicted {miss.predicted} (p_male {miss.p_male:.4f})"
          for miss in evaluation.misclassified),
        *(f"  unreadable: {path}: {error}" for path, error in evaluation.errors),
    ]
    return "\n".join(lines)


@app.command()
def info(device: DeviceOption = AUTO) -> None:
    """Show the models (versions, input sizes, terms), and the execution providers available and chosen.

    Example: gendersort info --device cuda
    """
    analyzer = shared_analyzer(device.value)
    detector, classifier = analyzer.detector, analyzer.classifier
    onnxruntime = runtime()
    lines = [
        f"gendersort {__version__}, onnxruntime {onnxruntime.__version__}",
        f"face detector: {detector.model.path.name}, input {detector.input_size}x{detector.input_size}",
        *classifier_lines(),
        f"execution providers available: {', '.join(onnxruntime.get_available_providers())}",
        f"device {device.value}: {classifier.model.chosen}",
        f"HEIC/HEIF: {'yes' if heif_supported() else 'no; ' + HEIF_HINT}",
        f"AVIF: {'yes' if features.check('avif') else 'no'}",
    ]
    typer.echo("\n".join(lines))


def classifier_lines() -> list[str]:
    """Two lines per classifier --model can name, from its own metadata: file, version and input, then
    its terms of use (a model missing from the install says so instead)."""
    lines = []
    for name in MODELS:
        try:
            classifier = GenderClassifier(device="cpu", threads=1, model_path=model_path(name))
        except ModelMissingError as missing:
            lines.append(f"gender classifier {name}: {missing}")
            continue
        size = classifier.geometry.size
        lines += [f"gender classifier {name}: {classifier.model.path.name}, version {classifier.version}, "
                  f"input {size}x{size}", f"  terms: {classifier.terms}"]
    return lines


@app.command()
def report(
    results: Annotated[Path, typer.Argument(
        metavar="RESULTS", help="A results CSV, JSONL or Parquet written by classify.", show_default=False)],
    out: Annotated[Path, typer.Option(
        "--out", "-o", metavar="FILE", help="The HTML file to write.")] = Path("report.html"),
    thumb_size: Annotated[int, typer.Option(
        min=32, max=512, metavar="INTEGER", help="Thumbnail side in pixels.")] = 160,
    overwrite: Overwrite = False,
    quiet: QuietOption = False,
) -> None:
    """Write one self-contained HTML page of a run: a card per photo, filters, least confident first.

    Example: gendersort report results.csv --out report.html
    """
    from gendersort.review.report import write_report

    check_paths_exist([results])
    check_output(str(out), overwrite=overwrite)
    summary = write_report(results, out, thumb_size=thumb_size,
                           track=lambda thumbnails, count: progress(thumbnails, quiet, total=count))
    note(f"{out}: {summary.rows} rows, {summary.images} photos, "
         f"{summary.unreadable_images} without a preview", quiet)


@app.command()
def view(
    path: Annotated[Path | None, typer.Argument(
        metavar="PATH", help="A photo or a folder to open first.", show_default=False)] = None,
    device: DeviceOption = AUTO,
    model: ModelOption = DEFAULT_CLASSIFIER,
) -> None:
    """Open a window to look at photos: face boxes, a sentence per face; arrow keys step, o opens.

    Example: gendersort view ./photos
    """
    if path:
        check_paths_exist([path])  # before a window opens on a photo that is not there
    try:
        from gendersort.review.viewer import run_viewer
    except ImportError as error:  # a Python built without tkinter
        raise FatalError(f"gendersort view needs tkinter ({error}); on Debian or Ubuntu: "
                         "apt install python3-tk") from error
    run_viewer(str(path) if path else None, device.value, model.value)
