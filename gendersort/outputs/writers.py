"""Writing result rows so that any interruption, even SIGKILL, leaves a readable file that a rerun completes.

Every write is flushed to the operating system at once (what a killed process wrote survives it) and
fsynced at least once a second (what survives a power cut). A killed run can leave at most one partial
line at the end; reading for --resume drops it and rewrites the file without it. A lock file next to
the output keeps two runs from writing one file. Parquet (a folder of part files, each complete or absent)
is written by parquet_results.py under the same rules.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TextIO

from gendersort.errors import BadOptionError, FatalError
from gendersort.outputs.csv_text import checked_records, csv_dict_writer
from gendersort.outputs.whole_files import ENCODING, write_whole
from gendersort.pipeline.results import COLUMNS

PARQUET = "parquet"
FORMATS = ("csv", "jsonl", PARQUET)
ROWS_PER_FILE = 2000  # rows of a Parquet part: a kill loses at most the photos of the parts being made
PARQUET_HINT = "pip install 'gendersort[parquet]'"
STDOUT = "-"
SYNC_INTERVAL_S = 1.0
SURROGATE = re.compile("[\ud800-\udfff]")

Row = dict[str, object]


class OutputExistsError(FatalError):
    """The output exists and neither --resume nor --overwrite says what to do with it."""


class OutputLockedError(FatalError):
    """Another live run holds the output's lock."""


def output_format(out: str, explicit: str | None = None) -> str:
    """csv, jsonl or parquet: as asked, else from the file's suffix; stdout defaults to csv. Parquet is
    refused here, before anything slow, when pyarrow is missing or the output is stdout."""
    fmt = explicit or ("csv" if out == STDOUT else suffix_format(out))
    if fmt not in FORMATS:
        raise BadOptionError(f"unknown format {explicit!r}; choose csv, jsonl or parquet")
    if fmt == PARQUET:
        if out == STDOUT:
            raise BadOptionError("Parquet cannot go to stdout: name the dataset's folder with --out")
        parquet_support()
    return fmt


def suffix_format(out: str | Path) -> str:
    suffix = Path(out).suffix.lower()
    if suffix in (".csv", ".parquet"):
        return suffix[1:]
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise BadOptionError(f"cannot tell the format of {str(out)!r} from its suffix; "
                         "name it .csv, .jsonl or .parquet, or use --format")


def parquet_support() -> ModuleType:
    """parquet_results, or a clear error when pyarrow (the parquet extra) is not installed."""
    try:
        from gendersort.outputs import parquet_results
    except ImportError as error:
        raise FatalError(f"Parquet needs pyarrow ({error}): {PARQUET_HINT}") from None
    return parquet_results


class RowWriter:
    """Appends rows to a text stream in CSV or JSONL, flushing every write and fsyncing files now and then."""

    def __init__(self, stream: TextIO, fmt: str, write_header: bool,
                 columns: tuple[str, ...] = COLUMNS) -> None:
        self.stream = stream
        self.csv = csv_dict_writer(stream, columns) if fmt == "csv" else None
        self.file_descriptor = regular_file_descriptor(stream)  # pipes and terminals cannot be fsynced
        self.last_sync = time.monotonic()
        if self.csv and write_header:
            self.csv.writeheader()
            self.flush(sync=True)

    def write(self, rows: list[Row]) -> None:
        for row in rows:
            if self.csv:
                self.csv.writerow(row)
            else:
                self.stream.write(json_line(row) + "\n")
        self.flush(sync=time.monotonic() - self.last_sync >= SYNC_INTERVAL_S)

    def flush(self, sync: bool = False) -> None:
        self.stream.flush()
        if sync and self.file_descriptor is not None:
            os.fsync(self.file_descriptor)
            self.last_sync = time.monotonic()


def json_line(row: Row) -> str:
    """A JSONL row with names readable as they are (café, 写真), not as \\u escapes; only a name's bytes that
    are not UTF-8 (held as surrogates, see ENCODING) stay escaped (\\udcff), so that the line is valid UTF-8
    and reads back to the same name."""
    return json_text(row)


def json_text(value: object, indent: int | None = None) -> str:
    """JSON as json_line writes it (valid UTF-8, names readable), over lines when `indent` is given."""
    return SURROGATE.sub(lambda match: f"\\u{ord(match[0]):04x}",
                         json.dumps(value, ensure_ascii=False, indent=indent))


def regular_file_descriptor(stream: TextIO) -> int | None:
    try:
        descriptor = stream.fileno()
    except (OSError, ValueError):  # not backed by a file descriptor at all (an in-memory stream)
        return None
    return descriptor if stat.S_ISREG(os.fstat(descriptor).st_mode) else None


def read_rows(path: Path, fmt: str, columns: tuple[str, ...] = COLUMNS) -> list[Row]:
    """The complete rows of a results file; a partial last line (an interrupted write) is left out."""
    text = path.read_bytes().decode(**ENCODING)
    complete = text[: text.rfind("\n") + 1]
    if fmt == "jsonl":
        return [parse_json_line(path, number, line)
                for number, line in enumerate(complete.splitlines(), 1) if line.strip()]
    reader = csv.reader(io.StringIO(complete, newline=""))
    records = list(checked_records(reader, path, reader))
    if not records:
        return []
    if tuple(records[0]) != columns:
        raise FatalError(f"{path} is not a file gendersort wrote (its columns differ); name another file")
    # A record cut inside a quoted field can still end in a newline; it is short of columns.
    return [dict(zip(columns, record, strict=True)) for record in records[1:] if len(record) == len(columns)]


