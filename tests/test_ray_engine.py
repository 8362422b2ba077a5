"""The Ray engine on a real local cluster (2 CPUs) with gendersort's real models: every file one row, equal to
local classify's; photos read from and rows written to a real S3-compatible server on 127.0.0.1; a killed
actor retried; the Dataset-in, Dataset-out function for users' own pipelines; a default pool that leaves
a CPU to reads and writes, a run that finishes when the actors hold every CPU, and an actor that fits on no
node refused; a small job cut so that every actor gets blocks; an existing destination kept unless resumed
or overwritten."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.ray_support import by_key, local_rows, make_many, make_tree, need_ray, pids_with

need_ray()

import pyarrow.dataset as pads  # noqa: E402
import pyarrow.fs as pafs  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import ray  # noqa: E402
import ray.data  # noqa: E402

from gendersort.cli import app  # noqa: E402
from gendersort.engines.ray import RESULT_SCHEMA, classify_dataset, read_photos  # noqa: E402
from gendersort.engines.ray.job import classify_to_parquet  # noqa: E402
from gendersort.engines.ray.resources import BLOCKS_PER_ACTOR, ActorPlan, block_photos, plan_actors  # noqa: E402
from gendersort.errors import BadOptionError, FatalError  # noqa: E402
from gendersort.outputs.parquet_parts import dest_files  # noqa: E402
from gendersort.outputs.writers import OutputExistsError  # noqa: E402

# A fake account for the S3 server the tests start; no request may leave for AWS's metadata service.
AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
       "AWS_EC2_METADATA_DISABLED": "true", "RAY_USAGE_STATS_ENABLED": "0"}
ACTOR = "ray::MapWorker(MapBatches(PhotoClassifier))"


@pytest.fixture(scope="module", autouse=True)
def cluster():
    """One local cluster for the module; the workers it starts inherit the environment set here."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in AWS.items():
            patch.setenv(name, value)
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            yield
        finally:
            ray.shutdown()


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_tree(tmp_path_factory.mktemp("ray") / "photos")


def parquet_rows(dest: str, filesystem: pafs.FileSystem | None = None) -> list[dict[str, object]]:
    parts, _ = dest_files(filesystem or pafs.LocalFileSystem(), dest)
    for part in parts:
        assert pq.read_schema(part, filesystem=filesystem).equals(RESULT_SCHEMA), "the explicit schema"
    return by_key(pads.dataset(parts, filesystem=filesystem, format="parquet").to_table().to_pylist())


@pytest.mark.parametrize("faces", ["largest", "all"])
def test_every_file_gets_the_rows_local_classify_gives_it(tree, tmp_path, faces):
    dest = str(tmp_path / "results")
    run = classify_to_parquet(str(tree), dest, faces=faces, photos_per_block=3)
    rows = parquet_rows(dest)
    assert rows == local_rows(tree, faces)
    paths = {Path(str(row["path"])).relative_to(tree).as_posix() for row in rows}
    assert {"_private/camera.png", "sub/.hidden.png", "sub/café ☕ 写真.png", "corrupt.png"} <= paths
    assert len(paths) == 7 == run.written.files, "every photo once, notes.txt none"
    corrupt = next(row for row in rows if str(row["path"]).endswith("corrupt.png"))
    assert corrupt["status"] == "error" and "cannot decode" in str(corrupt["error"])


def test_photos_from_s3_and_rows_back_to_s3(tree):
    moto = pytest.importorskip("moto.server", reason="needs moto[server], from the test extra")
    server = moto.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        s3 = pafs.S3FileSystem(endpoint_override=f"{host}:{port}", scheme="http", region="us-east-1",
                               allow_bucket_creation=True)
        s3.create_dir("bucket")
        uploaded = [path for path in sorted(tree.rglob("*")) if path.is_file()]
        for path in uploaded:
            with s3.open_output_stream(f"bucket/photos/{path.relative_to(tree).as_posix()}") as stream:
                stream.write(path.read_bytes())
        options = f"?endpoint_override={host}:{port}&scheme=http"
        run = classify_to_parquet(f"s3://bucket/photos{options}", f"s3://bucket/results{options}",
                                  photos_per_block=3)
        assert (run.listed, run.written.files) == (len(uploaded), len(uploaded) - 1), "notes.txt passed over"
        rows = parquet_rows("bucket/results", s3)
        rerun = classify_to_parquet(f"s3://bucket/photos{options}", f"s3://bucket/results{options}",
                                    resume=True)
        assert (rerun.done_before, rerun.written.files) == (len(uploaded) - 1, 0)
        assert parquet_rows("bucket/results", s3) == rows
    finally:
        server.stop()
    local = {row["path"]: row for row in local_rows(tree)}
    for row in rows:
        path = str(row["path"])
        assert path.startswith("s3://bucket/photos/")
        twin = local[str(tree / path.removeprefix("s3://bucket/photos/"))]
        assert {**row, "path": twin["path"], "mtime": twin["mtime"]} == twin, path
        assert isinstance(row["mtime"], float)


