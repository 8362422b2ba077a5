"""onnxruntime sessions behind one small interface, with the metadata written at export time."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnxruntime as ort

MODELS_DIR = Path(__file__).resolve().parent
DEVICES = ("auto", "cpu", "cuda")


class DeviceUnavailableError(RuntimeError):
    """The asked-for device cannot run the models (e.g. cuda without onnxruntime-gpu)."""


def providers_for(device: str) -> list[str]:
    """Execution providers for a device name; cuda never falls back to CPU silently."""
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    available = ort.get_available_providers()
    has_cuda = "CUDAExecutionProvider" in available
    if device == "cuda" and not has_cuda:
        raise DeviceUnavailableError(
            "--device cuda was asked for, but onnxruntime offers only "
            f"{', '.join(available)}; install the gpu extra (onnxruntime-gpu, without onnxruntime)"
        )
    if device == "cuda" or (device == "auto" and has_cuda):
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class OnnxModel:
    """One inference session, created once, and the model's metadata (its contract with the runtime).

    On CUDA every run has the same batch size, `cuda_batch` (the input cut into such batches, the last
    one padded): cuDNN searches for its convolution algorithms once per input shape, so a shape that
    changes with every photo would search again and again.
    """

    def __init__(self, path: Path, device: str = "auto", threads: int | None = None,
                 cuda_batch: int | None = None) -> None:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), options, providers=providers_for(device))
        self.metadata: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)
        self.input_name = self.session.get_inputs()[0].name
        self.fixed_batch = cuda_batch if self.provider == "CUDAExecutionProvider" else None

    @property
    def provider(self) -> str:
        return self.session.get_providers()[0]

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        size = self.fixed_batch
        if size is None or len(batch) == 0:
            return self.session.run(None, {self.input_name: batch})
        runs = [self.session.run(None, {self.input_name: padded(batch[start:start + size], size)})
                for start in range(0, len(batch), size)]
        return [np.concatenate(parts)[:len(batch)] for parts in zip(*runs, strict=True)]


def padded(batch: np.ndarray, size: int) -> np.ndarray:
    """The batch with zero inputs after it, up to `size`."""
    if len(batch) == size:
        return batch
    return np.concatenate([batch, np.zeros((size - len(batch), *batch.shape[1:]), batch.dtype)])
