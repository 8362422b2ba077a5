"""Sorting never loses or overwrites a file: collisions, moves, interrupted runs and their reruns."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from gendersort.cli import app
from gendersort.errors import BadOptionError
from gendersort.outputs.writers import rewrite
from gendersort.sorting.job import MANIFEST_COLUMNS, MANIFEST_NAME, Placement, SortJob, read_manifest
from tests.conftest import FIXTURES, kill_midway, run_obeying_file_permissions

ACCURACY = "gendersort-manifest.accuracy.json"  # each folder's expected accuracy, beside the manifest (#25)


def journal_of(manifest: Path) -> Path:
    return manifest.with_name(manifest.name + ".journal")


def write_journal(destination: Path, placed: list[tuple[Path, Path, str]]) -> None:
    """The journal an interrupted run leaves: a row per file it began to place."""
    rows = [Placement(source, target, "unknown", None, "no_face", action).row()
            for source, target, action in placed]
    rewrite(journal_of(destination / MANIFEST_NAME), "csv", rows, MANIFEST_COLUMNS)


def sort(source, destination, **options) -> list:
    return list(SortJob(source, destination, device="cpu", **options).run())


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files_under(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def no_face_photos(folder: Path, names: list[str]) -> dict[str, str]:
    """Small photos without a face, each with different bytes; their SHA-256 by name."""
    cat = Image.open(FIXTURES / "chelsea.png").convert("RGB").resize((128, 96))
    for index, name in enumerate(names):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        variant = cat.copy()
        variant.putpixel((0, 0), (index % 256, index // 256, 7))
        variant.save(folder / name, "PNG")
    return {name: digest(folder / name) for name in names}


def test_copy_sorts_by_label_keeps_subfolders_and_leaves_unreadable_files(tmp_path):
    source, destination = tmp_path / "photos", tmp_path / "sorted"
    (source / "trip").mkdir(parents=True)
    shutil.copy(FIXTURES / "astronaut.png", source / "astronaut.png")
    shutil.copy(FIXTURES / "camera.png", source / "trip" / "camera.png")
    shutil.copy(FIXTURES / "chelsea.png", source / "trip" / "cat.png")
    (source / "broken.jpg").write_text("not a photo")
    before = {name: digest(source / name) for name in files_under(source)}

    placements = {p.source.name: p for p in sort(source, destination)}

    assert placements["cat.png"].destination == destination / "unknown" / "trip" / "cat.png"
    for name, relative in (("astronaut.png", "astronaut.png"), ("camera.png", "trip/camera.png")):
        label = placements[name].label
        assert label in ("female", "male", "unknown")
        assert placements[name].destination == destination / label / relative
        assert digest(placements[name].destination) == before[relative]
    broken = placements["broken.jpg"]
    assert (broken.destination, broken.status, broken.action) == (None, "error", "left in place")
    after = {name: digest(source / name) for name in files_under(source)}
    assert after == before, "copy leaves SRC as it was"
    manifest = {Path(row["source"]).name: row for row in read_manifest(destination / MANIFEST_NAME)}
    assert manifest["broken.jpg"]["destination"] == "" and "not an image" in manifest["broken.jpg"]["error"]
    assert manifest["cat.png"]["destination"] == str(destination / "unknown" / "trip" / "cat.png")
    assert manifest["astronaut.png"]["label"] == placements["astronaut.png"].label


def test_name_collisions_get_a_suffix_and_nothing_is_overwritten(tmp_path):
    source, destination = tmp_path / "photos", tmp_path / "sorted"
    hashes = no_face_photos(source, ["a/x.png", "b/x.png"])
    (destination / "unknown").mkdir(parents=True)
    (destination / "unknown" / "x.png").write_bytes(b"someone else's file")

    placements = sort(source, destination, flatten=True)

    assert [p.destination.name for p in placements] == ["x (1).png", "x (2).png"]
    assert (destination / "unknown" / "x.png").read_bytes() == b"someone else's file"
    assert digest(destination / "unknown" / "x (1).png") == hashes["a/x.png"]
    assert digest(destination / "unknown" / "x (2).png") == hashes["b/x.png"]


def test_move_removes_the_originals_only_once_they_are_in_place(tmp_path):
    source, destination = tmp_path / "photos", tmp_path / "sorted"
    hashes = no_face_photos(source, ["one.png", "deep/two.png"])
    (source / "broken.png").write_bytes(b"")

    placements = sort(source, destination, mode="move")

    assert [p.action for p in placements] == ["left in place", "move", "move"]
    assert files_under(source) == ["broken.png"], "only the unreadable file stays"
    assert {name: digest(destination / "unknown" / name) for name in hashes} == hashes


def test_link_points_at_the_originals(tmp_path):
    source, destination = tmp_path / "photos", tmp_path / "sorted"
    no_face_photos(source, ["one.png"])
    (placement,) = sort(source, destination, mode="link")
    assert placement.destination.is_symlink()
    assert os.readlink(placement.destination) == str((source / "one.png").absolute())
    assert (source / "one.png").is_file() and not (source / "one.png").is_symlink()


def test_move_of_a_symlink_copies_its_target_and_removes_only_the_link(tmp_path):
    source, destination, elsewhere = tmp_path / "photos", tmp_path / "sorted", tmp_path / "elsewhere"
    hashes = no_face_photos(elsewhere, ["real.png"])
    source.mkdir()
    (source / "link.png").symlink_to(elsewhere / "real.png")
    (placement,) = sort(source, destination, mode="move")
    assert not os.path.lexists(source / "link.png")
    assert digest(elsewhere / "real.png") == hashes["real.png"]
    assert digest(placement.destination) == hashes["real.png"] and not placement.destination.is_symlink()


def test_move_across_filesystems_is_a_verified_copy_then_delete(tmp_path):
    if not os.path.isdir("/dev/shm") or os.stat("/dev/shm").st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on another filesystem than the temporary folder")
    source = tmp_path / "photos"
    hashes = no_face_photos(source, ["one.png"])
    with tempfile.TemporaryDirectory(dir="/dev/shm") as other_disk:
        (placement,) = sort(source, Path(other_disk), mode="move")
        assert placement.action == "move"
        assert digest(placement.destination) == hashes["one.png"]
        assert not (source / "one.png").exists()
        assert [p.name for p in placement.destination.parent.iterdir()] == ["one.png"], "no partial file left"


def test_dry_run_changes_nothing_and_plans_distinct_names(tmp_path):
    source, destination = tmp_path / "photos", tmp_path / "sorted"
    no_face_photos(source, ["a/x.png", "b/x.png"])
    placements = sort(source, destination, mode="move", flatten=True, dry_run=True)
    assert [p.destination for p in placements] == [destination / "unknown" / "x.png",
                                                   destination / "unknown" / "x (1).png"]
    assert not destination.exists()
    assert files_under(source) == ["a/x.png", "b/x.png"]


def test_a_rerun_sorts_nothing_twice(tmp_path):
    source, destination = tmp_path / "photos", tmp_path / "sorted"
    no_face_photos(source, ["one.png", "two.png"])
    sort(source, destination)
    job = SortJob(source, destination, device="cpu")
    assert list(job.run()) == []
    assert job.already_sorted == 2
    assert files_under(destination / "unknown") == ["one.png", "two.png"]


def test_rerun_after_losing_the_record_finds_the_files_already_placed(tmp_path):
    """A run stopped after placing files but before recording them: its journal names them, and the rerun
    only completes the record."""
    source, destination = tmp_path / "photos", tmp_path / "sorted"
    no_face_photos(source, ["one.png", "two.png"])
    sort(source, destination)
    manifest = destination / MANIFEST_NAME
    manifest.rename(journal_of(manifest))  # placed and journaled, never recorded
    assert [p.action for p in sort(source, destination)] == ["copy (found done)"] * 2
    assert files_under(destination) == [ACCURACY, MANIFEST_NAME, "unknown/one.png", "unknown/two.png"]
    assert len(read_manifest(manifest)) == 2


def test_equal_bytes_without_a_record_are_not_taken_for_done(tmp_path):
    """No manifest and no journal: the files in DEST are someone's, however alike; copies get new names."""
    source, destination = tmp_path / "photos", tmp_path / "sorted"
    no_face_photos(source, ["one.png"])
    sort(source, destination)
    (destination / MANIFEST_NAME).unlink()
    assert [p.action for p in sort(source, destination)] == ["copy"]
    assert files_under(destination / "unknown") == ["one (1).png", "one.png"]


