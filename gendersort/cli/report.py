"""`gendersort report`: one self-contained HTML page of a run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gendersort.cli.app import app
from gendersort.cli.options import (
    Overwrite,
    QuietOption,
    note,
)
from gendersort.outputs.writers import check_output
from gendersort.photos.walk import check_paths_exist
from gendersort.progress import progress


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
    from gendersort.review.report.build import write_report

    check_paths_exist([results])
    check_output(str(out), overwrite=overwrite)
    summary = write_report(results, out, thumb_size=thumb_size,
                           track=lambda thumbnails, count: progress(thumbnails, quiet, total=count))
    note(f"{out}: {summary.rows} rows, {summary.images} photos, "
         f"{summary.unreadable_images} without a preview", quiet)
    if summary.images and summary.unreadable_images == summary.images:
        note(f"no photo could be opened, e.g. {summary.first_unreadable}; relative paths are read from the "
             f"current folder, or else from the folder of {results}", quiet)


