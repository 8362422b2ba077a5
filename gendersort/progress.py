"""The progress bar on stderr, for a person at a terminal: done/total, percentage, rate and time left.

A run starts before its files are counted: the very walk the work consumes runs a second time in a thread
of its own, and the bar gets its total when that walk ends. On 100,000 small files that costs 0.9 CPU
seconds and the total is known within 3 s (`python -m benchmarks.file_count`); a walk by names alone costs
0.2 s, but it would count apart from the walk's own rules (unreadable entries, link loops, excluded
folders, rows kept by --resume), and the bar would not end at its total.

A terminal whose size reads as 0 (some pseudo-terminals, `script`, CI consoles) gets a fixed one, since
tqdm draws nothing at all there.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TextIO, TypeVar

from tqdm import tqdm

T = TypeVar("T")
FALLBACK_COLUMNS, FALLBACK_LINES = 80, 24
# "5 photos [00:01, 4.61 photos/s]" while counting, then " 42%|████▏     | 5/12 [00:01<00:01, 4.61 photos/s]";
# the rate always in photos per second (tqdm's own turns "0.50 photos/s" into "2.00s/ photos").
COUNTING = "{n_fmt}{unit} [{elapsed}, {rate_noinv_fmt}]"
OF_TOTAL = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_noinv_fmt}]"


def progress(items: Iterable[T], quiet: bool, *, count: Callable[[], Iterable[object]] | None = None,
             total: int | None = None) -> Iterator[T]:
    """The items, drawing a bar as they go: `total` when known, else as many as `count()` yields (counted
    in a thread). Off a terminal, or quiet, the items alone."""
    if quiet or not sys.stderr.isatty():
        yield from items
        return
    columns, lines = terminal_size(sys.stderr)
    layout = COUNTING if total is None else OF_TOTAL
    with tqdm(total=total, unit=" photos", bar_format=layout, file=sys.stderr,
              ncols=columns or FALLBACK_COLUMNS, nrows=lines or FALLBACK_LINES,
              dynamic_ncols=bool(columns and lines)) as bar:
        stop = threading.Event()
        if count is not None:
            threading.Thread(target=set_total, args=(bar, count, stop), daemon=True).start()
        try:
            for item in items:
                yield item
                bar.update()
            give_total(bar, bar.n)  # finished: whatever the count said, this was all
        finally:
            stop.set()


def set_total(bar: tqdm, count: Callable[[], Iterable[object]], stop: threading.Event) -> None:
    """Count what `count()` yields and give the bar that total, unless the run has ended meanwhile."""
    total = 0
    try:
        for _ in count():
            if stop.is_set():
                return
            total += 1
    except OSError:  # the tree changed under the count: the bar goes on without a total
        return
    if not stop.is_set():
        give_total(bar, total)


def give_total(bar: tqdm, total: int) -> None:
    """Set the bar's total and the layout that shows it, under tqdm's lock (no frame drawn half-changed)."""
    with tqdm.get_lock():
        bar.total = total
        bar.bar_format = OF_TOTAL
        bar.refresh()


def terminal_size(stream: TextIO) -> tuple[int, int]:
    """(columns, lines) of the terminal a stream writes to; 0 for what it does not report."""
    try:
        size = os.get_terminal_size(stream.fileno())
    except (OSError, ValueError):
        return 0, 0
    return size.columns, size.lines
