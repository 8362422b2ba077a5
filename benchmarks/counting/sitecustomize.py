"""Imported by every Python process of benchmarks/netns_cluster.py's cluster (this folder is first on its
PYTHONPATH): once gendersort's actor module is imported, each call of the actor appends the number of
photos it was given to GENDERSORT_FAULT_COUNTS/<pid>, before classifying them. So a harness counts the
photos classified, those done again after a fault included. While the file GENDERSORT_FAULT_CRASH names
exists, each call then SIGKILLs its own process, as a photo that crashes its decoder would: a crash loop
with no race against the harness. Nothing else is touched; outside such a cluster (no
GENDERSORT_FAULT_COUNTS) it does nothing."""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import signal
import sys

TARGET = "gendersort.engines.ray.actor"


class CountingFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):  # noqa: ANN001, ANN201 (importlib's protocol)
        if name != TARGET:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        load = spec.loader.exec_module

        def exec_module(module):  # noqa: ANN001, ANN202
            load(module)
            count_calls(module.PhotoClassifier)

        spec.loader.exec_module = exec_module
        return spec


def count_calls(actor: type) -> None:
    call = actor.__call__
    counts = os.environ["GENDERSORT_FAULT_COUNTS"]
    crash = os.environ.get("GENDERSORT_FAULT_CRASH", "")

    def counted_call(self, batch):  # noqa: ANN001, ANN202
        with open(os.path.join(counts, str(os.getpid())), "a") as file:
            file.write(f"{batch.num_rows}\n")
        if crash and os.path.exists(crash):
            os.kill(os.getpid(), signal.SIGKILL)
        return call(self, batch)

    actor.__call__ = counted_call


if os.environ.get("GENDERSORT_FAULT_COUNTS"):
    sys.meta_path.insert(0, CountingFinder())
