"""The device a model runs on: a session checked for the providers it really got, and why not CUDA.

onnxruntime falls back to the CPU by itself when its CUDA provider cannot start (the CPU build installed,
the CUDA or cuDNN libraries missing, no driver, no GPU): it logs errors, or prints them to stdout, and
carries on. So sessions are made with its fallback off and its log quiet, and each is checked for the
providers it got; `--device cuda` without them stops with one line saying why, `--device auto` runs on
the CPU and says why, except on a CPU-only install, where the CPU is what was installed (there `info` says
how to get CUDA, once, and runs name the device alone). GENDERSORT_DEBUG=1 lets onnxruntime's own log
lines through (on stderr).
"""

from __future__ import annotations

import ctypes
import io
import os
import sys
from contextlib import redirect_stdout
from functools import cache
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from gendersort.errors import FatalError

DEVICES = ("auto", "cpu", "cuda")
CUDA, CPU = "CUDAExecutionProvider", "CPUExecutionProvider"
NO_RUNTIME = ("no onnxruntime installed; it comes with an extra: pip install 'gendersort[cpu]', "
              "or 'gendersort[gpu]' for CUDA")
GPU_INSTALL = "pip uninstall -y onnxruntime onnxruntime-gpu && pip install 'gendersort[gpu]'"
DRIVER = "libcuda.so.1"  # the NVIDIA driver's library: the one part of CUDA that no wheel brings
CUDNN = "libcudnn.so.9"  # onnxruntime-gpu (since 1.19) loads cuDNN 9 itself, when its provider starts
FATAL_ONLY = 4  # onnxruntime's log severity: its errors about CUDA are said here, once, in one line
# onnxruntime (1.29 and later, Linux too) keeps a device id and queues usage events (interpreter, OS, CPU,
# session and model names) under ~/.cache/Microsoft/DeveloperTools/.onnxruntime as soon as it is imported,
# for an uploader it ships; this variable, read at that import, is its whole opt-out.
TELEMETRY_OPT_OUT = "ORT_DISABLE_TELEMETRY"


class DeviceUnavailableError(FatalError):
    """The asked-for device cannot run the models (cuda without a working CUDA)."""


class NoRuntimeError(FatalError, ImportError):
    """Neither onnxruntime nor onnxruntime-gpu is installed: a bare `pip install gendersort`."""


def debugging() -> bool:
    """GENDERSORT_DEBUG set (and not 0): onnxruntime's own log lines are let through."""
    return os.environ.get("GENDERSORT_DEBUG", "0") != "0"


def keep_telemetry_off() -> None:
    """Photos are private: onnxruntime's telemetry off in this process and those it starts, unless the
    user has set its variable. Must run before onnxruntime is first imported (runtime() does it)."""
    os.environ.setdefault(TELEMETRY_OPT_OUT, "1")


@cache
def runtime() -> ModuleType:
    """onnxruntime, imported here (the one place gendersort imports it, its telemetry off first) so that
    without it a command says which extra to install."""
    keep_telemetry_off()
    try:
        import onnxruntime
    except ModuleNotFoundError as missing:
        if missing.name != "onnxruntime":
            raise
        raise NoRuntimeError(NO_RUNTIME) from None
    if not debugging():
        onnxruntime.set_default_logger_severity(FATAL_ONLY)
    return onnxruntime


@cache
def load_cuda_libraries() -> None:
    """NVIDIA's CUDA and cuDNN wheels (the gpu extra) keep their libraries where the loader does not look:
    onnxruntime's preload_dlls loads them first. What it prints (a library it cannot find) goes to stderr
    when debugging, else nowhere: why_not_cuda names the first missing library."""
    with redirect_stdout(sys.stderr if debugging() else io.StringIO()):
        runtime().preload_dlls()


