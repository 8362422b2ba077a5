"""CSV as gendersort writes and reads it: records end in "\\n", and a field holding a line break of either
kind ("\\n" or "\\r", both legal in a file name) is quoted, so that every reader sees one record per row.

Python's csv module quotes a field only for the characters of its own line terminator: with "\\n" alone, a
"\\r" in a name went out bare and readers split the row there. So the writer is given "\\r\\n" (quoting
both) and each record's terminator is written back as "\\n" (what Unix tools and earlier outputs hold).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO, TypeVar

from gendersort.errors import FatalError

QUOTING_TERMINATOR = "\r\n"
T = TypeVar("T")


class UnixLineEnds:
    """A stream for csv writers: each record (the writer writes one whole) ends in "\\n", not "\\r\\n"."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, record: str) -> int:
        return self.stream.write(record.removesuffix(QUOTING_TERMINATOR) + "\n")


def csv_writer(stream: TextIO) -> Any:
    """A csv.writer whose records end in "\\n", line breaks inside fields quoted."""
    return csv.writer(UnixLineEnds(stream), lineterminator=QUOTING_TERMINATOR)


def csv_dict_writer(stream: TextIO, columns: Sequence[str]) -> csv.DictWriter:
    """A csv.DictWriter of these columns whose records end in "\\n", line breaks inside fields quoted."""
    return csv.DictWriter(UnixLineEnds(stream), columns, lineterminator=QUOTING_TERMINATOR)  # type: ignore[arg-type]


def checked_records(records: Iterable[T], path: str | Path, reader: Any) -> Iterator[T]:
    """The records of a csv reader (`reader`, the csv.reader under them, counts the lines: a DictReader's
    own count lags a record behind); what the csv module cannot parse (a field past its size limit, a
    stray NUL) is a FatalError naming the file and line, not a traceback."""
    try:
        yield from records
    except csv.Error as error:
        raise FatalError(f"{path}, line {reader.line_num}: not a CSV file gendersort can read "
                         f"({error})") from None
