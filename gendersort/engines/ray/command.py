"""`gendersort classify SRC --engine ray --out DEST`: the job with Ray's own output kept off the terminal,
and gendersort's few lines on it.

Ray's processes write to the driver's stdout and stderr, its C++ core straight to file descriptor 2, and
log_to_driver=False silences only the workers; so while the job runs both descriptors point to a log file
(which Ray's processes started now inherit), and gendersort writes its own lines to the terminal's stderr.
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from gendersort.engines.ray.job import RayRun, classify_to_parquet
from gendersort.errors import BadOptionError, FatalError
from gendersort.outputs.writers import STDOUT
from gendersort.printable import printable


def classify_on_ray(sources: list[str], dest: str, fmt: str | None, *, quiet: bool, **options: Any) -> RayRun:
    """Run the job with classify's options (job.classify_to_parquet's), notes and summary on stderr."""
    if len(sources) != 1:
        raise BadOptionError(f"--engine ray classifies one folder or URI, not {len(sources)}")
    if dest == STDOUT or fmt:
        raise BadOptionError("--engine ray writes a Parquet dataset: name its folder or URI with --out, "
                             "and no --format")
    source = sources[0]
    log = Path(tempfile.gettempdir()) / f"gendersort-ray-{os.getpid()}.log"
    with output_to(log) as terminal:
        def note(message: str) -> None:
            if not quiet:
                print(printable(message), file=terminal, flush=True)

        try:
            run = classify_to_parquet(source, dest, note=note, **options)
        except Exception as error:
            if not gave_up(error):
                raise
            traceback.print_exc()  # into the log: descriptors 1 and 2 point to it here
            raise FatalError(f"Ray gave up ({first_line(error)}); the rows written are kept in {dest}: "
                             f"run it again with --resume to finish (Ray's log: {log})") from None
        if run.written.files:
            note(f"{run.written.summary()}; rows in {dest}, Ray's log in {log}")
        else:
            note(f"nothing left to do: {dest} has every file of {source}")
    if not log.stat().st_size:  # Ray was not needed
        log.unlink()
    return run


def gave_up(error: BaseException) -> bool:
    """Whether Ray gave up on the run: a task or actor call failed past its retries, an object lost for
    good, a cluster gone, a run that stopped making progress. Their classes differ between Ray's releases
    (RayError and its kinds, Ray Data's SystemException and ExecutionTimeoutError), but all are Ray's."""
    return type(error).__module__.split(".")[0] == "ray"


def first_line(error: BaseException) -> str:
    """The error's kind and the first line of its message (Ray's run over many lines, tracebacks in them)."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


@contextmanager
def output_to(log: Path) -> Iterator[TextIO]:
    """Descriptors 1 and 2 redirected to `log` for the block; it gets a stream to the terminal's stderr."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {descriptor: os.dup(descriptor) for descriptor in (1, 2)}
    with open(log, "ab") as file:
        for descriptor in saved:
            os.dup2(file.fileno(), descriptor)
    terminal = os.fdopen(os.dup(saved[2]), "w")
    try:
        yield terminal
    finally:
        terminal.close()
        sys.stdout.flush()
        sys.stderr.flush()
        for descriptor, copy in saved.items():
            os.dup2(copy, descriptor)
            os.close(copy)
