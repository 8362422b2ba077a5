"""`--summary run.json` and `--metrics run.prom`: what a run did, for whoever (or whatever) watches a
scheduled job: the photos by status, the output's rows by label with their expected accuracy, the threshold
of --target-accuracy, the errors with a few examples, duration, images/s, model, device and exit code.

Both are written whole at the end, also when the run ends in errors (exit 2), finds no photo (3), fails (1)
or is interrupted (130): a hidden file in the same folder renamed over the old one (write_whole), which is
what node_exporter's textfile collector asks of the files it reads (it reads only `*.prom`, and must never
see half of one). The metrics are Prometheus' text exposition format, every series labelled with the
command and its output, so that several jobs' files sit side by side in the collector's folder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from gendersort.errors import BadOptionError
from gendersort.outputs.whole_files import write_whole
from gendersort.outputs.writers import json_text
from gendersort.pipeline.expected_accuracy import ExpectedAccuracy, Threshold, rounded
from gendersort.pipeline.results import Tally
from gendersort.printable import printable

EXAMPLES = 5  # errors kept as examples
METRICS_SUFFIX = ".prom"


def check_metrics_name(path: Path | None) -> None:
    if path is not None and path.suffix != METRICS_SUFFIX:
        raise BadOptionError(f"--metrics {path}: name it *{METRICS_SUFFIX}, the only files node_exporter's "
                             "textfile collector reads")


@dataclass
class RunSummary:
    """A run's figures as they come in: `tally` counts this run's photos by status (the command's own);
    `rows` is the output as it stands at the end (classify: every row of --out, those kept by --resume too;
    sort: the files in each folder, by the manifest)."""

    command: str
    output: str
    model_version: str = ""
    device: str = ""
    tally: Tally = field(default_factory=Tally)
    errors: list[tuple[str, str]] = field(default_factory=list)
    rows: ExpectedAccuracy | None = None
    threshold: Threshold | None = None
    done_before: int = 0
    passed_over: int = 0
    started: float = field(default_factory=time.time)
    clock: float = field(default_factory=time.monotonic)

    def error(self, path: str, message: str) -> None:
        """A photo's error, kept as an example while there are fewer than EXAMPLES."""
        if len(self.errors) < EXAMPLES:
            self.errors.append((path, message))

    @property
    def by_status(self) -> dict[str, int]:
        return {"ok": self.tally.ok, "no_face": self.tally.no_face, "error": self.tally.errors}

    def images_per_second(self, end: float) -> float | None:
        """As the command's closing line says it: photos per second since the work began (the models
        loaded), until `end` (time.monotonic())."""
        elapsed = end - self.tally.started
        return self.tally.files / elapsed if self.tally.files and elapsed > 0 else None

    def document(self, exit_code: int, end: float) -> dict[str, object]:
        """What --summary writes, for a run that ended at `end` (time.monotonic())."""
        duration = end - self.clock
        return {
            "command": self.command,
            "output": self.output,
            "exit_code": exit_code,
            "started": iso_time(self.started),
            "finished": iso_time(self.started + duration),
            "duration_s": round(duration, 3),
            "files": self.tally.files,
            "images_per_s": rounded(self.images_per_second(end)),
            "by_status": self.by_status,
            "done_before": self.done_before,
            "passed_over": self.passed_over,
            "errors": {"count": self.tally.errors,
                       "examples": [{"path": path, "error": error} for path, error in self.errors]},
            "rows": self.rows.record() if self.rows else None,
            "target_accuracy": self.threshold.record() if self.threshold else None,
            "model_version": self.model_version or None,
            "device": self.device or None,
        }

    def metrics(self, exit_code: int, end: float) -> str:
        """What --metrics writes: Prometheus' text exposition format, gauges of the last run."""
        duration = end - self.clock
        common = {"command": self.command, "output": self.output}
        lines: list[str] = []

        def gauge(name: str, about: str, samples: list[tuple[dict[str, str], float | None]]) -> None:
            samples = [(labels, value) for labels, value in samples if value is not None]
            if samples:
                lines.extend((f"# HELP gendersort_{name} {about}", f"# TYPE gendersort_{name} gauge"))
                lines.extend(f"gendersort_{name}{label_set(common | labels)} {number(value)}"
                             for labels, value in samples)

        gauge("files", "Photos the last run did, by status.",
              [({"status": status}, count) for status, count in self.by_status.items()])
        if self.rows:
            estimates = self.rows.labels.values()
            gauge("rows", "Rows of the output by label (sort: files in each folder).",
                  [({"label": item.label}, item.rows) for item in estimates])
            gauge("expected_accuracy", "Expected share right of the rows with this label: their mean "
                  "max(p_male, 1 - p_male).", [({"label": item.label}, item.share) for item in estimates])
            gauge("expected_wrong", "Expected number of wrong rows with this label.",
                  [({"label": item.label}, item.wrong) for item in estimates])
        if self.threshold:
            gauge("target_accuracy", "The --target-accuracy asked for.", [({}, self.threshold.target)])
            gauge("threshold", "The confidence threshold --target-accuracy chose.",
                  [({}, self.threshold.value)])
            gauge("kept_rows", "Rows with a face labelled male or female by the threshold.",
                  [({}, self.threshold.kept)])
        gauge("duration_seconds", "How long the last run took.", [({}, round(duration, 3))])
        gauge("images_per_second", "Photos per second of the last run.",
              [({}, self.images_per_second(end))])
        gauge("exit_code", "The last run's exit code (0 every file done, 2 some files had errors).",
              [({}, exit_code)])
        gauge("last_run_timestamp_seconds", "When the last run ended (Unix time).",
              [({}, round(self.started + duration, 3))])
        gauge("run_info", "The model and device of the last run.",
              [({"model_version": self.model_version, "device": self.device}, 1)])
        return "\n".join(lines) + "\n"

    def write(self, summary: Path | None, metrics: Path | None, exit_code: int) -> None:
        end = time.monotonic()
        if summary:
            write_whole(summary, json_text(self.document(exit_code, end), indent=2) + "\n")
        if metrics:
            write_whole(metrics, self.metrics(exit_code, end))


def label_set(labels: dict[str, str]) -> str:
    """'{command="classify",label="male"}', each value printable() and escaped as the format asks."""
    def escaped(value: str) -> str:
        return printable(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{name}="{escaped(value)}"' for name, value in labels.items()) + "}"


def number(value: float) -> str:
    """A sample's value: a count as an integer, any other number in full (a Unix time keeps its seconds)."""
    return str(value) if isinstance(value, int) else repr(float(value))


def iso_time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds")
