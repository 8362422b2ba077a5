"""Images per second of `classify --engine ray` against local classify on the same photos, the Ray engine's
fixed costs, the memory of its cluster, 1 and 2 actors, and the driver's costs that a large run scales with.

    python -m benchmarks.ray_engine                  # 2,000 photos of 500 px, about 6 minutes on 2 cores
    python -m benchmarks.ray_engine --count 200      # a smoke run

Photos are made by benchmarks/inputs.py ("500px": the fixture photos, and ../shared's dlib-faces group
photos where present, cropped and mirrored differently per copy) under --inputs, and reused. Each Ray
configuration runs in a process of its own, on a fresh local cluster (`ray.init(address="local",
num_cpus=N)`): N logical CPUs are the actors' CPUs plus one for the read and write tasks, even where that
is more than the machine's cores. Measured per configuration:

- cluster start: ray.init;
- first run: a run over one photo on the fresh cluster (the listing, the dataset's start, worker processes
  started and gendersort imported, the actor's models loaded, one read, one classification, one write);
- the run over every photo, end to end (images/s); and the steady rate and warm fixed cost of a run, from
  the same run over half the photos: photos per second between the two, and the time the larger run took
  beyond its photos at that rate (the dataset's and the actors' start on warm workers, the last batches);
- cluster memory: the sum of the proportional set sizes (PSS: shared pages counted once) of the driver and
  every process of its cluster, sampled every 0.2 s, at its peak during the runs.

Local classify is benchmarks/throughput.py's measure: the rate classify reports (from after the models
load) and the peak resident memory of its process. Ray's workers run at the niceness local classify runs
at (Ray's default, 15, lets any other work on the machine go first). The configurations run in turn,
--rounds times, and the round with the best rate of each is shown with the machine's load average, so
that a machine that is not idle shows in the figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from benchmarks.inputs import listed, make_inputs
from benchmarks.throughput import classify

MARK = "GENDERSORT_BENCHMARK_RUN"
NICENESS = "RAY_worker_niceness"  # Ray's own setting, read by its raylet from the environment
SAMPLE_S = 0.2
# (actors, CPUs per actor); the cluster gets one logical CPU more, for the read and write tasks.
CONFIGURATIONS = ((1, 1), (2, 1), (1, 2))


def cluster_pss_mb(mark: str) -> float:
    """The PSS of every process whose environment carries the mark (the driver and its cluster)."""
    total_kb = 0
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and f"{MARK}={mark}".encode() in (entry / "environ").read_bytes():
                rollup = (entry / "smaps_rollup").read_text().splitlines()
                total_kb += next(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
        except (OSError, StopIteration):
            continue  # ended while looked at
    return total_kb / 1024


class PeakSampler(threading.Thread):
    """Samples the cluster's memory until stopped; its peak."""

    def __init__(self, mark: str) -> None:
        super().__init__(daemon=True)
        self.mark = mark
        self.peak_mb = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(SAMPLE_S):
            self.peak_mb = max(self.peak_mb, cluster_pss_mb(self.mark))


def one_configuration(half: Path, folder: Path, actors: int, actor_cpus: int) -> dict[str, float]:
    """Runs in a process of its own: a fresh cluster, a run over one photo, over `half`, over `folder`."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback only, read at import
    import ray

    from gendersort.engines.ray.cluster import quiet_datasets
    from gendersort.engines.ray.job import classify_to_parquet

    mark = uuid.uuid4().hex
    os.environ[MARK] = mark  # before the cluster starts: its processes inherit it
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ[NICENESS] = "0"  # Ray starts workers at nice 15; local classify runs at 0
    started = time.monotonic()
    ray.init(address="local", num_cpus=actors * actor_cpus + 1, include_dashboard=False, log_to_driver=False,
             logging_level=logging.ERROR)
    quiet_datasets()  # as the CLI runs
    cluster_start = time.monotonic() - started
    idle_mb = cluster_pss_mb(mark)
    sampler = PeakSampler(mark)
    sampler.start()
    options = {"actors": actors, "actor_cpus": actor_cpus, "note": lambda message: None}
    with tempfile.TemporaryDirectory() as scratch:
        one = Path(scratch) / "one"
        one.mkdir()
        shutil.copy(listed(folder)[0], one)
        times, photos = [], []
        for source in (one, half, folder):
            started = time.monotonic()
            run = classify_to_parquet(str(source), str(Path(scratch) / f"{source.name}.parquet"), **options)
            times.append(time.monotonic() - started)
            photos.append(run.written.files)
    sampler.done.set()
    sampler.join()
    ray.shutdown()
    steady = (photos[2] - photos[1]) / (times[2] - times[1])
    return {"cluster_start_s": cluster_start, "first_s": times[0], "whole_s": times[2], "photos": photos[2],
            "steady": steady, "warm_fixed_s": times[2] - photos[2] / steady, "idle_mb": idle_mb,
            "peak_mb": sampler.peak_mb, "load": os.getloadavg()[0]}


def driver_costs(folder: Path) -> dict[str, float]:
    """What the driver spends per photo on listing and, for a rerun, on reading DEST's keys."""
    import pyarrow as pa

    from gendersort.engines.ray.listing import list_photos
    from gendersort.engines.ray.parquet import done_keys
    from gendersort.models.classifier import GenderClassifier
    from gendersort.outputs.parquet_parts import RESULT_SCHEMA, write_part

    started = time.monotonic()
    filesystem, listing = list_photos(str(folder))
    listing_s = time.monotonic() - started
    version = GenderClassifier(device="cpu", threads=1).version
    keys = zip(*(listing.column(name).to_pylist() for name in ("path", "size", "mtime")), strict=True)
    rows = [{"path": path, "status": "ok", "label": "male", "p_male": 0.9, "confidence": 0.9, "faces": 1,
             "face_index": None, "box_x0": 1.0, "box_y0": 2.0, "box_x1": 3.0, "box_y1": 4.0, "error": "",
             "model_version": version, "size": size, "mtime": mtime} for path, size, mtime in keys]
    with tempfile.TemporaryDirectory() as scratch:
        write_part(filesystem, scratch, pa.Table.from_pylist(rows, schema=RESULT_SCHEMA))
        parts = [str(path) for path in Path(scratch).glob("part-*.parquet")]
        started = time.monotonic()
        done_keys(filesystem, parts, version)
        resume_s = time.monotonic() - started
    count = listing.num_rows
    return {"files": count, "listing_us_per_file": 1e6 * listing_s / count,
            "listing_bytes_per_file": listing.nbytes / count, "resume_us_per_row": 1e6 * resume_s / count}