def test_an_actor_killed_midway_is_replaced_and_its_photos_done_once(tmp_path):
    photos = make_many(tmp_path / "many", 24)
    dest = tmp_path / "results"
    killed: list[int] = []

    def kill_the_actor_after_the_first_part() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            if list(dest.glob("part-*.parquet")) and (pids := pids_with(ACTOR, "cmdline")):
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
            time.sleep(0.01)

    killer = threading.Thread(target=kill_the_actor_after_the_first_part)
    killer.start()
    run = classify_to_parquet(str(photos), str(dest), photos_per_block=4, rows_per_file=1)
    killer.join()
    assert killed, "the actor was killed while there was work left"
    assert run.written.files == 24
    assert parquet_rows(str(dest)) == local_rows(photos)


def test_a_dataset_in_and_a_dataset_out(tree):
    listed = classify_dataset(read_photos(str(tree), photos_per_block=4)).take_all()
    assert by_key(listed) == local_rows(tree)
    # A pipeline of the user's own: Ray's reader gives no size or mtime (and passes over _private/ and
    # .hidden.png), and the rows of the photos it gives are local classify's all the same.
    own = ray.data.read_binary_files(str(tree / "sub"), include_paths=True)
    rows = by_key(classify_dataset(own).take_all())
    assert rows, "Ray's reader gave photos"
    local = {row["path"]: row for row in local_rows(tree / "sub")}
    for row in rows:
        twin = local[str(row["path"])]
        assert (row["size"], row["mtime"]) == (None, None)
        assert {**row, "size": twin["size"], "mtime": twin["mtime"]} == twin


def test_a_pool_that_holds_every_cpu_still_reads_and_writes(tmp_path):
    """As after a lost node, whose actors are started again on the nodes left and fill their CPUs: the read
    and write tasks ask for no CPU, so they still run (while they asked for a quarter of one, the run waited
    forever)."""
    assert plan_actors() == ActorPlan(actors=1, cpus=1, gpus=0), "2 CPUs: one for the actor, one for I/O"
    with pytest.raises(BadOptionError, match="more than the cluster's 2 CPUs"):
        plan_actors(actors=3, cpus=1)
    with pytest.raises(BadOptionError, match="fits on no node of the cluster \\(the largest has 2 CPUs\\)"):
        plan_actors(actors=1, cpus=3)  # it would wait for good, as a resumed run's after a lost node would
    with pytest.raises(BadOptionError, match="GPU"):
        plan_actors(device="cuda")
    photos = make_many(tmp_path / "few", 12)
    dest = str(tmp_path / "results")
    run = classify_to_parquet(str(photos), dest, actors=2, actor_cpus=1, photos_per_block=3, rows_per_file=3)
    assert run.written.files == 12
    assert parquet_rows(dest) == local_rows(photos)


def test_a_small_job_is_cut_so_that_every_actor_gets_blocks():
    """150 photos on 3 actors in blocks of 64 are 3 blocks: Ray Data lets an actor go once no block is left
    for it, and a quarter of the way in only one or two were still busy. Cut smaller, each gets several."""
    assert block_photos(150, 3, 64) == 12
    assert block_photos(100_000, 3, 64) == 64, "a large job keeps the largest blocks"
    assert block_photos(2, 4, 64) == 1
    for photos in (1, 7, 150, 500, 1001):
        for actors in (1, 3, 16):
            size = block_photos(photos, actors, 64)
            assert 1 <= size <= 64
            assert -(-photos // size) >= min(photos, actors * BLOCKS_PER_ACTOR)


def test_an_existing_destination_is_kept_unless_resumed_or_overwritten(tmp_path):
    photos = make_many(tmp_path / "few", 3)
    dest = str(tmp_path / "results")
    classify_to_parquet(str(photos), dest)
    first = parquet_rows(dest)
    with pytest.raises(OutputExistsError):
        classify_to_parquet(str(photos), dest)
    (photos / "photo-000.jpg").unlink()
    again = classify_to_parquet(str(photos), dest, overwrite=True)
    assert again.written.files == 2 and parquet_rows(dest) == first[1:]


def test_resume_with_other_faces_is_refused_in_one_line(tmp_path):
    """#23: the Ray engine never rewrites DEST's parts, so a run resumed with another --faces is refused
    before the cluster starts, as one with another --model is."""
    photos = make_many(tmp_path / "few", 2)
    dest = tmp_path / "results.parquet"
    done = CliRunner().invoke(app, ["classify", str(photos), "--out", str(dest), "--device", "cpu"])
    assert done.exit_code == 0, done.output
    with pytest.raises(FatalError, match=r"holds rows of --faces main, not all; resume with --faces main"):
        classify_to_parquet(str(photos), str(dest), resume=True, faces="all")
    assert classify_to_parquet(str(photos), str(dest), resume=True, faces="largest").done_before == 2
