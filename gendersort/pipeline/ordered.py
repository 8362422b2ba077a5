"""Work on a stream of items in a pool of threads, results in the items' order, memory bounded.

Decoding (Pillow), resizing and onnxruntime all release the GIL, so threads keep every core busy
without the cost of processes: no copies of the models, no pickling of images.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(work: Callable[[T], R], items: Iterable[T], workers: int, ahead: int) -> Iterator[R]:
    """work(item) for every item, on `workers` threads, yielded in the order of `items`.

    At most `ahead` items are taken from `items` and not yet yielded, however slow the consumer: the
    results waiting stay few, and `items` may be endless. Stopping early (or an error in `work`, raised
    here) cancels the work not yet started.
    """
    if workers < 1 or ahead < 1:
        raise ValueError(f"workers and ahead must be at least 1, not {workers} and {ahead}")
    pool = ThreadPoolExecutor(workers, thread_name_prefix="gendersort")
    waiting: deque[Future[R]] = deque()
    try:
        for item in items:
            waiting.append(pool.submit(work, item))
            if len(waiting) >= ahead:
                yield waiting.popleft().result()
        while waiting:
            yield waiting.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
