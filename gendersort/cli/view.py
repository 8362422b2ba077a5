"""`gendersort view`: a window to look at photos and their faces."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gendersort.cli.app import app
from gendersort.cli.options import (
    AUTO,
    DEFAULT_CLASSIFIER,
    DeviceOption,
    ModelOption,
)
from gendersort.errors import FatalError
from gendersort.photos.walk import check_paths_exist


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
        from gendersort.review.viewer.window import run_viewer
    except ImportError as error:  # a Python built without tkinter
        raise FatalError(f"gendersort view needs tkinter ({error}); on Debian or Ubuntu: "
                         "apt install python3-tk") from error
    run_viewer(str(path) if path else None, device.value, model.value)