def read_output(out: str | Path, fmt: str | None = None) -> list[Row]:
    """Every complete row of a results output that classify wrote: CSV, JSONL or a Parquet dataset, by
    `fmt` or else by its name (a folder is a Parquet dataset)."""
    path = Path(out)
    fmt = fmt or (PARQUET if path.is_dir() else suffix_format(path))
    if fmt == PARQUET:
        return parquet_support().read_parquet_rows(path)
    return read_rows(path, fmt)


def parse_json_line(path: Path, number: int, line: str) -> Row:
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        raise FatalError(f"{path}, line {number}, is not a gendersort JSONL row: {error}") from None


def rewrite(path: Path, fmt: str, rows: list[Row], columns: tuple[str, ...] = COLUMNS) -> None:
    """Replace a results file with these rows, atomically: a crash leaves either the old or the new file."""
    text = io.StringIO(newline="")
    RowWriter(text, fmt, write_header=True, columns=columns).write(rows)
    write_whole(path, text.getvalue())


@contextmanager
def open_results(out: str, fmt: str, *, resume: bool = False, overwrite: bool = False,
                 keep: Callable[[list[Row]], list[Row]] = list, columns: tuple[str, ...] = COLUMNS,
                 rows_per_file: int = ROWS_PER_FILE, on_finish: Callable[[Path, str], None] | None = None,
                 ) -> Iterator[tuple[RowWriter, list[Row]]]:
    """A writer for the output and the rows kept from an earlier run (with --resume), under the lock.

    `keep` chooses, from the rows already in the file, those that still stand; the others are dropped
    from the file and their photos are done again. Parquet is written in parts of `rows_per_file` rows.
    `on_finish(path, format)` runs once every row is written and the block has ended without an error or
    an interruption, still under the lock (--target-accuracy's relabelling, target_accuracy.py).
    """
    check_output(out, overwrite=overwrite, resume=resume)
    if out == STDOUT:
        stream = io.TextIOWrapper(sys.stdout.buffer, newline="", **ENCODING)
        try:
            yield RowWriter(stream, fmt, write_header=True, columns=columns), []
        finally:
            stream.flush()
            stream.detach()
        return
    path = Path(out)
    with OutputLock(path):
        refuse_existing(path, overwrite, resume)  # again: another run may have written it meanwhile
        if fmt == PARQUET:
            with parquet_support().open_parquet_results(path, resume=resume, overwrite=overwrite, keep=keep,
                                                        rows_per_file=rows_per_file) as opened:
                yield opened
        else:
            resuming = resume and path.exists()
            kept = keep(read_rows(path, fmt, columns)) if resuming else []
            if resuming:
                rewrite(path, fmt, kept, columns)
            mode = "a" if resuming else "w"
            with open(path, mode, newline="", **ENCODING) as stream:
                writer = RowWriter(stream, fmt, write_header=mode == "w", columns=columns)
                try:
                    yield writer, kept
                finally:
                    writer.flush(sync=True)
        if on_finish:
            on_finish(path, fmt)


def check_output(out: str, *, overwrite: bool, resume: bool | None = None) -> None:
    """The rule for every file a command writes, checked before anything slow (models) is loaded: an
    existing file is refused unless --overwrite (or, where a run can be finished, --resume) says what to
    do with it, and so is one that a live run is writing, or one whose folder does not exist.
    `resume=None`: the command cannot resume."""
    if out == STDOUT:
        if resume:
            raise BadOptionError("--resume needs an output file, not stdout")
        return
    if resume and overwrite:
        raise BadOptionError("--resume and --overwrite contradict each other; choose one")
    path = Path(out)
    if not path.parent.is_dir():
        why = "is not a folder" if path.parent.exists() else "does not exist"
        raise BadOptionError(f"cannot write {path}: the folder {path.parent} {why}")
    refuse_existing(path, overwrite, resume)
    OutputLock(path).check_free()


def refuse_existing(path: Path, overwrite: bool, resume: bool | None) -> None:
    if path.exists() and not (resume or overwrite):
        finish = "" if resume is None else "--resume to finish it or "
        raise OutputExistsError(f"{path} exists; add {finish}--overwrite to replace it")


class OutputLock:
    """`<output>.lock`, created exclusively and holding the writer's PID; a dead writer's lock is taken over.

    Two runs that find the same stale lock in the same instant could both take it; a scheduler starting
    jobs seconds apart never sees that.
    """

    def __init__(self, output: Path) -> None:
        self.output = output
        self.path = output.with_name(output.name + ".lock")

    def __enter__(self) -> OutputLock:
        for _ in range(2):
            try:
                descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self.check_free()
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(descriptor, "w") as lock:
                lock.write(f"{os.getpid()}\n")
            return self
        raise OutputLockedError(f"could not take the lock {self.path}")

    def __exit__(self, *exc_info: object) -> None:
        self.path.unlink(missing_ok=True)

    def check_free(self) -> None:
        """Refuse a lock that a live process holds (one whose holder is gone may be taken over)."""
        holder = lock_holder(self.path)
        if holder is not None and process_alive(holder):
            raise OutputLockedError(
                f"{self.output} is being written by another run (process {holder}); "
                f"wait for it, or delete {self.path} if that process is not gendersort"
            )


def lock_holder(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True
