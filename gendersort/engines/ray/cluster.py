"""Joining a Ray cluster, or starting one here, with usage statistics off and Ray's chatter in its logs."""

from __future__ import annotations

import logging
import os

import ray
import ray.data

LOCAL = "local"
NO_PROGRESS_S = 600.0
NO_PROGRESS_VARIABLE = "RAY_DATA_EXECUTION_NO_PROGRESS_TIMEOUT_S"


def connect(address: str = LOCAL) -> None:
    """A new cluster on this machine (`local`), the one `ray start` began (`auto`), or `ray://host:port`.

    Ray reports usage statistics unless told not to; gendersort sends nothing anywhere, so they are off
    unless RAY_USAGE_STATS_ENABLED says otherwise (a cluster that `ray start` began keeps its own setting).
    A driver that has joined a cluster already is left as it is.
    """
    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    local = {"include_dashboard": False} if address == LOCAL else {}
    ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING, **local)
    quiet_datasets()


def strict_datasets(no_progress_s: float = NO_PROGRESS_S) -> None:
    """In this driver's datasets, a block that fails fails the run (Ray Data can be told to drop up to
    max_errored_blocks of them, and the photos in them would be missing without a word), and a run in
    which no batch is done for `no_progress_s` (a batch that kills its actor every time, tried again
    forever; a cluster that can no longer place the actors or the reads) stops with an error instead of
    waiting (Ray's own default: 30 minutes). The environment variable
    RAY_DATA_EXECUTION_NO_PROGRESS_TIMEOUT_S, where set, has the last word."""
    context = ray.data.DataContext.get_current()
    context.max_errored_blocks = 0
    if NO_PROGRESS_VARIABLE not in os.environ:
        context.execution_no_progress_timeout_s = no_progress_s


def quiet_datasets() -> None:
    """No progress bars nor execution plans from Ray Data in this driver: a log, not a terminal, gets them."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
