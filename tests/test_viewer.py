"""The viewer: its wording and folder stepping, then the real window under Xvfb, checked on a screenshot."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageGrab

from gendersort import classify_image
from gendersort.errors import FatalError
from gendersort.models.classifier import GenderClassifier
from gendersort.photos.imaging import load_upright
from gendersort.review.viewer.folder import neighbour, photos_in
from gendersort.wording import describe
from tests.conftest import FIXTURES, save_two_face_photo

tkinter = pytest.importorskip("tkinter", reason="needs tkinter (the Python build's _tkinter and Tk 8.6)")

from gendersort.review.viewer.window import (  # noqa: E402 (needs tkinter)
    BOX_COLOUR,
    ViewerApp,
    analyze_photo,
    open_window,
    run_viewer,
)

SCREENSHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"



def test_photos_in_lists_one_folder_by_name_and_neighbour_wraps(tmp_path: Path) -> None:
    for name in ("B.png", "a.jpg", "c.webp"):
        shutil.copy(FIXTURES / "coffee.png", tmp_path / name)
    (tmp_path / "notes.txt").write_text("not a photo")
    (tmp_path / "sub").mkdir()
    shutil.copy(FIXTURES / "coffee.png", tmp_path / "sub" / "d.png")

    photos = photos_in(tmp_path)

    assert [path.name for path in photos] == ["a.jpg", "B.png", "c.webp"]
    assert neighbour(photos, photos[2], 1) == photos[0]
    assert neighbour(photos, photos[0], -1) == photos[2]
    assert neighbour(photos, photos[0], 1) == photos[1]


@pytest.fixture(scope="module")
def analyzer():
    from gendersort.pipeline.analysis import FaceAnalyzer

    return FaceAnalyzer(device="cpu")


def test_analyze_photo_describes_faces_or_says_why_not(analyzer, tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg at all")

    astronaut = analyze_photo(analyzer, FIXTURES / "astronaut.png")

    assert len(astronaut.faces) == 1
    assert astronaut.lines == [describe(astronaut.faces[0].p_male)]
    assert analyze_photo(analyzer, FIXTURES / "chelsea.png").lines == ["No face found"]
    assert analyze_photo(analyzer, broken).lines[0].startswith("Could not read this photo: ")


def test_run_viewer_without_a_display_says_so_in_one_line(monkeypatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(FatalError, match="cannot open a window"):
        run_viewer(str(FIXTURES / "astronaut.png"), device="cpu")


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    """A private Xvfb server (its display number chosen by Xvfb itself), else $DISPLAY, else skip."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        if not os.environ.get("DISPLAY"):
            pytest.skip("needs Xvfb (Debian package xvfb) or a DISPLAY to open the viewer's window")
        yield os.environ["DISPLAY"]
        return
    read_end, write_end = os.pipe()
    server = subprocess.Popen([xvfb, "-displayfd", str(write_end), "-screen", "0", "1280x800x24",
                               "-nolisten", "tcp"], pass_fds=(write_end,), stderr=subprocess.DEVNULL)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 30)
        number = os.read(read_end, 16).decode().strip() if ready else ""
        assert number, "Xvfb did not report its display number within 30 s"
        yield f":{number}"
    finally:
        os.close(read_end)
        server.terminate()
        server.wait(10)


@pytest.fixture
def open_viewer(display: str, analyzer) -> Iterator[Callable[[Path], ViewerApp]]:
    roots = []

    def opened(path: Path) -> ViewerApp:
        root = tkinter.Tk(screenName=display)
        roots.append(root)
        app = ViewerApp(root, analyzer, path)
        wait_until(root, lambda: photo_width(app) > 200)
        return app

    yield opened
    for root in roots:
        root.destroy()


def wait_until(root, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Run Tk's event loop until `condition` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the window did not get there in time"
        root.update()
        time.sleep(0.02)


def photo_width(app: ViewerApp) -> int:
    bbox = app.canvas.bbox("photo")
    return bbox[2] - bbox[0] if bbox else 0


def screenshot(app: ViewerApp, display: str) -> Image.Image:
    """The window as the X server shows it (there is no window manager: the window is all there is)."""
    app.root.update()
    x, y = app.root.winfo_rootx(), app.root.winfo_rooty()
    screen = ImageGrab.grab(xdisplay=display)
    return screen.crop((x, y, x + app.root.winfo_width(), y + app.root.winfo_height())).convert("RGB")


def hex_rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])


