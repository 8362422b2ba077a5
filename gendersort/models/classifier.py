"""The gender classifier: aligned uint8 chips in, probability of 'male' out, via onnxruntime."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from gendersort.labels import LABELS
from gendersort.models.chip_geometry import ChipGeometry
from gendersort.models.registry import DEFAULT_MODEL, MODEL_FILES
from gendersort.models.session import OnnxModel

CLASSIFIER_PATH = MODEL_FILES[DEFAULT_MODEL]
CUDA_BATCH = 32  # chips per run on CUDA (the default --batch-size)


class GenderClassifier:
    """Reads its contract (chip geometry, label order, version, terms) from the model's own metadata."""

    def __init__(self, device: str = "auto", threads: int | None = None,
                 model_path: Path = CLASSIFIER_PATH) -> None:
        self.model = OnnxModel(model_path, device=device, threads=threads, cuda_batch=CUDA_BATCH)
        meta = self.model.metadata
        labels = tuple(json.loads(meta["labels"]))
        if set(labels) != set(LABELS):
            raise ValueError(f"{model_path} predicts {labels}, not {LABELS}")
        self.male_index = labels.index("male")
        self.geometry = ChipGeometry(**json.loads(meta["chip_geometry"]))
        if int(meta["input_size"]) != self.geometry.size:
            raise ValueError(f"{model_path} takes {meta['input_size']} px chips, but its chip geometry cuts "
                             f"{self.geometry.size} px")
        self.version = meta.get("model_version", "unknown")
        self.terms = meta.get("license", "not stated in the model's metadata")

    def p_male(self, chips: np.ndarray) -> np.ndarray:
        """Probability of 'male' for a (N, S, S, 3) uint8 batch of aligned chips."""
        if len(chips) == 0:
            return np.zeros(0, np.float32)
        return self.model.run(np.ascontiguousarray(chips, dtype=np.uint8))[0][:, self.male_index]
