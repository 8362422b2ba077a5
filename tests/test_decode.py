"""Bad and unusual input: every file gets a row, broken ones an error that says why, and the run goes on.

Each case is a folder holding the file under test next to a good photo (chelsea.png, a cat: no face);
the good photo's row shows that the run went on past the bad one.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import struct
import zlib
from importlib.util import find_spec

import numpy as np
import pytest
from PIL import Image, features

from gendersort.photos.decode import HEIF_HINT, NOT_AN_IMAGE
from gendersort.pipeline.api import classify_paths
from tests.conftest import FIXTURES, STORED, run_obeying_file_permissions, save_upright

ASTRONAUT = FIXTURES / "astronaut.png"
BOX_TOLERANCE = 8.0


def run(folder):
    """Classify a folder; the results by file name, after checking the good photo got through."""
    results = {os.path.basename(result.path): result for result in classify_paths([folder], device="cpu")}
    assert results.pop("good.png").status == "no_face", "the run goes on past the bad file"
    return results


def folder_with(tmp_path, name: str, content: bytes | None = None):
    shutil.copy(FIXTURES / "chelsea.png", tmp_path / "good.png")
    if content is not None:
        (tmp_path / name).write_bytes(content)
    return tmp_path / name


def jpeg_bytes(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def blank_png(width: int, height: int) -> bytes:
    """A valid, all-black greyscale PNG of any size, built without holding its pixels in memory."""
    compressor = zlib.compressobj(1)
    row = b"\x00" * (width + 1)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunks = png_chunk(b"IHDR", header) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


@pytest.fixture(scope="module")
def upright_box():
    (result,) = classify_paths([ASTRONAUT], device="cpu")
    return np.array(result.chosen.box)


def assert_face_found(result, upright_box):
    assert result.status == "ok" and result.face_count == 1, result
    assert np.abs(np.array(result.chosen.box) - upright_box).max() < BOX_TOLERANCE


# --- broken files: status error, a clear message ---

def test_zero_byte_file(tmp_path):
    folder_with(tmp_path, "empty.jpg", b"")
    assert run(tmp_path)["empty.jpg"].error == "empty file (0 bytes)"


def test_truncated_jpeg(tmp_path):
    whole = jpeg_bytes(Image.open(ASTRONAUT).convert("RGB"))
    folder_with(tmp_path, "cut.jpg", whole[: len(whole) // 2])
    result = run(tmp_path)["cut.jpg"]
    assert result.status == "error" and "JPEG" in result.error and "truncated" in result.error


def test_random_bytes_named_jpg(tmp_path):
    folder_with(tmp_path, "noise.jpg", np.random.default_rng(0).bytes(5000))
    result = run(tmp_path)["noise.jpg"]
    assert (result.status, result.error) == ("error", NOT_AN_IMAGE)


def test_text_file_named_png(tmp_path):
    folder_with(tmp_path, "notes.png", b"Dear diary,\nthis is not a photo.\n")
    result = run(tmp_path)["notes.png"]
    assert (result.status, result.error) == ("error", NOT_AN_IMAGE)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow's own; the CLI hides it
@pytest.mark.parametrize(("width", "height"), [(10000, 9000), (20000, 9000)],
                         ids=["over-warning-limit", "over-error-limit"])
def test_image_over_decompression_bomb_limit(tmp_path, width, height):
    assert width * height > Image.MAX_IMAGE_PIXELS
    folder_with(tmp_path, "huge.png", blank_png(width, height))
    result = run(tmp_path)["huge.png"]
    assert result.status == "error" and "decompression bomb" in result.error


@pytest.mark.skipif(find_spec("pillow_heif") is not None, reason="pillow-heif is installed here")
def test_heic_without_the_heif_extra_says_how_to_enable_it(tmp_path):
    folder_with(tmp_path, "phone.heic", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(200))
    result = run(tmp_path)["phone.heic"]
    assert (result.status, result.error) == ("error", HEIF_HINT)


def test_file_without_read_permission(tmp_path):
    """Through the real command, in a process that permissions apply to even when the tests run as root.

    Without an extension, an unreadable file's bytes cannot tell whether it is a photo: it is reported too;
    so is a folder that cannot be listed.
    """
    (tmp_path / "locked").mkdir()
    shutil.copy(ASTRONAUT, tmp_path / "locked" / "inside.png")
    for name in ("secret.png", "IMG_0002"):
        shutil.copy(ASTRONAUT, folder_with(tmp_path, name))
    for name in ("secret.png", "IMG_0002", "locked"):
        (tmp_path / name).chmod(0)
    try:
        done = run_obeying_file_permissions("-m", "gendersort", "classify", tmp_path, "--device", "cpu")
    finally:
        (tmp_path / "locked").chmod(0o755)
    rows = {os.path.basename(row["path"]): row for row in csv.DictReader(io.StringIO(done.stdout))}
    assert done.returncode == 2, done.stderr
    assert {name: (row["status"], row["error"]) for name, row in rows.items()} == {
        "IMG_0002": ("error", "permission denied"), "good.png": ("no_face", ""),
        "locked": ("error", "permission denied"), "secret.png": ("error", "permission denied"),
    }, "the run goes on past the unreadable files"
    assert f"{tmp_path / 'secret.png'}: permission denied" in done.stderr


def test_broken_symlink(tmp_path):
    folder_with(tmp_path, "gone.jpg").symlink_to(tmp_path / "deleted.jpg")
    result = run(tmp_path)["gone.jpg"]
    assert result.status == "error" and result.error.startswith("broken symbolic link")


def test_symlink_loop(tmp_path):
    folder_with(tmp_path, "a.jpg").symlink_to(tmp_path / "b.jpg")
    (tmp_path / "b.jpg").symlink_to(tmp_path / "a.jpg")
    results = run(tmp_path)
    assert {name: result.error for name, result in results.items()} == {
        "a.jpg": "symbolic link loop", "b.jpg": "symbolic link loop"}


# --- unusual but valid photos: decoded, and the face found where it is in the upright photo ---

@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF", pytest.param("AVIF", marks=(
    pytest.mark.skipif(not features.check("avif"), reason="this Pillow has no AVIF support")))])
def test_every_format_is_decoded_by_its_content_whatever_its_name(tmp_path, upright_box, fmt):
    buffer = io.BytesIO()
    Image.open(ASTRONAUT).convert("RGB").save(buffer, fmt)
    folder_with(tmp_path, "photo.dat", buffer.getvalue())  # a name that says nothing: the bytes decide
    assert_face_found(run(tmp_path)["photo.dat"], upright_box)


def test_cmyk_jpeg(tmp_path, upright_box):
    folder_with(tmp_path, "print.jpg", jpeg_bytes(Image.open(ASTRONAUT).convert("CMYK")))
    assert Image.open(tmp_path / "print.jpg").mode == "CMYK"
    assert_face_found(run(tmp_path)["print.jpg"], upright_box)


def test_16_bit_png(tmp_path, upright_box):
    grey = np.asarray(Image.open(ASTRONAUT).convert("L"), np.uint16) * 257
    Image.fromarray(grey).save(folder_with(tmp_path, "deep.png"))
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    assert_face_found(run(tmp_path)["deep.png"], upright_box)


def test_palette_png_with_transparency(tmp_path, upright_box):
    palette = Image.open(ASTRONAUT).convert("RGB").quantize(256)
    palette.save(folder_with(tmp_path, "palette.png"), transparency=int(palette.getpixel((0, 0))))
    reopened = Image.open(tmp_path / "palette.png")
    assert reopened.mode == "P" and "transparency" in reopened.info
    assert_face_found(run(tmp_path)["palette.png"], upright_box)


def test_greyscale(tmp_path):
    shutil.copy(FIXTURES / "camera.png", folder_with(tmp_path, "camera.png"))
    assert Image.open(tmp_path / "camera.png").mode == "L"
    result = run(tmp_path)["camera.png"]
    assert result.status == "ok" and result.face_count == 1


@pytest.mark.parametrize("orientation", sorted(STORED))
def test_exif_orientation_finds_the_face_as_upright(tmp_path, upright_box, orientation):
    save_upright(Image.open(ASTRONAUT).convert("RGB"), folder_with(tmp_path, "turned.jpg"), orientation,
                 quality=95)
    assert_face_found(run(tmp_path)["turned.jpg"], upright_box)


def test_animated_gif_uses_the_first_frame(tmp_path, upright_box):
    frames = [Image.open(ASTRONAUT).convert("RGB"), Image.open(FIXTURES / "coffee.png").convert("RGB")]
    frames[0].save(folder_with(tmp_path, "clip.gif"), save_all=True, append_images=frames[1:], duration=100)
    assert Image.open(tmp_path / "clip.gif").n_frames == 2
    assert_face_found(run(tmp_path)["clip.gif"], upright_box)


def test_unicode_and_spaces_in_names(tmp_path, upright_box):
    name = "Zoë et Jürgen — 海滩 2024.png"
    shutil.copy(ASTRONAUT, folder_with(tmp_path, name))
    result = run(tmp_path)[name]
    assert result.path == str(tmp_path / name)
    assert_face_found(result, upright_box)


def test_empty_folder_gives_no_results(tmp_path):
    assert list(classify_paths([tmp_path], device="cpu")) == []
