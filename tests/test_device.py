"""The device the models run on: real sessions, checked for the providers they got, and why not CUDA."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest

from gendersort.models.chip_inputs import FaceChips
from gendersort.models.classifier import CLASSIFIER_PATH, GenderClassifier
from gendersort.models.device import (
    CPU,
    CUDA,
    DRIVER,
    NO_RUNTIME,
    DeviceUnavailableError,
    cpu_build_only,
    missing_library,
    runtime,
)
from gendersort.models.session import OnnxModel
from gendersort.pipeline.analysis import FaceAnalyzer
from gendersort.pipeline.api import classify_paths
from tests.conftest import EXAMPLES, FIXTURES, cuda_works

needs_cuda = pytest.mark.skipif(not cuda_works(), reason="needs a working CUDA (benchmarks/cuda_check.sh)")
without_cuda = pytest.mark.skipif(cuda_works(), reason="CUDA works here")


def driver_found() -> bool:
    try:
        ctypes.CDLL(DRIVER)
    except OSError:
        return False
    return True


def check_reason(reason: str) -> None:
    """The one line that says why CUDA is not used: what this machine lacks, as far as the test can tell."""
    assert reason and "\n" not in reason
    if CUDA not in runtime().get_available_providers():
        assert "CPU build" in reason and "pip install 'gendersort[gpu]'" in reason, reason
    elif not driver_found():
        assert reason == f"there is no NVIDIA driver: {DRIVER} not found"


@without_cuda
def test_cuda_without_a_working_cuda_is_an_error_that_says_why():
    with pytest.raises(DeviceUnavailableError) as raised:
        OnnxModel(CLASSIFIER_PATH, device="cuda")
    message = str(raised.value)
    assert message.startswith("--device cuda was asked for, but ")
    check_reason(message.removeprefix("--device cuda was asked for, but "))


@without_cuda
def test_auto_without_a_working_cuda_runs_on_the_cpu_and_says_why():
    """Where the GPU build is installed, the session is asked for CUDA, and falls back: the check sees it."""
    classifier = GenderClassifier(device="auto")
    model = classifier.model
    assert model.provider == CPU and model.fixed_batch is None
    if cpu_build_only():  # a CPU install: no run tells how to get CUDA (info and --device cuda's error do)
        assert (model.without_cuda, model.chosen) == (None, CPU)
    else:
        check_reason(model.without_cuda or "")
        assert model.chosen == f"{CPU} (not CUDA: {model.without_cuda})"
    blank = FaceChips.empty(3, classifier.geometry, classifier.second_chip)
    assert classifier.p_male(blank).shape == (3,)


def test_cpu_asked_for_is_the_cpu_with_nothing_to_explain():
    model = OnnxModel(CLASSIFIER_PATH, device="cpu")
    assert (model.provider, model.without_cuda, model.chosen) == (CPU, None, CPU)


def test_an_unknown_device_is_refused():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        OnnxModel(CLASSIFIER_PATH, device="tpu")


def test_the_first_library_that_does_not_load_is_named(tmp_path):
    absent = tmp_path / "libabsent.so.7"
    assert missing_library("libc.so.6") is None
    assert missing_library("libc.so.6", absent, "libm.so.6") == str(absent)


def test_without_onnxruntime_a_command_says_which_extra_to_install_in_one_line(tmp_path):
    """A bare `pip install gendersort`: the import machinery finds no onnxruntime (None in sys.modules)."""
    code = ("import sys; sys.modules['onnxruntime'] = None; from gendersort.cli import app; "
            "app(prog_name='gendersort')")
    out = tmp_path / "results.csv"
    run = subprocess.run([sys.executable, "-c", code, "classify", str(EXAMPLES), "--out", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert (run.returncode, run.stderr, run.stdout) == (1, f"gendersort: error: {NO_RUNTIME}\n", "")
    assert not out.exists()
    helped = subprocess.run([sys.executable, "-c", code, "--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and "classify" in helped.stdout


@needs_cuda
def test_on_cuda_both_models_run_there_and_agree_with_the_cpu():
    on_cuda = FaceAnalyzer(device="cuda")
    assert (on_cuda.detector.model.provider, on_cuda.classifier.model.provider) == (CUDA, CUDA)
    photos = [FIXTURES / "astronaut.png", FIXTURES / "camera.png"]
    cpu = [result.rows() for result in classify_paths(photos, faces="all", device="cpu")]
    cuda = [result.rows() for result in classify_paths(photos, faces="all", analyzer=on_cuda)]
    assert [len(rows) for rows in cuda] == [len(rows) for rows in cpu]
    for cpu_row, cuda_row in zip(sum(cpu, []), sum(cuda, []), strict=True):
        assert cuda_row["label"] == cpu_row["label"]
        assert abs(cuda_row["p_male"] - cpu_row["p_male"]) <= 1e-3


@needs_cuda
def test_cuda_with_no_gpu_visible_is_an_error_that_says_why(tmp_path):
    out = tmp_path / "results.csv"
    run = subprocess.run([sys.executable, "-m", "gendersort", "classify", str(EXAMPLES), "--out", str(out),
                          "--device", "cuda"], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert run.returncode == 1, run.stderr
    (line,) = run.stderr.splitlines()
    assert line.startswith("gendersort: error: --device cuda was asked for, but ")
    assert not out.exists()
