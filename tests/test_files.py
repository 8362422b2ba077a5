"""Walking folder trees: which files are taken, in what order, and how links and dead ends are reported."""

from __future__ import annotations

import io
import json
import shutil

import pytest
from PIL import Image

from gendersort.photos.walk import MissingPathError, find_images, sniff_format
from tests.conftest import FIXTURES, run_obeying_file_permissions


def encoded(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(("fmt", "expected"), [
    ("JPEG", "JPEG"), ("PNG", "PNG"), ("GIF", "GIF"), ("WEBP", "WEBP"), ("TIFF", "TIFF"), ("BMP", "BMP"),
    ("AVIF", "AVIF"),
])
def test_formats_are_told_by_their_bytes(fmt, expected):
    assert sniff_format(encoded(Image.new("RGB", (16, 16), "red"), fmt)[:32]) == expected


def test_heif_and_non_images_are_told_by_their_bytes():
    heic_head = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
    assert sniff_format(heic_head) == "HEIF"
    assert sniff_format(b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf") == "AVIF"
    assert sniff_format(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2") is None  # an MP4 video
    assert sniff_format(b"hello, this is text") is None
    assert sniff_format(b"BM but not a bitmap header") is None
    assert sniff_format(b"") is None


def paths(found) -> list[str]:
    return [str(item.path) for item in found]


def test_order_is_sorted_and_recursion_optional(tmp_path):
    for name in ["b.png", "a/z.png", "a/b/y.png", "c.png", "A.png"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURES / "chelsea.png", tmp_path / name)
    expected = ["A.png", "a/b/y.png", "a/z.png", "b.png", "c.png"]
    assert paths(find_images([tmp_path])) == [str(tmp_path / name) for name in expected]
    top_level = ["A.png", "b.png", "c.png"]
    assert paths(find_images([tmp_path], recursive=False)) == [str(tmp_path / name) for name in top_level]


def test_files_are_chosen_by_content_or_by_a_photo_name(tmp_path):
    shutil.copy(FIXTURES / "chelsea.png", tmp_path / "IMG_0001")  # a photo without extension: taken
    (tmp_path / "broken.jpg").write_text("not a photo")  # claims to be one: taken, to be reported
    (tmp_path / "notes.txt").write_text("shopping list")  # neither: passed over
    (tmp_path / "empty.png").write_bytes(b"")
    taken = ["IMG_0001", "broken.jpg", "empty.png"]
    assert paths(find_images([tmp_path])) == [str(tmp_path / name) for name in taken]
    # A file named on the command line is always taken.
    assert paths(find_images([tmp_path / "notes.txt"])) == [str(tmp_path / "notes.txt")]


def test_found_files_carry_size_and_mtime(tmp_path):
    shutil.copy(FIXTURES / "chelsea.png", tmp_path / "cat.png")
    (item,) = find_images([tmp_path])
    status = (tmp_path / "cat.png").stat()
    assert (item.size, item.mtime, item.error) == (status.st_size, status.st_mtime, "")


def test_excluded_folder_is_never_entered(tmp_path):
    shutil.copy(FIXTURES / "chelsea.png", tmp_path / "cat.png")
    (tmp_path / "sorted" / "male").mkdir(parents=True)
    shutil.copy(FIXTURES / "camera.png", tmp_path / "sorted" / "male" / "camera.png")
    assert paths(find_images([tmp_path], exclude=[tmp_path / "sorted"])) == [str(tmp_path / "cat.png")]


def test_links_are_followed_and_dead_ends_reported(tmp_path):
    shutil.copy(FIXTURES / "chelsea.png", tmp_path / "cat.png")
    (tmp_path / "link.png").symlink_to(tmp_path / "cat.png")
    (tmp_path / "gone.jpg").symlink_to(tmp_path / "missing.jpg")
    (tmp_path / "loop_a.jpg").symlink_to(tmp_path / "loop_b.jpg")
    (tmp_path / "loop_b.jpg").symlink_to(tmp_path / "loop_a.jpg")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "up").symlink_to(tmp_path, target_is_directory=True)
    found = {item.path.name: item for item in find_images([tmp_path])}
    assert found["link.png"].error == "" and found["link.png"].size == (tmp_path / "cat.png").stat().st_size
    assert found["gone.jpg"].error.startswith("broken symbolic link")
    assert found["loop_a.jpg"].error == "symbolic link loop"
    assert found["loop_b.jpg"].error == "symbolic link loop"
    assert "loop" in found["up"].error, "a folder linking to its ancestor is reported, not walked forever"
    assert sorted(found) == ["cat.png", "gone.jpg", "link.png", "loop_a.jpg", "loop_b.jpg", "up"]


def test_unicode_and_spaces_in_names(tmp_path):
    name = "Zoë und Jürgen — 海滩 2024.png"
    (tmp_path / "Fotos von Oma").mkdir()
    shutil.copy(FIXTURES / "chelsea.png", tmp_path / "Fotos von Oma" / name)
    assert paths(find_images([tmp_path])) == [str(tmp_path / "Fotos von Oma" / name)]


def test_empty_folder_gives_nothing(tmp_path):
    assert list(find_images([tmp_path])) == []


def test_missing_path_is_an_error_before_the_walk(tmp_path):
    with pytest.raises(MissingPathError, match="no such file or folder"):
        find_images([tmp_path, tmp_path / "nope"])


WALK = "import json, sys; from gendersort.photos.walk import find_images; " \
       "print(json.dumps([(str(item.path), item.error) for item in find_images(sys.argv[1:])]))"


def test_unreadable_folder_is_reported(tmp_path):
    """In a process that permissions apply to, even when the tests run as root (see conftest)."""
    locked = tmp_path / "locked"
    (locked / "inside").mkdir(parents=True)
    shutil.copy(FIXTURES / "chelsea.png", locked / "inside" / "cat.png")
    locked.chmod(0)
    try:
        done = run_obeying_file_permissions("-c", WALK, tmp_path)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == [[str(locked), "permission denied"]]
    finally:
        locked.chmod(0o755)
