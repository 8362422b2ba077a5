"""Where a photo's time goes: every step and network pass of classify counted and timed, on one thread.

    python -m benchmarks.network_passes                       # 250px, portraits and 12mp, 300 photos each
    python -m benchmarks.network_passes --kinds portraits --count 1000

The photos of each kind of benchmark input (benchmarks/inputs.py) go one after another through classify's
own per-photo code (pipeline/reading.py, main face, draft decoding), the classifier taking 32 photos' chips
a run, with onnxruntime on one thread. Each step's own time is kept (a step's inner steps are not counted
twice): decoding (the detector's decode and any finer one for a chip), the detector's coarse-to-fine looks,
the second look at uncertain faces, the turned look at photos where no look found a face, drawing the
views, cutting the chips, and the classifier. Then the classifier's graph in parts, on the chips of the
same photos: the whole graph, the graph without its mirror pass (export/without_mirror.py), and the
shares of onnxruntime's own profile spent in each member (the nodes' name scopes: the MobileNetV2
member, Cydral's network, the quality measures, the stack).
Shares rather than milliseconds are what to compare between runs: a busier machine moves them all alike.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime

import gendersort.faces.detector as detector_module
import gendersort.pipeline.reading as reading_module
from benchmarks.inputs import PORTRAITS, listed, make_inputs, makeable
from benchmarks.throughput import COUNTS
from export.without_mirror import without_mirror
from gendersort.models.chip_inputs import FaceChips
from gendersort.models.classifier import CLASSIFIER_PATH, GenderClassifier
from gendersort.photos.walk import FoundFile
from gendersort.pipeline.analysis import FaceAnalyzer
from gendersort.pipeline.reading import PhotoReader

ROOT = Path(__file__).resolve().parent.parent
BATCH = 32
PROFILE_RUNS = 5


class Steps:
    """Each timed step's own seconds (its timed inner steps taken out), its calls and what it handled."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self.items: Counter[str] = Counter()
        self.inner: list[float] = []  # per open step, the time its inner steps took

    def timed(self, name: str, function: Callable[..., Any],
              items: Callable[..., int] = lambda *args: 1) -> Callable[..., Any]:
        def step(*args: Any, **kwargs: Any) -> Any:
            self.inner.append(0.0)
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                inner = self.inner.pop()
                if self.inner:
                    self.inner[-1] += elapsed
                self.seconds[name] += elapsed - inner
                self.calls[name] += 1
                self.items[name] += items(*args, **kwargs)
        return step


def instrumented(analyzer: FaceAnalyzer, steps: Steps, stack: ExitStack) -> None:
    """Every step of the analyzer's per-photo path timed in place (restored when `stack` closes)."""
    detector = analyzer.detector

    def replace(owner: Any, name: str, new: Callable[..., Any]) -> None:
        old = owner.__dict__.get(name)
        setattr(owner, name, new)
        stack.callback(lambda: setattr(owner, name, old) if old is not None else delattr(owner, name))

    replace(reading_module, "load", steps.timed("decoding", reading_module.load))
    replace(detector_module, "render_view", steps.timed("drawing the detector's views",
                                                        detector_module.render_view))
    replace(detector, "look", steps.timed("detector: coarse-to-fine looks (views)", detector.look,
                                          lambda photo, views: len(views)))
    replace(detector, "found_again", steps.timed("detector: second look (faces)", detector.found_again,
                                                 lambda photo, faces: len(faces)))
    replace(detector, "turned_look", steps.timed("detector: turned look (photos)", detector.turned_look))
    replace(analyzer, "chips", steps.timed("cutting the chips (faces)", analyzer.chips,
                                           lambda image, faces, *rest: len(faces)))


def run_photos(paths: list[Path], analyzer: FaceAnalyzer, steps: Steps) -> tuple[float, list[FaceChips]]:
    """classify's per-photo path over the photos, one at a time: the seconds it took, every face's chips."""
    reader = PhotoReader(analyzer, every_face=False)
    classify = steps.timed("classifier (faces)", analyzer.p_male_per_image,
                           lambda chip_sets: sum(len(chips) for chips in chip_sets))
    waiting: list[FaceChips] = []
    kept: list[FaceChips] = []
    start = time.perf_counter()
    for path in paths:
        stat = path.stat()
        pending = reader.read(FoundFile(path, stat.st_size, stat.st_mtime))
        if pending.chips is not None and len(pending.chips):
            waiting.append(pending.chips)
        if len(waiting) == BATCH:
            classify(waiting)
            kept += waiting
            waiting = []
    classify(waiting)
    return time.perf_counter() - start, kept + waiting


