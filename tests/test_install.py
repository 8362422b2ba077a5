"""The documented installs as a new user meets them, in a fresh virtual environment, on a machine without an
NVIDIA driver: a bare install says which runtime to add; the gpu extra brings onnxruntime-gpu alone, CUDA
listed; `--device cuda` then stops before any photo with one line saying why, and `--device auto` runs on
the CPU, saying why, without onnxruntime's own log lines.

It downloads gigabytes of wheels (onnxruntime-gpu with NVIDIA's CUDA and cuDNN: 2.6 GB installed) and took
4 to 5 minutes here, so the README's test command and CI skip it; it runs when asked:

    GENDERSORT_INSTALL_CHECK=1 .venv/bin/python -m pytest -q -rs tests/test_install.py
"""

from __future__ import annotations

import csv
import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gendersort.models.device import DRIVER, NO_RUNTIME
from tests.conftest import EXAMPLES

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    os.environ.get("GENDERSORT_INSTALL_CHECK") != "1",
    reason="downloads gigabytes of wheels; GENDERSORT_INSTALL_CHECK=1 runs it")]
# The environment of a new user's shell: none of this session's Python or gendersort settings.
CLEAN = {key: value for key, value in os.environ.items()
         if key not in ("PYTHONPATH", "VIRTUAL_ENV", "GENDERSORT_DEBUG")}
NO_DRIVER = f"there is no NVIDIA driver: {DRIVER} not found"


def run(*command: object, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(part) for part in command], capture_output=True, text=True, cwd=cwd, env=CLEAN,
                          timeout=3600)


def pip(python: Path, *arguments: object) -> None:
    done = run(python, "-m", "pip", *arguments, "--quiet", "--disable-pip-version-check")
    assert done.returncode == 0, done.stderr[-3000:]


def installed(python: Path) -> set[str]:
    listed = run(python, "-m", "pip", "list", "--format", "json", "--disable-pip-version-check")
    return {package["name"].lower() for package in json.loads(listed.stdout)}


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """The checkout as it is, copied: pip builds in its source tree (build/, *.egg-info), so not in ours."""
    copy = tmp_path_factory.mktemp("source") / "gendersort"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".*", "build", "*.egg-info", "__pycache__"))
    return copy


def test_each_documented_set_of_extras_resolves_to_exactly_one_onnxruntime(source, tmp_path):
    """What pip would install for the README's and CI's sets (resolved, not installed)."""
    for extras, runtime in (("cpu,test,train,ray,docs", "onnxruntime"),
                            ("gpu,test,train,ray,docs", "onnxruntime-gpu")):
        report = tmp_path / f"{extras}.json"
        pip(Path(sys.executable), "install", "--dry-run", "--ignore-installed", "--report", report,
            f"{source}[{extras}]")
        names = {item["metadata"]["name"].lower() for item in json.loads(report.read_text())["install"]}
        assert names & {"onnxruntime", "onnxruntime-gpu"} == {runtime}, extras


def test_the_gpu_install_on_a_machine_without_a_gpu(source, tmp_path):
    try:
        ctypes.CDLL(DRIVER)
        pytest.skip("an NVIDIA driver is here: benchmarks/cuda_check.sh checks CUDA on such a machine")
    except OSError:
        pass
    assert run(sys.executable, "-m", "venv", tmp_path / "venv").returncode == 0
    python, gendersort = tmp_path / "venv" / "bin" / "python", tmp_path / "venv" / "bin" / "gendersort"

    def classify(device: str) -> tuple[subprocess.CompletedProcess[str], Path]:
        out = tmp_path / f"{device}.csv"
        out.unlink(missing_ok=True)
        return run(gendersort, "classify", EXAMPLES, "--out", out, "--device", device, cwd=tmp_path), out

    pip(python, "install", source)  # a bare install: no runtime
    bare, out = classify("auto")
    assert (bare.returncode, bare.stderr, out.exists()) == (1, f"gendersort: error: {NO_RUNTIME}\n", False)

    pip(python, "install", f"{source}[gpu]")  # the README's GPU install
    packages = installed(python)
    assert "onnxruntime-gpu" in packages and "onnxruntime" not in packages
    providers = run(python, "-c", "import onnxruntime; print(onnxruntime.get_available_providers())")
    assert "CUDAExecutionProvider" in providers.stdout
    cuda, out = classify("cuda")
    assert (cuda.returncode, cuda.stdout, out.exists()) == (1, "", False)
    assert cuda.stderr == f"gendersort: error: --device cuda was asked for, but {NO_DRIVER}\n"
    auto, out = classify("auto")
    assert auto.returncode == 0, auto.stderr
    chose, summary = auto.stderr.splitlines()  # nothing else: no line of onnxruntime's own
    assert chose == f"device auto: CPUExecutionProvider (not CUDA: {NO_DRIVER})"
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert summary.startswith(f"{len(rows)} files: ") and {row["status"] for row in rows} <= {"ok", "no_face"}
    info = run(gendersort, "info", cwd=tmp_path)
    assert f"device auto: CPUExecutionProvider (not CUDA: {NO_DRIVER})" in info.stdout.splitlines()

    pip(python, "install", "pytest")  # the device tests, their sessions asked for CUDA by the GPU build
    tests = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_device.py", cwd=source)
    assert tests.returncode == 0 and " passed" in tests.stdout, tests.stdout[-3000:]

    (cublas,) = [name for name in packages if name.startswith("nvidia-cublas")]
    pip(python, "uninstall", "-y", cublas)  # a CUDA library missing: the first one is named
    missing, out = classify("cuda")
    assert missing.returncode == 1 and not out.exists()
    said = r"gendersort: error: --device cuda was asked for, but libcublas(Lt)?\.so\.\d+ does not load: .+\n"
    assert re.fullmatch(said, missing.stderr), missing.stderr

    pip(python, "install", "onnxruntime")  # both builds, as the old README's install left them
    both, out = classify("cuda")
    assert both.returncode == 1 and not out.exists()
    assert "onnxruntime and onnxruntime-gpu are both installed" in both.stderr, both.stderr
