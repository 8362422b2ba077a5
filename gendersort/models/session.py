"""onnxruntime sessions behind one small interface, with the metadata written at export time."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from gendersort.models.device import CPU, CUDA, open_session, runtime

MODELS_DIR = Path(__file__).resolve().parent


def quantized_path(path: Path) -> Path:
    """Where the int8 graph of a float graph lies, if it has one: beside it (export/quantize.py). The CPU
    runs it; CUDA keeps the float graph."""
    return path.with_name(f"{path.name.removesuffix('.onnx')}.int8.onnx")


class OnnxModel:
    """One inference session, created once, and the model's metadata (its contract with the runtime).

    On the CPU the int8 graph beside `path` runs where there is one (quantized_path), unless `quantized` is
    False (exports measuring the float graph). On CUDA every run has the same batch size, `cuda_batch` (the
    input cut into such batches, the last one padded): cuDNN searches for its convolution algorithms once
    per input shape, so a shape that changes with every photo would search again and again.
    """

    def __init__(self, path: Path, device: str = "auto", threads: int | None = None,
                 cuda_batch: int | None = None, quantized: bool = True) -> None:
        ort = runtime()
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        int8_path = quantized_path(Path(path))
        cpu_path = int8_path if quantized and int8_path.is_file() else Path(path)
        # without_cuda: why the model is not on CUDA, where auto could not get it (models/device.py)
        self.session, self.without_cuda = open_session(Path(path), options, device, batch=cuda_batch or 1,
                                                       cpu_path=cpu_path)
        self.path = cpu_path if self.provider == CPU else Path(path)  # the graph that runs
        self.int8 = self.path == int8_path
        self.metadata: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)
        self.input_names = [given.name for given in self.session.get_inputs()]
        self.fixed_batch = cuda_batch if self.provider == CUDA else None

    @property
    def provider(self) -> str:
        return self.session.get_providers()[0]

    @property
    def chosen(self) -> str:
        """The providers the session got, first first, and, when auto could not get CUDA, why: one line."""
        providers = ", ".join(self.session.get_providers())
        return f"{providers} (not CUDA: {self.without_cuda})" if self.without_cuda else providers

    def run(self, *batches: np.ndarray) -> list[np.ndarray]:
        """The outputs for one batch per input, in the graph's order of inputs."""
        size, count = self.fixed_batch, len(batches[0])
        if size is None or count == 0:
            return self.session.run(None, dict(zip(self.input_names, batches, strict=True)))
        runs = [self.session.run(None, {name: padded(batch[start:start + size], size)
                                        for name, batch in zip(self.input_names, batches, strict=True)})
                for start in range(0, count, size)]
        return [np.concatenate(parts)[:count] for parts in zip(*runs, strict=True)]


def padded(batch: np.ndarray, size: int) -> np.ndarray:
    """The batch with zero inputs after it, up to `size`."""
    if len(batch) == size:
        return batch
    return np.concatenate([batch, np.zeros((size - len(batch), *batch.shape[1:]), batch.dtype)])
