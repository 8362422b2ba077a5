"""How many actors, with how many CPUs each, how many read and write tasks at once, and how many photos
in each of their blocks.

Read and write tasks ask Ray for no CPU, so they can always be placed. A task that asks for a part of one
waits for good once the actors hold every CPU (ray-project/ray#44687), and that happens without anyone
asking for it when a node is lost: its actors are started again on the nodes left and can fill their CPUs
(benchmarks/ray_faults.py: 1 run in 3 of a node loss stalled so while these tasks asked for 0.25 CPU each).
Their number is bounded instead (io_tasks), and the default pool still leaves HEADROOM_SHARE of the
cluster's CPUs (one at least) to them and to the driver, whose work is not free: the reads run 8 threads
each, the writes encode Parquet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import ray

from gendersort.errors import BadOptionError

IO_CPUS = 0  # what a read or a write task asks of Ray: nothing, so that it is never left unplaced
IO_TASKS_PER_CPU = 4  # reads (or writes) at once per CPU of headroom: they wait on storage more than compute
HEADROOM_SHARE = 1 / 8
DEFAULT_ACTOR_CPUS = 4  # threads per actor: one model replica (about 0.5 GB) per 4 CPUs
BLOCKS_PER_ACTOR = 4  # a job is cut in this many blocks per actor at least (its blocks smaller if need be)


@dataclass(frozen=True)
class ActorPlan:
    actors: int
    cpus: int
    gpus: int


def cluster_cpus() -> tuple[float, float]:
    """The CPUs of the whole cluster and of its largest node (an actor runs on one node)."""
    nodes = [node["Resources"].get("CPU", 0.0) for node in ray.nodes() if node["Alive"]]
    return sum(nodes), max(nodes, default=0.0)


def headroom(total: float) -> float:
    return max(1.0, total * HEADROOM_SHARE)


def io_tasks() -> int:
    """How many read tasks (and as many write tasks) run at once: as many as would share the headroom at
    1 / IO_TASKS_PER_CPU of a CPU each (they ask Ray for none, so Ray itself does not bound them)."""
    return math.ceil(headroom(cluster_cpus()[0]) * IO_TASKS_PER_CPU)


def plan_actors(actors: int | None = None, cpus: int | None = None, device: str = "auto") -> ActorPlan:
    """The pool for the cluster as it is now (a run resumed after a lost node plans for the nodes left)."""
    total, largest = cluster_cpus()
    cpus = cpus or max(1, min(DEFAULT_ACTOR_CPUS, math.floor(largest) - 1))  # a CPU of a node left free
    if cpus > largest:
        raise BadOptionError(
            f"an actor of {cpus} CPUs fits on no node of the cluster (the largest has {largest:g} CPUs): it "
            "would wait for a node it does not have; ask fewer CPUs per actor")
    gpus = 1 if device == "cuda" else 0
    fitting = max(1, math.floor((total - headroom(total)) / cpus))
    if gpus:
        cluster_gpus = int(ray.cluster_resources().get("GPU", 0))
        if not cluster_gpus:
            raise BadOptionError("--device cuda asks a GPU per actor, and the Ray cluster has none")
        fitting = min(fitting, cluster_gpus)
    plan = ActorPlan(actors or fitting, cpus, gpus)
    if plan.actors * plan.cpus > total:
        raise BadOptionError(
            f"{plan.actors} actors of {plan.cpus} CPUs ask more than the cluster's {total:g} CPUs: the "
            "actors beyond them would wait for CPUs it does not have; ask fewer actors or CPUs")
    return plan


def block_photos(photos: int, actors: int, most: int) -> int:
    """Photos per block (per read task and per actor call): `most`, or fewer in a job too small to give
    each actor BLOCKS_PER_ACTOR blocks of `most` (then as many blocks at least, or one per photo). Ray Data
    keeps up to 2 blocks in flight per actor and lets an actor go once no block is left for it: 150 photos
    in 3 blocks of 64 had only one or two of their 3 actors left a quarter of the way in, and in 2 runs of
    6 of benchmarks/ray_faults.py the node lost then held none. A lost actor's blocks are done again, or
    wait for it to start again, so smaller blocks also cost less then."""
    return max(1, min(most, photos // (actors * BLOCKS_PER_ACTOR)))
