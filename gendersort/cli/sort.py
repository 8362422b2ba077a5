"""`gendersort sort`: photos copied, moved or linked into DEST/male, DEST/female and DEST/unknown."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from gendersort.cli.app import EXIT_FILE_ERRORS, EXIT_OK, app
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
    interruptible,
    no_photo,
    note,
    note_device,
    passed_over_note,
    patterns,
)
from gendersort.pipeline.api import WORKERS
from gendersort.printable import echo
from gendersort.progress import progress
from gendersort.sorting.job import COPIED_OUTSIDE, LEFT, SortJob
from gendersort.wording import counted


@app.command()
def sort(
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
    min_confidence: MinConfidence = 0.0,
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

    Example: gendersort sort ./photos ./sorted --move
    """
    if copy + move + link > 1:
        raise typer.BadParameter("choose one of --copy, --move and --link")
    mode = "move" if move else "link" if link else "copy"
    job = SortJob(src, dest, mode=mode, dry_run=dry_run, flatten=flatten, recursive=recursive,
                  min_confidence=min_confidence, batch_size=batch_size, workers=workers, manifest=manifest,
                  device=device.value, model=model.value, patterns=patterns(include, exclude))
    note_device(job.analyzer, device, quiet)
    counts: Counter[str] = Counter()
    with interruptible("nothing is lost; the same command again finishes the sort"):
        for placement in progress(job.run(), quiet, count=job.unsorted):
            counts[placement.label if placement.destination else LEFT] += 1
            if placement.destination is None:
                note(f"{LEFT}: {placement.source}: {placement.error}", quiet)
            elif dry_run:
                echo(f"{placement.action} {placement.source} -> {placement.destination}")
            if placement.action == COPIED_OUTSIDE:
                note(f"{placement.source}: copied, not moved: its folder lies outside SRC (a link)", quiet)
    for path in job.passed_over:
        note(f"passed over (not an image): {path}", quiet)
    if not counts and not job.already_sorted:
        no_photo(str(src), len(job.passed_over), quiet)
    folders = ", ".join(f"{count} {name}" for name, count in sorted(counts.items()))
    passed = passed_over_note(len(job.passed_over))
    note(f"{counted(sum(counts.values()), 'file')}: {folders or 'nothing to do'}; "
         f"{job.already_sorted} sorted before (in {job.manifest}){f'; {passed}' if passed else ''}", quiet)
    raise typer.Exit(EXIT_FILE_ERRORS if counts[LEFT] else EXIT_OK)


