"""The gender classifier: aligned uint8 chips in, probability of 'male' out, via onnxruntime."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from gendersort.labels import LABELS
from gendersort.models.chip_geometry import ChipGeometry
from gendersort.models.chip_inputs import DlibChipSpec, FaceChips
from gendersort.models.registry import DEFAULT_MODEL, MODEL_FILES
from gendersort.models.session import OnnxModel

CLASSIFIER_PATH = MODEL_FILES[DEFAULT_MODEL]
CUDA_BATCH = 32  # chips per run on CUDA (the default --batch-size)


class GenderClassifier:
    """Reads its contract (chip geometry, label order, version, terms) from the model's own metadata."""

    def __init__(self, device: str = "auto", threads: int | None = None,
                 model_path: Path = CLASSIFIER_PATH, quantized: bool = True) -> None:
        self.model = OnnxModel(model_path, device=device, threads=threads, cuda_batch=CUDA_BATCH,
                               quantized=quantized)
        meta = self.model.metadata
        labels = tuple(json.loads(meta["labels"]))
        if set(labels) != set(LABELS):
            raise ValueError(f"{model_path} predicts {labels}, not {LABELS}")
        self.male_index = labels.index("male")
        self.geometry = ChipGeometry(**json.loads(meta["chip_geometry"]))
        if int(meta["input_size"]) != self.geometry.size:
            raise ValueError(f"{model_path} takes {meta['input_size']} px chips, but its chip geometry cuts "
                             f"{self.geometry.size} px")
        # A graph with a second input (Cydral's chip, v5 on) says in its metadata how to cut that chip.
        inputs = len(self.model.input_names)
        if inputs > 1 and "second_chip" not in meta:
            raise ValueError(f"{model_path} takes {inputs} inputs but its metadata does not say how to cut "
                             "the second chip (second_chip)")
        self.second_chip = DlibChipSpec.from_json(meta["second_chip"]) if inputs > 1 else None
        self.version = meta.get("model_version", "unknown")
        self.terms = meta.get("license", "not stated in the model's metadata")

    def p_male(self, chips: FaceChips | np.ndarray) -> np.ndarray:
        """Probability of 'male' for a batch of faces' chips (FaceAnalyzer.chips), or of aligned chips alone,
        (N, S, S, 3) uint8, for a graph that takes no second chip."""
        if isinstance(chips, np.ndarray):
            chips = FaceChips(chips)
        if len(chips) == 0:
            return np.zeros(0, np.float32)
        batches = [chips.aligned]
        if self.second_chip is not None:
            if chips.second is None:
                raise ValueError(f"{self.model.path.name} also takes each face's second chip: cut the chips "
                                 "with FaceAnalyzer.chips")
            batches.append(chips.second)
        contiguous = [np.ascontiguousarray(batch, dtype=np.uint8) for batch in batches]
        return self.model.run(*contiguous)[0][:, self.male_index]