def test_rerun_of_a_move_stopped_between_copy_and_delete(tmp_path):
    source, destination = tmp_path / "photos", tmp_path / "sorted"
    hashes = no_face_photos(source, ["one.png"])
    (destination / "unknown").mkdir(parents=True)
    shutil.copy2(source / "one.png", destination / "unknown" / "one.png")  # copied, original not yet deleted
    (destination / "unknown" / ".two.png.gendersort-partial").write_bytes(b"half a cop")  # and a crash debris
    write_journal(destination, [(source / "one.png", destination / "unknown" / "one.png", "move")])
    (placement,) = sort(source, destination, mode="move")
    assert placement.action == "move (found done)"
    assert not (source / "one.png").exists()
    assert digest(destination / "unknown" / "one.png") == hashes["one.png"]
    assert files_under(destination / "unknown") == [".two.png.gendersort-partial", "one.png"]
    assert not journal_of(destination / MANIFEST_NAME).exists(), "the journal goes when the run ends"


def test_rerun_of_a_move_stopped_between_delete_and_record_records_it(tmp_path):
    source, destination = tmp_path / "photos", tmp_path / "sorted"
    hashes = no_face_photos(source, ["one.png", "two.png"])
    (destination / "unknown").mkdir(parents=True)
    (source / "one.png").rename(destination / "unknown" / "one.png")
    write_journal(destination, [(source / "one.png", destination / "unknown" / "one.png", "move")])
    placements = sort(source, destination, mode="move")
    assert [(p.source.name, p.action) for p in placements] == [("one.png", "move (found done)"),
                                                               ("two.png", "move")]
    assert {name: digest(destination / "unknown" / name) for name in hashes} == hashes
    assert sorted(Path(row["source"]).name for row in read_manifest(destination / MANIFEST_NAME)) == [
        "one.png", "two.png"]


