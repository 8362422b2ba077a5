"""`gendersort info`: the models, their terms, and the execution providers available and chosen."""

from __future__ import annotations

import typer
from PIL import features

from gendersort import __version__
from gendersort.cli.app import app
from gendersort.cli.options import (
    AUTO,
    DeviceOption,
)
from gendersort.models.classifier import GenderClassifier
from gendersort.models.device import DeviceUnavailableError, cpu_build_only, runtime, why_not_cuda
from gendersort.models.registry import MODELS, ModelMissingError, model_path
from gendersort.photos.decode import HEIF_HINT, heif_supported
from gendersort.pipeline.api import shared_analyzer


@app.command()
def info(device: DeviceOption = AUTO) -> None:
    """Show the models (versions, input sizes, terms), and the execution providers available and chosen.

    With --device cuda where CUDA does not work: all of it (the models on the CPU), then why not (exit 1).
    On a CPU-only install, how to get CUDA: said here, where runs name their device alone.

    Example: gendersort info --device cuda
    """
    try:
        analyzer, unavailable = shared_analyzer(device.value), None
    except DeviceUnavailableError as error:
        analyzer, unavailable = shared_analyzer("cpu"), error
    detector, classifier = analyzer.detector, analyzer.classifier
    onnxruntime = runtime()
    lines = [
        f"gendersort {__version__}, onnxruntime {onnxruntime.__version__}",
        f"face detector: {detector.model.path.name}, input {detector.input_size}x{detector.input_size}",
        *classifier_lines(),
        f"execution providers available: {', '.join(onnxruntime.get_available_providers())}",
        f"device {device.value}: {'not available' if unavailable else classifier.model.chosen}",
        *([] if unavailable or not cpu_build_only() else [f"CUDA: no; {why_not_cuda(None)}"]),
        f"HEIC/HEIF: {'yes' if heif_supported() else 'no; ' + HEIF_HINT}",
        f"AVIF: {'yes' if features.check('avif') else 'no'}",
    ]
    typer.echo("\n".join(lines))
    if unavailable:
        raise unavailable  # said last, in its one line


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


