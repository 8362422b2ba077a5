"""--device cuda against the CPU, on a machine with an NVIDIA GPU: images/s of `gendersort classify` on the
three inputs of docs/benchmarks.md (benchmarks/inputs.py), p_male photo by photo (the same within 1e-3),
the first batch's cost, GPU memory, and the Ray engine with --device cuda on a one-node local cluster.

Not run yet: no GPU was lent to the sessions so far. benchmarks/cuda_check.sh sets a device machine up
and runs this after the tests that need CUDA.

    python -m benchmarks.cuda_check [--inputs build/bench] [--quick]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from benchmarks.inputs import KINDS, make_inputs
from benchmarks.throughput import COUNTS, QUICK_COUNTS, ROOT, SUMMARY, run_together

AGREEMENT = 1e-3  # the largest |p_male on CUDA - p_male on the CPU| that counts as the same answer
FIXTURE = ROOT / "tests" / "fixtures" / "astronaut.png"


def gpu_used_mb() -> float:
    """Memory in use on the first GPU, as nvidia-smi reads it (MiB)."""
    said = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                          capture_output=True, text=True, check=True).stdout
    return float(said.split()[0])


class GpuMemory:
    """The GPU's memory in use, sampled every 0.1 s while the block runs: its peak above the start."""

    def __enter__(self) -> GpuMemory:
        self.start = self.peak = gpu_used_mb()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()
        return self

    def sample(self) -> None:
        while not self.stop.wait(0.1):
            self.peak = max(self.peak, gpu_used_mb())

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop.set()
        self.thread.join()

    @property
    def added_mb(self) -> float:
        return self.peak - self.start


@dataclass(frozen=True)
class Run:
    rate: float
    peak_mb: float
    gpu_mb: float
    p_male: dict[str, float]


def classify(folder: Path, device: str, scratch: Path) -> Run:
    """gendersort classify over a folder: the rate it reports, its peak memory, the GPU's, p_male by path."""
    out = scratch / f"{folder.name}-{device}.csv"
    command = [sys.executable, "-m", "gendersort", "classify", str(folder), "--out", str(out),
               "--device", device, "--overwrite"]
    with GpuMemory() as memory:
        (done,) = run_together([command])
    match = SUMMARY.search(done.stderr)
    if not match:
        raise RuntimeError(f"no summary line from classify --device {device}:\n{done.stderr[-3000:]}")
    with out.open(encoding="utf-8") as rows:
        p_male = {row["path"]: float(row["p_male"]) for row in csv.DictReader(rows) if row["p_male"]}
    return Run(float(match[2]), done.peak_mb, memory.added_mb, p_male)


def agreement(cpu: Run, cuda: Run) -> str:
    both, one_only = cpu.p_male.keys() & cuda.p_male.keys(), cpu.p_male.keys() ^ cuda.p_male.keys()
    worst = max((abs(cpu.p_male[path] - cuda.p_male[path]) for path in both), default=0.0)
    verdict = "within" if worst <= AGREEMENT else "NOT within"
    return (f"p_male on {len(both)} photos with a face on both ({len(one_only)} with a face on one only): "
            f"max |cuda - cpu| {worst:.1e}, {verdict} {AGREEMENT:g}")


def first_batch(device: str) -> str:
    """Loading the models (on CUDA their run on a zero batch included), the first photo, a later one."""
    from gendersort.photos.imaging import load_upright
    from gendersort.pipeline.analysis import FaceAnalyzer

    start = time.perf_counter()
    analyzer = FaceAnalyzer(device=device)
    loaded = time.perf_counter() - start
    image = load_upright(FIXTURE)
    seconds = []
    for _ in range(6):
        start = time.perf_counter()
        analyzer.analyze(image)
        seconds.append(time.perf_counter() - start)
    return (f"{device}: models loaded in {loaded:.2f} s; the first photo {seconds[0] * 1000:.1f} ms, "
            f"later ones {statistics.median(seconds[1:]) * 1000:.1f} ms (median of 5)")


def ray_on_cuda(folder: Path, scratch: Path, local: Run) -> str:
    """classify --engine ray --device cuda on a one-node local cluster, against local classify on CUDA."""
    try:
        import pyarrow.dataset
        import ray  # noqa: F401
    except ImportError as error:
        return f"skipped: {error} (the ray extra's wheels were not carried)"
    out = scratch / "ray-cuda.parquet"
    command = [sys.executable, "-m", "gendersort", "classify", str(folder), "--engine", "ray",
               "--device", "cuda", "--out", str(out), "--overwrite"]
    with GpuMemory() as memory:
        done = subprocess.run(command, capture_output=True, text=True)
    said = done.stderr.strip().splitlines()[-1:] or [""]
    if done.returncode:
        return f"exit {done.returncode}: {said[0]}"
    rows = pyarrow.dataset.dataset(out).to_table(columns=["path", "p_male"]).to_pylist()
    on_ray = Run(0.0, 0.0, memory.added_mb, {row["path"]: row["p_male"] for row in rows if row["p_male"]})
    return f"{said[0]}; GPU memory +{memory.added_mb:.0f} MiB; against local cuda, {agreement(local, on_ray)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", default=str(ROOT / "build" / "bench"), help="where inputs are made")
    parser.add_argument("--quick", action="store_true", help="few files: a smoke run")
    args = parser.parse_args()
    counts = QUICK_COUNTS if args.quick else COUNTS
    print(subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv"],
                         capture_output=True, text=True).stdout.strip())
    with tempfile.TemporaryDirectory() as scratch:
        for kind in KINDS:
            folder = make_inputs(Path(args.inputs), kind, counts[kind])
            cpu, cuda = classify(folder, "cpu", Path(scratch)), classify(folder, "cuda", Path(scratch))
            print(f"\n== {kind}: {counts[kind]} files in {folder}")
            for device, done in (("cpu", cpu), ("cuda", cuda)):
                print(f"  {device:<4} {done.rate:8.1f} images/s  peak {done.peak_mb:6.0f} MB  "
                      f"GPU memory +{done.gpu_mb:.0f} MiB")
            print(f"  cuda / cpu: {cuda.rate / cpu.rate:.2f}x; {agreement(cpu, cuda)}")
        print("\n== first batch (one photo, astronaut.png, in this process)")
        for device in ("cpu", "cuda"):
            print(f"  {first_batch(device)}")
        print("\n== Ray engine, --device cuda, a one-node local cluster, 500px")
        folder = make_inputs(Path(args.inputs), "500px", counts["500px"])
        print(f"  {ray_on_cuda(folder, Path(scratch), classify(folder, 'cuda', Path(scratch)))}")


if __name__ == "__main__":
    main()
