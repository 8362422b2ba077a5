"""The gender classifiers gendersort ships, by the names `--model` and `model=` take: a name to a file.

Everything else about a model (its version, terms, chip geometry, labels and input size) is read from the
file's own ONNX metadata, so a model is added by exporting it and naming its file here.
"""

from __future__ import annotations

from pathlib import Path

from gendersort.errors import BadOptionError, FatalError
from gendersort.models.session import MODELS_DIR

DEFAULT_MODEL = "default"
# default: weights for non-commercial research only; open: every input it is built from allows commercial use.
MODEL_FILES = {DEFAULT_MODEL: MODELS_DIR / "gender.onnx", "open": MODELS_DIR / "gender-open.onnx"}
MODELS = tuple(MODEL_FILES)


class ModelMissingError(FatalError):
    """A shipped model's file is not where the package puts it (a broken or partial install)."""


def model_path(name: str) -> Path:
    """The file of the model called `name`; an unknown name or a missing file is a one-line error."""
    if name not in MODEL_FILES:
        raise BadOptionError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    path = MODEL_FILES[name]
    if not path.is_file():
        raise ModelMissingError(f"the {name} model is not installed: {path} is missing")
    return path