def test_window_shows_the_photo_its_face_box_and_the_sentence(open_viewer, display, analyzer,
                                                             tmp_path: Path) -> None:
    app = open_viewer(FIXTURES / "astronaut.png")
    expected = analyzer.analyze(load_upright(FIXTURES / "astronaut.png"))
    shot = screenshot(app, display)
    shot.save(tmp_path / "viewer.png")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot.save(SCREENSHOTS / "viewer.png")

    text = app.result_label.cget("text")
    assert text == describe(expected[0].p_male)
    assert text.startswith("It is ")
    # The box sits where the detector put the face, in the canvas's scaled coordinates.
    left, top, right, bottom = app.canvas.bbox("photo")
    scale = (right - left) / 512
    drawn = app.canvas.coords(app.canvas.find_withtag("face")[0])
    wanted = [left + expected[0].face.box[0] * scale, top + expected[0].face.box[1] * scale,
              left + expected[0].face.box[2] * scale, top + expected[0].face.box[3] * scale]
    assert drawn == pytest.approx(wanted, abs=1.5)
    # On screen: the photo is there, and the box's top edge is drawn in its colour.
    offset_x = app.canvas.winfo_rootx() - app.root.winfo_rootx()
    offset_y = app.canvas.winfo_rooty() - app.root.winfo_rooty()
    on_screen = shot.crop((left + offset_x, top + offset_y, right + offset_x, bottom + offset_y))
    photo = Image.open(FIXTURES / "astronaut.png").convert("RGB")
    difference = np.asarray(on_screen.resize((64, 64)), float) - np.asarray(photo.resize((64, 64)), float)
    assert np.abs(difference).mean() < 12
    edge = shot.getpixel((round((drawn[0] + drawn[2]) / 2) + offset_x, round(drawn[1]) + offset_y))
    assert np.abs(np.array(edge) - hex_rgb(BOX_COLOUR)).max() < 40


def test_several_faces_get_numbered_boxes_and_a_line_each(open_viewer, tmp_path: Path) -> None:
    save_two_face_photo(tmp_path / "pair.png")

    app = open_viewer(tmp_path / "pair.png")

    lines = app.result_label.cget("text").split("\n\n")
    assert [line[:9] for line in lines] == ["1. It is ", "2. It is "]
    assert len(app.canvas.find_withtag("face")) == len(app.canvas.find_withtag("number")) == 2
    assert [app.canvas.itemcget(item, "text") for item in app.canvas.find_withtag("number")] == ["1", "2"]


def test_arrow_keys_step_through_the_folder_and_wrap(open_viewer, tmp_path: Path) -> None:
    for name in ("a_astronaut.png", "b_camera.png", "c_chelsea.png"):
        shutil.copy(FIXTURES / name.split("_", 1)[1], tmp_path / name)
    (tmp_path / "d_broken.jpg").write_bytes(b"not a jpeg at all")
    (tmp_path / "notes.txt").write_text("not a photo")
    app = open_viewer(tmp_path)
    app.root.focus_force()  # what a window manager does for a new window; keys go to the focused window
    seen = []
    for key in ("<Right>", "<Right>", "<Right>", "<Right>", "<Left>"):
        seen.append((app.analysis.path.name, app.result_label.cget("text")))
        app.root.event_generate(key)
        app.root.update()
    seen.append((app.analysis.path.name, app.result_label.cget("text")))

    names = [name for name, _ in seen]
    assert names == ["a_astronaut.png", "b_camera.png", "c_chelsea.png", "d_broken.jpg", "a_astronaut.png",
                     "d_broken.jpg"]
    texts = dict(seen)
    assert texts["a_astronaut.png"].startswith("It is ")
    assert texts["b_camera.png"].startswith("It is ")
    assert texts["c_chelsea.png"] == "No face found"
    assert texts["d_broken.jpg"].startswith("Could not read this photo: ")
    assert app.position_label.cget("text").startswith("4 / 4")
    assert not app.canvas.find_withtag("photo")


def test_window_says_the_astronaut_is_a_woman(open_viewer, analyzer) -> None:
    app = open_viewer(FIXTURES / "astronaut.png")
    assert "a woman" in app.result_label.cget("text")


def test_the_window_runs_the_model_named(display, open_model, monkeypatch) -> None:
    """`gendersort view --model open` builds its window with the open model, as run_viewer does."""
    monkeypatch.setenv("DISPLAY", display)
    app = open_window(str(FIXTURES / "astronaut.png"), device="cpu", model="open")
    try:
        wait_until(app.root, lambda: photo_width(app) > 200)
        expected = GenderClassifier(device="cpu", model_path=open_model).version
        assert app.analyzer.classifier.version == expected
        (face,) = classify_image(load_upright(FIXTURES / "astronaut.png"), device="cpu", model="open")
        assert app.result_label.cget("text") == describe(face.p_male)
    finally:
        app.root.destroy()
