"""What the commands share: their options, loading the models, and notes on stderr."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Annotated, NoReturn

import typer
from tqdm import tqdm

from gendersort.cli.app import EXIT_INTERRUPTED, EXIT_NO_PHOTO
from gendersort.cli.help import choices
from gendersort.models.device import DEVICES
from gendersort.models.registry import DEFAULT_MODEL, MODELS
from gendersort.outputs.writers import FORMATS
from gendersort.photos.walk import Patterns
from gendersort.pipeline.analysis import FaceAnalyzer
from gendersort.pipeline.api import WORKERS, shared_analyzer, threads_beside
from gendersort.pipeline.expected_accuracy import ExpectedAccuracy
from gendersort.pipeline.results import FACE_MODE_ALIASES, FACE_MODES
from gendersort.printable import printable
from gendersort.wording import counted

Device = Enum("Device", {name: name for name in DEVICES}, type=str)
FaceMode = Enum("FaceMode", {name: name for name in (*FACE_MODES, *FACE_MODE_ALIASES)}, type=str)
Format = Enum("Format", {name: name for name in FORMATS}, type=str)
DeviceOption = Annotated[Device, typer.Option(
    metavar=choices(DEVICES), help="Where the models run; cuda never falls back to CPU.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar, notes or summary.")]


def fraction(value: float) -> float:
    """--min-confidence lies between 0 and 1; 95 is taken for the percentage it likely means, and said."""
    if not 0.0 <= value <= 1.0:
        hint = f"; for {value:g}%, give {value / 100:g}" if 1.0 < value <= 100.0 else ""
        raise typer.BadParameter(f"{value:g} is not between 0 and 1{hint}")
    return value


MinConfidence = Annotated[float, typer.Option(
    metavar="FLOAT", callback=fraction,
    help="Label a face unknown when max(p_male, 1 - p_male) is below this (0 to 1).")]
Recursive = Annotated[bool, typer.Option("--recursive/--no-recursive", help="Descend into sub-folders.")]
BatchSize = Annotated[int, typer.Option(
    min=1, metavar="INTEGER", help="Faces sent through the classifier together.")]
Workers = Annotated[int, typer.Option(
    min=1, metavar="INTEGER", help="Photos decoded and searched for faces at once (threads).")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace an existing --out.")]
Include = Annotated[list[str] | None, typer.Option(metavar="PATTERN", show_default=False, help=(
    "Only the files whose name matches, e.g. '*.jpg' (a pattern with a / matches the path below the "
    "folder given). Repeatable."))]
Exclude = Annotated[list[str] | None, typer.Option(metavar="PATTERN", show_default=False, help=(
    "Pass over the files and folders whose name (or path, as for --include) matches, e.g. '.thumbnails'. "
    "Repeatable."))]
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
        tqdm.write(printable(message), file=sys.stderr)


def passed_over_note(passed_over: int) -> str:
    """"2 files passed over, not images", or nothing when there were none."""
    if not passed_over:
        return ""
    return f"{counted(passed_over, 'file')} passed over, not {'an image' if passed_over == 1 else 'images'}"


def expected_lines(expected: ExpectedAccuracy | None, heading: str) -> list[str]:
    """The heading, then a line per label: 'female 412, expected 97.8% right: about 9 wrong'."""
    return [f"{heading}:", *(f"  {sentence}" for sentence in expected.sentences())] if expected else []


def no_photo(where: str, passed_over: int, quiet: bool) -> NoReturn:
    """Nothing to do is said, not silent, and exits 3: an empty folder, or one of files that are not
    images, is more likely a wrong path than a finished job."""
    passed = passed_over_note(passed_over)
    note(f"no photo found in {where}{f' ({passed})' if passed else ''}; nothing done", quiet)
    raise typer.Exit(EXIT_NO_PHOTO)


def given(ctx: typer.Context, option: str) -> bool:
    """Whether the command line named the option (not merely left it at its default)."""
    source = ctx.get_parameter_source(option)
    return source is not None and source.name != "DEFAULT"


def patterns(include: list[str] | None, exclude: list[str] | None) -> Patterns:
    return Patterns(tuple(include or ()), tuple(exclude or ()))


@contextmanager
def interruptible(how_to_go_on: str) -> Iterator[None]:
    """Ctrl-C says in a line how to go on from where the run stopped, and exits 130 (the shell's code for
    it), instead of a traceback or click's bare "Aborted!"."""
    try:
        yield
    except KeyboardInterrupt:
        typer.echo(f"gendersort: interrupted; {how_to_go_on}", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
