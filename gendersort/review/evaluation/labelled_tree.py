"""A labelled tree, `DIR/male/...` and `DIR/female/...`, read as a labels file whose labels are the folders'
names: `evaluate DIR` then scores exactly as `evaluate --labels` does (one path, the same figures)."""

from __future__ import annotations

import os
from pathlib import Path

from gendersort.errors import BadOptionError
from gendersort.labels import LABELS
from gendersort.photos.walk import find_images
from gendersort.review.evaluation.labels_file import LabelledPhoto, LabelsFile, photo_key


def labelled_folders(root: str | Path) -> list[tuple[str, Path]]:
    """(true label, folder) for root's folders named female and male in any case (`Male/`, `FEMALE/`),
    those that exist, in that order; a root with neither is refused here, before any model is loaded."""
    root = Path(root)
    folders = sorted((entry.name.lower(), Path(entry.path)) for entry in os.scandir(root)
                     if entry.name.lower() in LABELS and entry.is_dir())
    if not folders:
        raise BadOptionError(f"{root} has neither a male/ nor a female/ folder (in any case); evaluate needs "
                             "such a tree, or a labels file: evaluate --labels labels.csv (path,label)")
    return folders


def read_tree(root: str | Path) -> LabelsFile:
    """Every photo in root's male/ and female/ folders (found by classify's walk), labelled by its folder."""
    return LabelsFile([LabelledPhoto(photo_key(str(found.path)), truth, ())
                       for truth, folder in labelled_folders(root) for found in find_images([folder])])
