"""The actor: loads the models once (onnxruntime sessions cannot be pickled, so they are built here, in the
actor's process) and classifies each batch with gendersort's own pipeline and threads."""

from __future__ import annotations

import pyarrow as pa

from gendersort.models.registry import model_path
from gendersort.outputs.parquet_parts import RESULT_SCHEMA
from gendersort.pipeline.analysis import FaceAnalyzer
from gendersort.pipeline.api import classify_files, threads_beside
from gendersort.pipeline.reading import PhotoBytes

NO_CONTENT = "no content: the file could not be read"


class PhotoClassifier:
    """One model replica. `cpus` is what Ray gave the actor: it runs that many reading threads, whose
    inferences share those CPUs (os.cpu_count() reports the whole node, so it cannot be asked). `model` is
    the classifier's name, found in this node's installed package (models/registry.py)."""

    def __init__(self, *, faces: str, min_confidence: float, device: str, cpus: int, batch_size: int,
                 model: str) -> None:
        self.analyzer = FaceAnalyzer(device=device, threads=threads_beside(cpus, cores=cpus),
                                     classifier_path=model_path(model))
        self.options = {"faces": faces, "min_confidence": min_confidence, "batch_size": batch_size,
                        "workers": cpus}

    def __call__(self, batch: pa.Table) -> pa.Table:
        photos = [photo_bytes(row) for row in batch.to_pylist()]
        results = classify_files(photos, analyzer=self.analyzer, **self.options)
        rows = [row for result in results for row in result.rows()]
        return pa.Table.from_pylist(rows, schema=RESULT_SCHEMA)


def photo_bytes(row: dict[str, object]) -> PhotoBytes:
    """A row of read_photos (or of any dataset with `path` and `bytes`, read_binary_files' for one)."""
    data = row["bytes"]
    error = row.get("error") or ("" if data is not None else NO_CONTENT)
    return PhotoBytes(path=str(row["path"]), data=data or b"", size=row.get("size"), mtime=row.get("mtime"),
                      error=str(error))
