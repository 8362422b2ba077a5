"""The engine as Ray Data stages, for users who build their own pipelines: photos in, result rows out,
each a ray.data.Dataset."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.fs as pafs
import ray.data

from gendersort.engines.ray.actor import PhotoClassifier
from gendersort.engines.ray.listing import list_photos
from gendersort.engines.ray.reading import fetch_batch
from gendersort.engines.ray.resources import IO_CPUS, io_tasks, plan_actors
from gendersort.models.registry import DEFAULT_MODEL, model_path
from gendersort.pipeline.api import BATCH_SIZE, check_options

PHOTOS_PER_BLOCK = 64  # listed files per read task, and photos per actor call
# Set on purpose, not left to Ray's defaults (which have changed between releases); measured by
# benchmarks/ray_faults.py on a two-node cluster. An actor lost with its process or its node is started again
# however often that happens (a long run on spot nodes loses many), and a batch, a read or a write lost with
# its worker or node is tried again until it is done (a read's or write's output lost with a node is made
# again the same way). No finite count: every try made before the cluster knows a node is lost fails at
# once (the actor "unavailable"), and 3 retries were spent so in one run of the harness, which then failed.
# What bounds a batch that can never be done (a photo that crashes its actor every time) is the run's
# no-progress limit instead (cluster.strict_datasets).
ACTOR_RESTARTS = -1
TASK_RETRIES = -1
# The actors are spread over the nodes (Ray Data's default in 2.60, set here on purpose as the retries are):
# a node lost takes a share of the pool, not all of it. Its actors start again where CPUs are free. One
# that finds none keeps the blocks it was given (Ray queues them for it; no other actor can take them) and
# takes them up once the actors left have run out of blocks and been let go, freeing their CPUs: the run
# goes on with the actors that fit and ends without a --resume (benchmarks/ray_faults.py: 3 actors on two
# nodes of 2 CPUs, the worker lost, one actor at least with no CPU to start on). A pool that may shrink
# (ActorPoolStrategy's min_size) would not help: Ray Data lets go only of actors that hold no block.
ACTOR_PLACEMENT = "SPREAD"


def read_photos(source: str, *, recursive: bool = True, photos_per_block: int = PHOTOS_PER_BLOCK
                ) -> ray.data.Dataset:
    """Every file under a local folder or object-store URI: path, location, size, mtime, error, bytes."""
    filesystem, listing = list_photos(source, recursive)
    return photos_of(listing, filesystem, photos_per_block)


def photos_of(listing: pa.Table, filesystem: pafs.FileSystem, photos_per_block: int = PHOTOS_PER_BLOCK
              ) -> ray.data.Dataset:
    """Listed files (schema.LISTING_SCHEMA) with their bytes, `photos_per_block` files per read task, a
    bounded number of read tasks at once, asking for no CPU (resources.py)."""
    starts = range(0, listing.num_rows, photos_per_block)
    blocks = [listing.slice(start, photos_per_block) for start in starts]
    listed = ray.data.from_arrow(blocks or [listing])  # joins a cluster here if none is joined yet
    return listed.map_batches(
        fetch_batch, fn_kwargs={"filesystem": filesystem}, batch_size=None, batch_format="pyarrow",
        num_cpus=IO_CPUS, compute=ray.data.TaskPoolStrategy(size=min(io_tasks(), len(blocks) or 1)),
        max_retries=TASK_RETRIES)


def classify_dataset(photos: ray.data.Dataset, *, faces: str = "main", min_confidence: float = 0.0,
                     device: str = "auto", actors: int | None = None, actor_cpus: int | None = None,
                     batch_size: int = BATCH_SIZE, photos_per_call: int = PHOTOS_PER_BLOCK,
                     model: str = DEFAULT_MODEL) -> ray.data.Dataset:
    """The rows of classify (outputs.parquet_parts.RESULT_SCHEMA) for a dataset of photos.

    `photos` needs `path` and `bytes` columns (read_photos', or read_binary_files(include_paths=True)'s);
    `size`, `mtime` and `error` are carried over when present. A file that cannot be read or decoded is an
    error row, never a failed dataset. `actors` and `actor_cpus` default to what the cluster holds, less
    headroom for the read and write tasks and the driver (resources.py); with device="cuda" each actor asks
    for a GPU. Each actor call classifies `photos_per_call` photos on the actor's threads, with the classifier
    `model` ("default" or "open", models/registry.py).
    """
    check_options(faces, min_confidence, batch_size)
    model_path(model)  # an unknown name or a missing file: said here, not by every actor
    plan = plan_actors(actors, actor_cpus, device)
    gpus = {"num_gpus": plan.gpus} if plan.gpus else {}
    return photos.map_batches(
        PhotoClassifier, compute=ray.data.ActorPoolStrategy(size=plan.actors), num_cpus=plan.cpus,
        batch_size=photos_per_call, batch_format="pyarrow", max_restarts=ACTOR_RESTARTS,
        max_task_retries=TASK_RETRIES, scheduling_strategy=ACTOR_PLACEMENT, **gpus,
        fn_constructor_kwargs={"faces": faces, "min_confidence": min_confidence, "device": device,
                               "cpus": plan.cpus, "batch_size": batch_size, "model": model})
