"""The Ray Data engine: gendersort's own per-photo core on a Ray cluster, from a local folder or an object
store (s3://, gs://, through pyarrow.fs) to a Parquet dataset. Needs the extra: pip install 'gendersort[ray]'.

    import ray
    from gendersort.engines.ray import classify_dataset, read_photos

    ray.init()
    rows = classify_dataset(read_photos("s3://bucket/photos"))   # a ray.data.Dataset, RESULT_SCHEMA
    rows.write_parquet("s3://bucket/results")                    # or keep building the pipeline

`gendersort classify SRC --engine ray --out DEST` (job.py) adds what a scheduled run needs on top: resume
without duplicates, one Parquet file per batch of rows written atomically, quiet terminal output.
"""

from gendersort.engines.ray.dataset import classify_dataset, read_photos
from gendersort.outputs.parquet_parts import RESULT_SCHEMA

__all__ = ["RESULT_SCHEMA", "classify_dataset", "read_photos"]
