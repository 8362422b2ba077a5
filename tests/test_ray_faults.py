"""Faults on a real two-node Ray cluster made on this machine (benchmarks/netns_cluster.py: two network
namespaces, `ray start` in each), each in the middle of `classify --engine ray` on 150 photos with the pool
gendersort plans (3 actors of 1 CPU spread over the 2 nodes of 2 CPUs, blocks of 12 photos): the worker
node lost, one actor killed, the driver killed, photos deleted and truncated while the run goes, and a
crash loop (every actor killed once it begins a batch) that the no-progress limit must stop.
After at most one `--resume`, DEST holds one row per photo, error rows for the broken photos only, whole part
files, and the exit codes are the documented ones (benchmarks/ray_faults.py checks it; its full version, 3
runs per fault, measures what each fault costs: "Large collections" in the docs). The node loss must take
an actor with it, one at least that finds no free CPU on the node left, and the run must go on with the
actors left and finish without a `--resume`.

Bounded: every driver run is killed after BOUND_S and the test fails then (a hang), so the five faults,
sharing one cluster, take at most 10 runs of BOUND_S (a first run and a `--resume` each), 40 minutes; 5 min
46 s and 4 min 9 s here, on 2 cores at a load average of 10 to 74. Skipped, with the reason, without root
or `ip netns`."""

from __future__ import annotations

import pytest

from tests.ray_support import need_ray

need_ray()

from benchmarks.inputs import make_inputs  # noqa: E402
from benchmarks.netns_cluster import TwoNodes, pids_marked, why_not  # noqa: E402
from benchmarks.ray_faults import FAULTS, run_fault  # noqa: E402

PHOTOS = 150
BOUND_S = 240.0

WHY_NOT = why_not()
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(bool(WHY_NOT), reason=f"no cluster of network namespaces here: {WHY_NOT}")]


@pytest.fixture(scope="module")
def cluster():
    with TwoNodes() as made:
        yield made
    for node in ("head", "worker", "driver"):
        assert pids_marked(made.mark(node)) == [], f"the {node}'s processes outlived the cluster"


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """150 photos of 500 px from the fixtures (and ../shared's dlib-faces where present)."""
    return make_inputs(tmp_path_factory.mktemp("inputs"), "500px", PHOTOS)


@pytest.mark.parametrize("fault", FAULTS[1:])
def test_a_fault_midway_leaves_one_row_per_photo_after_at_most_one_resume(cluster, source, fault):
    outcome = run_fault(cluster, fault, source, BOUND_S)
    assert outcome.problems == [], f"{outcome.exit_codes}: {outcome.stderr[-3000:]}"
    assert outcome.classified >= outcome.photos, "every photo went through an actor, the broken ones too"
    if fault == "node":
        assert outcome.actors_waiting >= 1, (
            f"of the {outcome.actors_lost} actors lost, one at least had no CPU to start again on at once: "
            "the case where the run must go on with the actors left")
