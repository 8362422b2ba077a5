"""`gendersort predict`: a sentence per face."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gendersort.cli.app import EXIT_FILE_ERRORS, EXIT_OK, app
from gendersort.cli.options import (
    AUTO,
    DEFAULT_CLASSIFIER,
    DeviceOption,
    MinConfidence,
    ModelOption,
    QuietOption,
    load_models,
    no_photo,
)
from gendersort.photos.walk import find_images
from gendersort.pipeline.api import classify_files
from gendersort.pipeline.results import ERROR
from gendersort.printable import echo
from gendersort.review.sentences import describe


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
    passed_over: list[Path] = []
    found = find_images(images, passed_over=passed_over.append)
    statuses = []
    results = classify_files(found, faces="all", min_confidence=min_confidence,
                             analyzer=load_models(device, quiet, model=model))
    for result in results:
        statuses.append(result.status)
        for sentence in describe(result):
            echo(sentence)
    if not statuses:
        no_photo(", ".join(map(str, images)), len(passed_over), quiet)
    raise typer.Exit(EXIT_FILE_ERRORS if ERROR in statuses else EXIT_OK)