def report_steps(kind: str, count: int, seconds: float, steps: Steps) -> None:
    per_photo = seconds / count * 1000
    print(f"\n== {kind}: {count} photos, one thread: {per_photo:.2f} ms a photo "
          f"({count / seconds:.1f} photos/s)")
    print(f"  {'step':<42} {'ms/photo':>9} {'share':>6} {'per photo':>10} {'ms each':>8}")
    for name in sorted(steps.seconds, key=steps.seconds.get, reverse=True):
        each = steps.seconds[name] / max(steps.items[name], 1) * 1000
        print(f"  {name:<42} {steps.seconds[name] / count * 1000:9.2f} {steps.seconds[name] / seconds:6.1%} "
              f"{steps.items[name] / count:10.2f} {each:8.2f}")
    rest = seconds - sum(steps.seconds.values())
    rest_name = "the rest (decoding the outputs, NMS, ...)"
    print(f"  {rest_name:<42} {rest / count * 1000:9.2f} {rest / seconds:6.1%}")


def session(model: onnx.ModelProto | Path, profile_to: Path | None = None) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    if profile_to is not None:
        options.enable_profiling = True
        options.profile_file_prefix = str(profile_to / "profile")
    source = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    return onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def batches(chips: FaceChips, names: list[str]) -> list[dict[str, np.ndarray]]:
    inputs = [chips.aligned] if chips.second is None else [chips.aligned, chips.second]
    return [{name: np.ascontiguousarray(batch[start:start + BATCH]) for name, batch in zip(names, inputs,
                                                                                            strict=True)}
            for start in range(0, len(chips) - BATCH + 1, BATCH)]


def ms_per_face(sessions: dict[str, onnxruntime.InferenceSession], chips: FaceChips, rounds: int = 3
                ) -> dict[str, float]:
    """Each graph's best time per face over `rounds` passes through the chips, the graphs alternated."""
    best = dict.fromkeys(sessions, float("inf"))
    for _ in range(rounds):
        for name, graph in sessions.items():
            feeds = batches(chips, [item.name for item in graph.get_inputs()])
            start = time.perf_counter()
            for feed in feeds:
                graph.run(None, feed)
            best[name] = min(best[name], (time.perf_counter() - start) / (len(feeds) * BATCH) * 1000)
    return best


def profile_shares(model_path: Path, chips: FaceChips) -> dict[str, float]:
    """Shares of the graph's node time by name scope (the first part of each node's name)."""
    with tempfile.TemporaryDirectory() as scratch:
        graph = session(model_path, Path(scratch))
        feeds = batches(chips, [item.name for item in graph.get_inputs()])[:PROFILE_RUNS]
        for feed in feeds:
            graph.run(None, feed)
        events = json.loads(Path(graph.end_profiling()).read_text())
    scopes: Counter[str] = Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            name = event["name"].removesuffix("_kernel_time")
            scopes[name.split("/")[0] if "/" in name else "(the stack and glue)"] += event["dur"]
    total = sum(scopes.values())
    return {scope: duration / total for scope, duration in scopes.most_common()}


def report_classifier(model_path: Path, chips: FaceChips) -> None:
    if len(chips) < BATCH:
        print(f"\n== classifier graph: fewer than {BATCH} faces, not timed")
        return
    sessions = {"whole graph": session(model_path)}
    try:
        sessions["without the mirror pass"] = session(without_mirror(onnx.load(str(model_path))))
    except SystemExit as missing:  # a graph without a mirror pass
        print(f"  ({missing})")
    times = ms_per_face(sessions, chips)
    print(f"\n== classifier graph ({model_path.name}), {len(chips)} faces of these photos, {BATCH} a run, "
          "one thread, best of 3")
    for name, value in times.items():
        print(f"  {name:<42} {value:6.2f} ms a face")
    if len(times) == 2:
        mirror = times["whole graph"] - times["without the mirror pass"]
        print(f"  the mirror pass: {mirror:.2f} ms a face, {mirror / times['whole graph']:.0%} of the graph")
    shares = ", ".join(f"{scope} {share:.0%}" for scope, share in profile_shares(model_path, chips).items()
                       if share >= 0.005)
    print(f"  onnxruntime's profile of the whole graph by name scope: {shares}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", default=str(ROOT / "build" / "bench"), help="where inputs are made")
    parser.add_argument("--kinds", default=f"250px,{PORTRAITS},12mp")
    parser.add_argument("--count", type=int, default=300, help="photos per kind (of those made)")
    parser.add_argument("--model", type=Path, default=CLASSIFIER_PATH)
    args = parser.parse_args()
    analyzer = FaceAnalyzer(device="cpu", threads=1, classifier_path=args.model)
    all_chips: list[FaceChips] = []
    for kind in makeable(args.kinds.split(",")):
        paths = listed(make_inputs(Path(args.inputs), kind, COUNTS[kind]))[:args.count]
        steps = Steps()
        with ExitStack() as stack:
            instrumented(analyzer, steps, stack)
            seconds, chips = run_photos(paths, analyzer, steps)
        report_steps(kind, len(paths), seconds, steps)
        all_chips += chips
    if all_chips:
        report_classifier(args.model, FaceChips.concatenate(all_chips))
    print(f"\nthe classifier: {GenderClassifier(device='cpu', model_path=args.model).version}; onnxruntime "
          f"{onnxruntime.__version__}")


if __name__ == "__main__":
    main()
