"""Shared fixtures: the shipped photos, and ../shared when it sits beside the repository."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from functools import cache
from pathlib import Path
from typing import BinaryIO

import pytest
from PIL import Image

from gendersort.models.device import keep_telemetry_off

# Local Ray clusters in the tests talk over loopback only (Ray otherwise uses this machine's network
# address); Ray reads this when it is imported, and the CLI runs the tests start inherit it.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
# Test modules import onnxruntime themselves: its telemetry goes off before they do.
keep_telemetry_off()

FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "photos"
SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
# Where the face is in astronaut.png (512 x 512), measured once and checked by eye.
ASTRONAUT_FACE_CENTRE = (224.0, 120.0)
EXIF_ORIENTATION = 0x0112
# exif_transpose's method for each orientation; the stored image is the upright one with the inverse applied.
STORED = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


@cache
def cuda_works() -> bool:
    """Whether a session here really gets CUDA (not only asks for it): the CUDA tests run, or skip."""
    from gendersort.models.classifier import CLASSIFIER_PATH
    from gendersort.models.session import OnnxModel

    return OnnxModel(CLASSIFIER_PATH, device="auto").provider == "CUDAExecutionProvider"


@pytest.fixture
def photos(tmp_path) -> Path:
    """astronaut.png (a woman), people/camera.png (a man), chelsea.png (a cat: no face)."""
    folder = tmp_path / "photos"
    (folder / "people").mkdir(parents=True)
    shutil.copy(FIXTURES / "astronaut.png", folder / "astronaut.png")
    shutil.copy(FIXTURES / "camera.png", folder / "people" / "camera.png")
    shutil.copy(FIXTURES / "chelsea.png", folder / "chelsea.png")
    return folder


@pytest.fixture(scope="session")
def open_model() -> Path:
    """The open model's file (`--model open`, issue #18): shipped in the package, so its tests fail without
    it, saying so, rather than skip."""
    from gendersort.models.registry import MODEL_FILES

    path = MODEL_FILES["open"]
    if not path.is_file():
        pytest.fail(f"{path} is missing: the open model ships with gendersort (export/stack_onnx.py writes "
                    "it); the tests of --model open need it")
    return path


@pytest.fixture(scope="session")
def astronaut() -> Image.Image:
    return Image.open(FIXTURES / "astronaut.png").convert("RGB")


@pytest.fixture(scope="session")
def detector():
    from gendersort.faces.detector import FaceDetector

    return FaceDetector(device="cpu")


def fixture_face_chips():
    """The chips the classifier takes of the main face of three fixture photos (a woman, a man, a tilted
    face), cut by the runtime's own (float) detector and aligner (FaceChips)."""
    from gendersort.models.chip_inputs import FaceChips
    from gendersort.pipeline.analysis import FaceAnalyzer

    analyzer = FaceAnalyzer(device="cpu", quantized=False)
    chips = []
    for name in ("astronaut.png", "camera.png", "tilted_face.jpg"):
        image = Image.open(FIXTURES / name).convert("RGB")
        chips.append(analyzer.chips(image, analyzer.detector.detect(image, main_only=True)[:1]))
    return FaceChips.concatenate(chips)


def needs_shared(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (../shared beside the repository)")
    return path


def save_two_face_photo(path: Path) -> Path:
    """The astronaut beside her mirror image: a real photo with two faces, saved to `path`."""
    astronaut = Image.open(FIXTURES / "astronaut.png").convert("RGB")
    pair = Image.new("RGB", (1024, 512))
    pair.paste(astronaut, (0, 0))
    pair.paste(astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT), (512, 0))
    pair.save(path)
    return path


def save_upright(image: Image.Image, target: Path | BinaryIO, orientation: int = 1, **options: object
                 ) -> None:
    """Save a JPEG that shows `image` upright: stored as it is, or turned with the EXIF orientation that
    turns it back."""
    exif = Image.Exif()
    if orientation != 1:
        image = image.transpose(STORED[orientation])
        exif[EXIF_ORIENTATION] = orientation
    image.save(target, "JPEG", exif=exif, **options)


