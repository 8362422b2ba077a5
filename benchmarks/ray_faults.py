"""Faults in the middle of `classify --engine ray` on a real two-node cluster (benchmarks/netns_cluster.py),
and what each costs: the photos classified again and the seconds lost against a run without a fault.

    python -m benchmarks.ray_faults                    # 2,000 photos, 3 runs of each fault
    python -m benchmarks.ray_faults --count 300 --runs 1 --faults node   # one fault, once

One cluster (2 nodes of 2 logical CPUs; each run with the pool gendersort plans for it, 3 actors of 1 CPU
spread over both nodes, the worker node started again when a run lost it) runs the baseline and then each
fault in turn, --runs times. Each run has the photos of benchmarks/inputs.py ("500px") linked into a folder
of its own with one corrupt photo added (so that every finished run has an error row, and exits 2), and
one of these faults:

- none: the baseline, run first in each round (a first run before them sets the hang bound);
- node: once a quarter of the rows are in DEST, every process of the worker node is SIGKILLed (its raylet,
  object store, agents and workers: the node is lost, and stays lost). It must hold an actor then (a
  problem otherwise); the actors it held are counted, and those of them that find no free CPU on the node
  left (its CPUs less those of its own actors) to start again on at once. The run must go on with the
  actors left and finish without a `--resume` (exit 2);
- actor: at the same point, one classifying actor's process is SIGKILLed;
- driver: at the same point, the driver is SIGKILLed;
- photos: as soon as the driver has listed the photos, the last three are deleted and the three before them
  truncated to a third;
- crashloop: from the same point as "actor", every actor process is SIGKILLed and every actor call
  SIGKILLs its own process as it begins (the cluster's counting hook does it while the fault is on), as
  batches that each hold a photo that crashes its actor would, until the driver ends. Ray tries them again
  forever; the run's no-progress limit (NO_PROGRESS_S here, through RAY_DATA_EXECUTION_NO_PROGRESS_TIMEOUT_S,
  instead of the engine's 10 minutes) must stop it with gendersort's one-line error (exit 1), and the
  `--resume`, without the fault, finish it.

A run that has not ended within the hang bound is killed and counted as hung. A run that did not finish
(killed, or exit 1) is followed by one `--resume`, whose pool is planned for the cluster as it is then
(after a lost node, for the node left). Then DEST is checked: every listed photo has exactly one row, error
rows are those of the corrupt and broken photos only, every part file reads whole, and the exit codes are
those the README documents (2 when DEST holds error rows, first run or resumed). Photos classified are
counted by the cluster's counting hook; photos redone are those beyond one per photo.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.dataset as pads
import pyarrow.parquet as pq

from benchmarks.inputs import listed, make_inputs
from benchmarks.netns_cluster import TwoNodes, kill_all, why_not

FAULTS = ("none", "node", "actor", "driver", "photos", "crashloop")
CORRUPT = "0-corrupt.jpg"  # first in the walk: its error row is in the first part file
BROKEN = 3  # photos deleted, and as many truncated, by the "photos" fault
NO_PROGRESS_S = 90  # the crash loop's driver stops after this long without progress (the engine's: 600 s)
PLAN = re.compile(r"(\d+) actors? of (\d+) CPU")  # the driver's note on its pool
EXIT_FILE_ERRORS = 2
POLL_S = 0.1


@dataclass
class Outcome:
    """One run of a fault: what the driver(s) did and what DEST holds."""

    fault: str
    photos: int
    exit_codes: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # the first run's, the resume's
    classified: int = 0
    fault_at_s: float = 0.0
    lost_s: float = 0.0  # against the round's run without a fault
    hung: bool = False
    actors_lost: int = 0  # with the node, the node fault's
    actors_waiting: int = 0  # of those, the ones the node left had no free CPU for
    problems: list[str] = field(default_factory=list)
    stderr: str = ""

    @property
    def total_s(self) -> float:
        return sum(self.seconds)

    @property
    def redone(self) -> int:
        return self.classified - self.photos


def make_collection(source: Path, folder: Path) -> list[Path]:
    """The run's own folder: the source photos hard-linked (breaking one replaces its link, never the
    source), and a corrupt photo. Its photos in the order the walker lists them."""
    for photo in listed(source):
        target = folder / photo.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(photo, target)
    whole = listed(source)[0].read_bytes()
    (folder / CORRUPT).write_bytes(whole[: len(whole) // 3])
    return listed(folder)


def break_photos(photos: list[Path]) -> set[str]:
    """The last BROKEN photos deleted, the BROKEN before them truncated to a third; their paths."""
    deleted, truncated = photos[-BROKEN:], photos[-2 * BROKEN:-BROKEN]
    for photo in deleted:
        photo.unlink()
    for photo in truncated:
        data = photo.read_bytes()
        photo.unlink()  # a new file: the link's source stays whole
        photo.write_bytes(data[: len(data) // 3])
    return {str(photo) for photo in deleted + truncated}


def rows_written(dest: Path) -> int:
    total = 0
    for part in dest.glob("part-*.parquet"):
        try:
            total += pq.read_metadata(part).num_rows
        except OSError:
            continue  # being renamed into place
    return total


def fault_now(fault: str, dest: Path, stderr: Path, count: int) -> bool:
    """Whether the fault's moment has come."""
    if fault == "photos":
        return "to classify on Ray" in stderr.read_text(errors="replace")
    return rows_written(dest) >= count // 4


