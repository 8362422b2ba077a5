"""How many actors, with how many CPUs each: what the cluster holds, less headroom for reading and writing.

Read and write tasks ask for IO_CPUS each. With every CPU given to actors they could never be scheduled
and the dataset waited forever (ray-project/ray#44687), so at least HEADROOM_SHARE of the cluster's CPUs
(one CPU at least) stays out of the default actor pool, and a pool that leaves less than two such tasks
room is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import ray

from gendersort.errors import BadOptionError

IO_CPUS = 0.25  # a read or write task: it waits on storage more than it computes
HEADROOM_SHARE = 1 / 8
DEFAULT_ACTOR_CPUS = 4  # threads per actor: one model replica (about 0.5 GB) per 4 CPUs


@dataclass(frozen=True)
class ActorPlan:
    actors: int
    cpus: int
    gpus: int


def cluster_cpus() -> tuple[float, float]:
    """The CPUs of the whole cluster and of its largest node (an actor runs on one node)."""
    nodes = [node["Resources"].get("CPU", 0.0) for node in ray.nodes() if node["Alive"]]
    return sum(nodes), max(nodes, default=0.0)


def plan_actors(actors: int | None = None, cpus: int | None = None, device: str = "auto") -> ActorPlan:
    total, largest = cluster_cpus()
    headroom = max(1.0, total * HEADROOM_SHARE)
    cpus = cpus or max(1, min(DEFAULT_ACTOR_CPUS, math.floor(largest) - 1))  # a CPU of a node left free
    gpus = 1 if device == "cuda" else 0
    fitting = max(1, math.floor((total - headroom) / cpus))
    if gpus:
        cluster_gpus = int(ray.cluster_resources().get("GPU", 0))
        if not cluster_gpus:
            raise BadOptionError("--device cuda asks a GPU per actor, and the Ray cluster has none")
        fitting = min(fitting, cluster_gpus)
    plan = ActorPlan(actors or fitting, cpus, gpus)
    if total - plan.actors * plan.cpus < 2 * IO_CPUS:
        raise BadOptionError(
            f"{plan.actors} actors of {plan.cpus} CPUs leave too little of the cluster's {total:g} CPUs for "
            "the read and write tasks, and the run would wait forever; ask fewer actors or CPUs")
    return plan