def save_group_photo(path: Path, orientation: int = 1) -> Path:
    """A 2600 x 1600 JPEG of two real faces of unlike sizes: the astronaut large (her chip is sharp from a
    half-scale decode) and the cameraman small (his needs the full decode); stored turned when
    `orientation` says so."""
    group = Image.new("RGB", (2600, 1600), (128, 128, 128))
    group.paste(Image.open(FIXTURES / "astronaut.png").convert("RGB").resize((1400, 1400)), (0, 0))
    group.paste(Image.open(FIXTURES / "camera.png").convert("RGB").resize((1150, 1150)), (1450, 450))
    save_upright(group, path, orientation, quality=92)
    return path


def save_varied_faces(folder: Path) -> list[Path]:
    """36 real faces of three people (the shipped fixtures), blurred from 0 to 6 px and in colour or grey,
    so that the classifier's confidence spreads from about 0.5 to 0.98 (what a threshold has to choose
    among), and two photos of a cat (no face); sorted by name."""
    from PIL import ImageFilter, ImageOps

    folder.mkdir(parents=True, exist_ok=True)
    for name in ("astronaut.png", "camera.png", "tilted_face.jpg"):
        face = Image.open(FIXTURES / name).convert("RGB")
        for blur in (0, 1, 2, 3, 4, 6):
            blurred = face.filter(ImageFilter.GaussianBlur(blur)) if blur else face
            blurred.save(folder / f"{Path(name).stem}_blur{blur}.jpg", quality=90)
            ImageOps.grayscale(blurred).save(folder / f"{Path(name).stem}_blur{blur}_grey.jpg", quality=90)
    cat = Image.open(FIXTURES / "chelsea.png").convert("RGB")
    cat.save(folder / "cat.jpg", quality=90)
    cat.resize((200, 130)).save(folder / "cat_small.jpg", quality=90)
    return sorted(folder.iterdir())


def kill_midway(command: list[str], watched: Path, lines: int, timeout: float = 120) -> None:
    """Start a gendersort run and SIGKILL it once `watched` holds `lines` lines: a crash at a real moment."""
    run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for_lines(watched, lines, timeout)
    assert run.poll() is None, f"the run ended before it could be killed: {run.stderr.read()!r}"
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert run.returncode == -signal.SIGKILL


def interrupt_midway(command: list[str], watched: Path, lines: int, timeout: float = 120) -> tuple[int, str]:
    """Start a gendersort run and send it Ctrl-C's SIGINT once `watched` holds `lines` lines; its exit code
    and stderr. The run gets Ctrl-C's default handling even where the tests were started in the background
    (a shell's `&` starts them ignoring SIGINT, and the ignoring is inherited)."""
    run = subprocess.Popen(command, stderr=subprocess.PIPE, text=True,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    wait_for_lines(watched, lines, timeout)
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=60)
    return run.returncode, stderr


def wait_for_lines(watched: Path, lines: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (not watched.exists() or watched.read_bytes().count(b"\n") < lines):
        time.sleep(0.002)


@pytest.fixture(scope="session")
def varied(tmp_path_factory) -> Path:
    """save_varied_faces' photos, made once for the session (tests copy them before changing any)."""
    folder = tmp_path_factory.mktemp("varied") / "photos"
    save_varied_faces(folder)
    return folder


def obeying_file_permissions() -> list[str]:
    """A command prefix under which a file without read permission is unreadable, even to root.

    Root reads every file through two capabilities (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH); CI runs the
    tests as root, so without this the permission tests would test nothing. setpriv (util-linux) drops
    both from the bounding set: the command still runs as root and owns the test's files, so it can
    reach the virtual environment (which may sit in root's 0700 home), but chmod 0 locks it out. Other
    users need no prefix.
    """
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.fail("running as root, and setpriv (util-linux) is missing: permissions cannot be tested")
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search"]


def run_obeying_file_permissions(*arguments: object) -> subprocess.CompletedProcess[str]:
    """`python ARGUMENTS...` in a child process that file permissions apply to (see above)."""
    command = [*obeying_file_permissions(), sys.executable, *(str(argument) for argument in arguments)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)