def inject(fault: str, cluster: TwoNodes, driver: subprocess.Popen, photos: list[Path], stderr: Path,
           outcome: Outcome) -> set[str]:
    """The fault; the photos it broke."""
    if fault == "node":
        lose_worker(cluster, stderr, outcome)
    elif fault == "actor":
        actors = cluster.actor_pids()
        if not actors:
            raise RuntimeError("no actor process to kill")
        os.kill(actors[0], signal.SIGKILL)
    elif fault == "crashloop":
        cluster.crash_every_batch(True)  # every call begun from now on; those begun before:
        kill_all(cluster.actor_pids())
    elif fault == "driver":
        driver.send_signal(signal.SIGKILL)
    elif fault == "photos":
        return break_photos(photos)
    return set()


def lose_worker(cluster: TwoNodes, stderr: Path, outcome: Outcome) -> None:
    """The worker node lost, its actors counted first, and those that cannot start again at once."""
    outcome.actors_lost = len(cluster.actor_pids("worker"))
    if not outcome.actors_lost:
        outcome.problems.append("the worker node held no actor when it was lost")
    planned = PLAN.search(stderr.read_text(errors="replace"))
    cpus = int(planned.group(2)) if planned else 1
    free = cluster.cpus - cpus * len(cluster.actor_pids("head"))
    outcome.actors_waiting = max(0, outcome.actors_lost - free // cpus)
    cluster.kill_node("worker")


def run_driver(cluster: TwoNodes, command: list[str], stderr: Path, outcome: Outcome, bound_s: float,
               fault: str = "none", dest: Path | None = None, photos: list[Path] | None = None) -> set[str]:
    """One driver run, with the fault injected at its moment; its exit code and seconds go to `outcome`.
    The photos the fault broke."""
    broken: set[str] = set()
    shot = fault != "none"
    env = cluster.env("driver")
    if fault == "crashloop":
        env["RAY_DATA_EXECUTION_NO_PROGRESS_TIMEOUT_S"] = str(NO_PROGRESS_S)
    started = time.monotonic()
    with open(stderr, "w") as log:
        driver = subprocess.Popen(cluster.driver_command(command), env=env, stdout=subprocess.DEVNULL,
                                  stderr=log)
        while driver.poll() is None and time.monotonic() - started < bound_s:
            if shot and fault_now(fault, dest, stderr, outcome.photos):
                outcome.fault_at_s = time.monotonic() - started
                broken |= inject(fault, cluster, driver, photos, stderr, outcome)
                shot = False
            time.sleep(POLL_S)
        if driver.poll() is None:
            outcome.hung = True
            driver.kill()
        code = driver.wait()
    cluster.crash_every_batch(False)
    outcome.seconds.append(time.monotonic() - started)
    outcome.exit_codes.append(code)
    outcome.stderr += stderr.read_text(errors="replace")
    if not outcome.fault_at_s and fault != "none":
        outcome.problems.append(f"the run ended before the {fault} fault could be made")
    return broken


def check_dest(dest: Path, photos: list[Path], broken: set[str], outcome: Outcome) -> None:
    """One row per listed photo, error rows for the corrupt and broken ones only, whole part files."""
    parts = sorted(dest.glob("part-*.parquet"))
    for part in parts:
        try:
            pq.read_table(part)
        except OSError as error:
            outcome.problems.append(f"{part.name} does not read whole: {error}")
    rows = pads.dataset(parts, format="parquet").to_table(columns=["path", "status"]).to_pylist() if parts \
        else []
    per_photo = Counter(row["path"] for row in rows)
    listed_paths = {str(photo) for photo in photos}
    missing = listed_paths - set(per_photo)
    doubled = [path for path, rows_of in per_photo.items() if rows_of > 1]
    strangers = set(per_photo) - listed_paths
    errors = {row["path"] for row in rows if row["status"] == "error"}
    expected = broken | {str(photo) for photo in photos if photo.name == CORRUPT}
    for what, paths in (("photos without a row", missing), ("photos with two rows or more", doubled),
                        ("rows of no listed photo", strangers), ("error rows of sound photos",
                                                                 errors - expected),
                        ("broken photos without an error row", expected - errors)):
        if paths:
            outcome.problems.append(f"{len(paths)} {what}, e.g. {sorted(paths)[:3]}")
    leftovers = [path.name for path in dest.glob(".*.tmp")]
    if leftovers:
        outcome.problems.append(f"{len(leftovers)} temporary files left in DEST: {leftovers[:3]}")
    finished = [code for code in outcome.exit_codes if code in (0, EXIT_FILE_ERRORS)]
    if finished and finished[-1] != EXIT_FILE_ERRORS:
        outcome.problems.append(f"exit {finished[-1]} with error rows in DEST (documented: 2)")
    if not finished:
        outcome.problems.append(f"no run finished: exit codes {outcome.exit_codes}")
    if len(outcome.exit_codes) > 1 and outcome.exit_codes[0] == 1 and "gendersort: error:" not in \
            outcome.stderr:
        outcome.problems.append("exit 1 without gendersort's one-line error")


def run_fault(cluster: TwoNodes, fault: str, source: Path, bound_s: float) -> Outcome:
    """One run with the fault on the cluster (its worker node started again if an earlier run lost it), a
    `--resume` when it did not finish, and the checks. Each run has a folder and DEST of its own."""
    if not cluster.node_pids("worker"):
        cluster.start_node("worker")
        cluster.wait_for_nodes(2)
    cluster.clear_counts()
    work = Path(tempfile.mkdtemp(prefix=f"{fault}-", dir=cluster.scratch))
    photos = make_collection(source, work / "photos")
    dest = work / "dest"
    outcome = Outcome(fault, photos=len(photos))
    command = [sys.executable, "-m", "gendersort", "classify", str(work / "photos"), "--engine", "ray",
               "--ray-address", cluster.address, "--out", str(dest), "--rows-per-file",
               str(max(10, len(photos) // 20))]
    log = work / "driver.err"
    broken = run_driver(cluster, command, log, outcome, bound_s, fault, dest, photos)
    if outcome.exit_codes[-1] not in (0, EXIT_FILE_ERRORS):
        if fault == "node":
            cluster.wait_for_nodes(1)  # the lost node is known to be lost before the rerun joins
        run_driver(cluster, [*command, "--resume"], log, outcome, bound_s)
    outcome.classified = cluster.photos_classified()
    check_dest(dest, photos, broken, outcome)
    if fault == "node" and outcome.exit_codes[0] != EXIT_FILE_ERRORS:
        outcome.problems.append(f"exit {outcome.exit_codes[0]} after the node loss: the run was to go on "
                                f"with the actors left and finish (exit {EXIT_FILE_ERRORS})")
    if fault == "crashloop" and outcome.exit_codes[0] != 1:
        outcome.problems.append(f"exit {outcome.exit_codes[0]} in a crash loop: the run was to stop after "
                                f"{NO_PROGRESS_S} s without progress (exit 1)")
    if outcome.hung:
        outcome.problems.append(f"a run was still going after {bound_s:.0f} s (the bound) and was killed")
    return outcome


def describe(outcome: Outcome, baseline_s: float) -> str:
    codes = " then ".join(str(code) for code in outcome.exit_codes)
    verdict = "ok" if not outcome.problems else "FAILED: " + "; ".join(outcome.problems)
    lost = outcome.total_s - baseline_s
    actors = (f"; {outcome.actors_lost} actor(s) lost, {outcome.actors_waiting} without a free CPU"
              if outcome.fault == "node" else "")
    return (f"{outcome.fault:<9} exit {codes:<10} {outcome.total_s:6.1f} s ({lost:+6.1f} s lost; fault at "
            f"{outcome.fault_at_s:5.1f} s) {outcome.redone:5d} photos redone{actors}   {verdict}")


def error_lines(text: str) -> str:
    """gendersort's one-line errors in the drivers' output (where Ray gave up)."""
    return "\n".join("      | " + line for line in text.splitlines() if line.startswith("gendersort: error:"))


def last_lines(text: str, count: int = 3) -> str:
    return "\n".join("      | " + line for line in text.strip().splitlines()[-count:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000, help="photos (500 px), made once under --inputs")
    parser.add_argument("--runs", type=int, default=3, help="runs per fault")
    parser.add_argument("--faults", nargs="+", choices=FAULTS[1:], default=FAULTS[1:])
    parser.add_argument("--inputs", type=Path, default=Path(tempfile.gettempdir()) / "gendersort-benchmark")
    args = parser.parse_args()
    if reason := why_not():
        sys.exit(f"cannot make a cluster of network namespaces here: {reason}")
    source = make_inputs(args.inputs, "500px", args.count)
    outcomes: dict[str, list[Outcome]] = {}
    with TwoNodes() as cluster:
        first = run_fault(cluster, "none", source, bound_s=1800)
        if first.problems:
            sys.exit(describe(first, first.total_s) + "\n" + last_lines(first.stderr, 20))
        bound_s = 2 * first.total_s + 60
        planned = PLAN.search(first.stderr)
        pool = f"{planned.group(1)} actors x {planned.group(2)} CPU" if planned else "pool unknown"
        print(f"{first.photos} photos, 2 nodes x {cluster.cpus} CPUs, {pool}; first run "
              f"{first.total_s:.1f} s; "
              f"hang bound {bound_s:.0f} s per driver run; {os.cpu_count()} cores, load "
              f"{os.getloadavg()[0]:.1f}", flush=True)
        for _ in range(args.runs):
            baseline = run_fault(cluster, "none", source, bound_s)
            outcomes.setdefault("none", []).append(baseline)
            print(describe(baseline, baseline.total_s), flush=True)
            for fault in args.faults:
                outcome = run_fault(cluster, fault, source, bound_s)
                outcome.lost_s = outcome.total_s - baseline.total_s
                outcomes.setdefault(fault, []).append(outcome)
                print(describe(outcome, baseline.total_s), flush=True)
                if outcome.problems:
                    print(last_lines(outcome.stderr), flush=True)
                elif errors := error_lines(outcome.stderr):
                    print(errors, flush=True)
    print("per fault, median of the runs: seconds lost against the round's run without a fault, photos "
          "classified again")
    for fault, runs in outcomes.items():
        lost = statistics.median(run.lost_s for run in runs)
        redone = statistics.median(run.redone for run in runs)
        failed = sum(bool(run.problems) for run in runs)
        longest = max(run.total_s for run in runs)
        print(f"  {fault:<9} {lost:+6.1f} s, {redone:5.0f} photos redone; {len(runs) - failed} of "
              f"{len(runs)} runs held (longest {longest:.1f} s)")
    if any(run.problems for runs in outcomes.values() for run in runs):
        sys.exit(1)


if __name__ == "__main__":
    main()