def open_session(path: Path, options: Any, device: str, batch: int = 1,
                 cpu_path: Path | None = None) -> tuple[Any, str | None]:
    """A session of the model at `path` on `device`, and why it is not on CUDA where auto could not get
    CUDA (else None). On CUDA it has run once on `batch` zero inputs (cuDNN loads at the first run).
    Where the session ends on the CPU, it runs `cpu_path` instead when given (the int8 graph).

    Raises DeviceUnavailableError, saying why, when cuda was asked for and the session did not get it.
    """
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    ort = runtime()
    if not debugging():
        options.log_severity_level = FATAL_ONLY
    session, failure = None, None
    cpu_path = cpu_path or path
    if device != "cpu" and CUDA in ort.get_available_providers():
        session, failure = cuda_session(path, options, batch)
        if session is not None and CUDA in session.get_providers():
            return session, None
    if device == "cpu":
        return cpu_session(cpu_path, options), None
    why = why_not_cuda(failure)
    if device == "cuda":
        raise DeviceUnavailableError(f"--device cuda was asked for, but {why}")
    if session is None or cpu_path != path:
        session = cpu_session(cpu_path, options)
    return session, None if cpu_build_only() else why


def cpu_build_only() -> bool:
    """onnxruntime's CPU build alone is installed: a CPU install, nothing gone wrong that a run should tell
    (both builds at once, or the GPU build without its CUDA, are)."""
    return CUDA not in runtime().get_available_providers() and not installed("onnxruntime-gpu")


def cpu_session(path: Path, options: Any) -> Any:
    return runtime().InferenceSession(str(path), options, providers=[CPU], enable_fallback=0)


def cuda_session(path: Path, options: Any, batch: int) -> tuple[Any | None, str | None]:
    """A session asked for CUDA (onnxruntime may still give it the CPU alone), run once when on CUDA; or
    None and onnxruntime's error when its CUDA provider loaded but could not start or run."""
    load_cuda_libraries()
    try:
        session = runtime().InferenceSession(str(path), options, providers=[CUDA, CPU], enable_fallback=0)
        if CUDA in session.get_providers():
            # the models take uint8 (their contract), fixed but for the batch
            session.run(None, {given.name: np.zeros((batch, *given.shape[1:]), np.uint8)
                               for given in session.get_inputs()})
    except Exception as error:  # onnxruntime's own exception types are not RuntimeError's
        return None, (str(error).strip().splitlines() or [type(error).__name__])[-1]
    return session, None


def why_not_cuda(failure: str | None) -> str:
    """Why CUDA is not running here, in a line: no GPU build, a missing library (the first one), no driver,
    or onnxruntime's error when CUDA could not start (no GPU, an old driver)."""
    ort = runtime()
    if CUDA not in ort.get_available_providers():
        if installed("onnxruntime") and installed("onnxruntime-gpu"):
            return ("onnxruntime and onnxruntime-gpu are both installed, and the CPU build's files won; "
                    f"for CUDA: {GPU_INSTALL}")
        return f"onnxruntime {ort.__version__} here is the CPU build; for CUDA: {GPU_INSTALL}"
    missing = missing_library(*Path(ort.__file__).parent.glob("capi/*onnxruntime_providers_cuda.*"), CUDNN)
    if missing == DRIVER:
        return f"there is no NVIDIA driver: {DRIVER} not found"
    if missing:
        return (f"{missing} does not load: onnxruntime-gpu needs its build's CUDA and cuDNN libraries, "
                "which pip install 'gendersort[gpu]' brings")
    if failure:
        return f"CUDA could not start: {failure}"
    return "onnxruntime did not give the session its CUDA provider; GENDERSORT_DEBUG=1 shows its log"


def installed(distribution: str) -> bool:
    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


def missing_library(*libraries: str | Path) -> str | None:
    """The first library that the first of `libraries` not to load needs and the loader cannot find (the
    library itself if it is the one not found), or None when all load."""
    for library in libraries:
        try:
            ctypes.CDLL(str(library))
        except OSError as error:  # "libcublasLt.so.13: cannot open shared object file: No such file ..."
            return str(error).split(":")[0].strip()
    return None