def measure_configuration(half: Path, folder: Path, actors: int, actor_cpus: int) -> dict[str, float]:
    command = [sys.executable, "-m", "benchmarks.ray_engine", "--one", str(actors), str(actor_cpus),
               "--folders", str(half), str(folder)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def local_run(folder: Path) -> dict[str, float]:
    """Local classify with one thread per core; the same figures as a Ray configuration's."""
    started = time.monotonic()
    local = classify(folder, workers=os.cpu_count() or 1, batch_size=32, device="cpu")
    wall = time.monotonic() - started
    return {"photos": local.images, "whole_s": wall, "steady": local.rate,
            "warm_fixed_s": wall - local.seconds, "peak_mb": local.peak_mb, "load": os.getloadavg()[0]}


def row(name: str, run: dict[str, float]) -> str:
    cluster = f"{run['cluster_start_s']:>7.1f}s {run['first_s']:>5.1f}s" if "first_s" in run else f"{'':>15}"
    idle = f" (idle cluster {run['idle_mb']:.0f} MB)" if "idle_mb" in run else ""
    return (f"{name:<40} {run['photos'] / run['whole_s']:>8.1f} {run['steady']:>7.1f} {cluster} "
            f"{run['warm_fixed_s']:>5.1f}s {run['peak_mb']:>5.0f} MB {run['load']:>5.1f}{idle}")


def report(count: int, rounds: dict[str, list[dict[str, float]]], driver: dict[str, float]) -> None:
    """Each configuration's best round (the one the machine disturbed least), and the others' rates."""
    print(f"{count} photos of 500 px, {os.cpu_count()} cores; the best of {len(next(iter(rounds.values())))} "
          "rounds each")
    print(f"{'run':<40} {'images/s':>8} {'steady':>7} {'cluster':>8} {'first':>6} {'fixed':>6} {'memory':>8} "
          f"{'load':>5}")
    for name, runs in rounds.items():
        rates = [run["photos"] / run["whole_s"] for run in runs]
        best = runs[rates.index(max(rates))]
        print(row(name, best) + f"; rounds: {', '.join(f'{rate:.1f}' for rate in rates)} images/s")
    print("images/s: the run over every photo, end to end (cluster start excluded); steady, fixed: its rate "
          "and fixed cost, from the run over half the photos (local: the rate classify reports, and process "
          "start, walk and model loading); first: a run over one photo on the fresh cluster; memory: peak "
          "(local: RSS of the process; Ray: PSS of the driver and the cluster's processes); load: the "
          "machine's load average over the last minute, after the run")
    print(f"driver, per file: listing {driver['listing_us_per_file']:.1f} us and "
          f"{driver['listing_bytes_per_file']:.0f} bytes (Arrow), reading DEST's keys on a rerun "
          f"{driver['resume_us_per_row']:.2f} us per row ({driver['files']:.0f} files)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each configuration, taken in turn")
    parser.add_argument("--inputs", type=Path, default=Path(tempfile.gettempdir()) / "gendersort-benchmark")
    parser.add_argument("--one", type=int, nargs=2, metavar=("ACTORS", "CPUS"), help=argparse.SUPPRESS)
    parser.add_argument("--folders", type=Path, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_configuration(*args.folders, *args.one)))
        return
    half, folder = (make_inputs(args.inputs, "500px", count) for count in (args.count // 2, args.count))
    rounds: dict[str, list[dict[str, float]]] = {}
    for _ in range(args.rounds):
        rounds.setdefault("local classify, 2 threads", []).append(local_run(folder))
        for actors, cpus in CONFIGURATIONS:
            name = f"ray, {actors} actor(s) x {cpus} CPU(s), num_cpus={actors * cpus + 1}"
            rounds.setdefault(name, []).append(measure_configuration(half, folder, actors, cpus))
    report(args.count, rounds, driver_costs(folder))


if __name__ == "__main__":
    main()