def test_a_recorded_file_back_in_source_is_left_alone(tmp_path):
    source, destination = tmp_path / "photos", tmp_path / "sorted"
    hashes = no_face_photos(source, ["one.png"])
    sort(source, destination, mode="move")
    shutil.copy2(destination / "unknown" / "one.png", source / "one.png")  # put back by someone
    job = SortJob(source, destination, mode="move", device="cpu")
    assert list(job.run()) == [] and job.already_sorted == 1
    assert digest(source / "one.png") == hashes["one.png"], "not deleted on the strength of equal bytes"
    assert files_under(destination / "unknown") == ["one.png"]


def test_move_flatten_keeps_both_of_two_identical_files_of_one_name(tmp_path):
    """#23: src/a/dup.png and src/b/dup.png, same bytes: the second was taken for done and deleted."""
    source, destination = tmp_path / "photos", tmp_path / "sorted"
    no_face_photos(source, ["a/dup.png"])
    (source / "b").mkdir()
    shutil.copy2(source / "a" / "dup.png", source / "b" / "dup.png")
    placements = sort(source, destination, mode="move", flatten=True)
    assert [p.action for p in placements] == ["move", "move"]
    assert files_under(source) == []
    assert files_under(destination / "unknown") == ["dup (1).png", "dup.png"]


def test_a_file_dest_already_holds_from_another_source_is_not_taken_for_done(tmp_path):
    source, destination = tmp_path / "photos", tmp_path / "sorted"
    hashes = no_face_photos(source, ["x.png"])
    (destination / "unknown").mkdir(parents=True)
    shutil.copy2(source / "x.png", destination / "unknown" / "x.png")  # the same photo, sorted from elsewhere
    (placement,) = sort(source, destination, mode="move")
    assert (placement.action, placement.destination.name) == ("move", "x (1).png")
    for name in ("x.png", "x (1).png"):
        assert digest(destination / "unknown" / name) == hashes["x.png"]


def test_move_never_deletes_a_file_outside_source(tmp_path):
    """#23: through src/dirlink -> ../outside, outside/o.png was moved out of outside/; now it is copied and
    said so, while a linked file inside SRC still moves as the file it points to."""
    source, destination, outside = tmp_path / "photos", tmp_path / "sorted", tmp_path / "outside"
    hashes = no_face_photos(outside, ["o.png"]) | no_face_photos(source, ["inside.png"])
    (source / "dirlink").symlink_to(outside, target_is_directory=True)
    result = CliRunner().invoke(app, ["sort", str(source), str(destination), "--move", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert f"{source / 'dirlink' / 'o.png'}: copied, not moved: its folder lies outside SRC" in result.output
    assert digest(outside / "o.png") == hashes["o.png"], "never deleted outside SRC"
    assert digest(destination / "unknown" / "dirlink" / "o.png") == hashes["o.png"]
    assert not (source / "inside.png").exists(), "a file of SRC's own still moves"
    actions = {Path(row["source"]).name: row["action"] for row in read_manifest(destination / MANIFEST_NAME)}
    assert actions == {"o.png": "copy (outside SRC)", "inside.png": "move"}


def test_an_original_that_cannot_be_deleted_is_its_files_error_and_the_run_goes_on(tmp_path):
    """#23: an immutable file (chattr +i: not even root may delete it) stopped every sort at itself."""
    source, destination = tmp_path / "photos", tmp_path / "sorted"
    hashes = no_face_photos(source, ["a.png", "stuck.png", "z.png"])
    stuck = source / "stuck.png"
    made = subprocess.run(["chattr", "+i", str(stuck)], capture_output=True, text=True)
    if made.returncode:
        pytest.skip(f"chattr +i does not work here: {made.stderr.strip()}")
    try:
        for _ in range(2):  # the rerun goes on past it too
            result = CliRunner().invoke(app, ["sort", str(source), str(destination), "--move", "--device",
                                              "cpu"])
            assert result.exit_code == 2, result.output
            assert (f"left in place: {stuck}: could not move: the original cannot be deleted "
                    "(Operation not permitted)") in result.output
            assert "Errno" not in result.output
        assert files_under(source) == ["stuck.png"]
        assert files_under(destination) == [ACCURACY, MANIFEST_NAME, "unknown/a.png", "unknown/z.png"]
    finally:
        subprocess.run(["chattr", "-i", str(stuck)], check=True)
    assert digest(stuck) == hashes["stuck.png"]


def test_destination_inside_source_is_never_scanned(tmp_path):
    source = tmp_path / "photos"
    no_face_photos(source, ["one.png", "sub/two.png"])
    destination = source / "sorted"
    sort(source, destination)
    assert sort(source, destination) == []
    sort(source, destination, manifest=tmp_path / "other.csv")  # no record: sorted again, DEST not scanned
    assert files_under(destination) == [ACCURACY, MANIFEST_NAME, "unknown/one (1).png", "unknown/one.png",
                                        "unknown/sub/two (1).png", "unknown/sub/two.png"]


def test_source_inside_a_sorted_folder_is_refused(tmp_path):
    (tmp_path / "sorted" / "male" / "new").mkdir(parents=True)
    with pytest.raises(BadOptionError, match="where sorting writes"):
        SortJob(tmp_path / "sorted" / "male" / "new", tmp_path / "sorted", device="cpu")


def test_move_leaves_a_file_without_read_permission_in_place_and_lists_it(tmp_path):
    """The real command, in a process that file permissions apply to even as root (see conftest); twice."""
    source, destination = tmp_path / "photos", tmp_path / "sorted"
    hashes = no_face_photos(source, ["cat.png", "secret.png"])
    (source / "secret.png").chmod(0)
    try:
        for _ in range(2):
            done = run_obeying_file_permissions("-m", "gendersort", "sort", source, destination, "--move",
                                                "--device", "cpu")
            assert done.returncode == 2, done.stderr
            assert f"left in place: {source / 'secret.png'}: permission denied" in done.stderr
        assert files_under(source) == ["secret.png"]
        assert files_under(destination) == [ACCURACY, MANIFEST_NAME, "unknown/cat.png"]
        assert digest(destination / "unknown" / "cat.png") == hashes["cat.png"]
        left = [row for row in read_manifest(destination / MANIFEST_NAME) if not row["destination"]]
        assert [(Path(row["source"]).name, row["error"]) for row in left] == [
            ("secret.png", "permission denied")]
    finally:
        (source / "secret.png").chmod(0o644)
    assert digest(source / "secret.png") == hashes["secret.png"], "the unreadable file is untouched"


def test_sigkill_during_a_move_then_rerun_loses_nothing(tmp_path):
    source, destination = tmp_path / "photos", tmp_path / "sorted"
    hashes = no_face_photos(source, [f"photo_{index:03d}.png" for index in range(40)])
    manifest = destination / MANIFEST_NAME
    command = [sys.executable, "-m", "gendersort", "sort", str(source), str(destination), "--move",
               "--batch-size", "2", "--device", "cpu", "--quiet"]
    kill_midway(command, manifest, lines=4)
    assert 0 < len(files_under(source)) < len(hashes), "killed halfway"

    result = CliRunner().invoke(app, [*command[3:]])
    assert result.exit_code == 0, result.output
    assert files_under(source) == []
    moved = [path for path in (destination / "unknown").iterdir() if not path.name.startswith(".")]
    assert sorted(digest(path) for path in moved) == sorted(hashes.values()), "every photo once, none twice"
    assert sorted(Path(row["source"]).name for row in read_manifest(manifest)) == sorted(hashes)
