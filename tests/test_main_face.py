"""The main face: prominence, not box size, decides a photo's row (faces/main_face.py)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from gendersort.faces.face import Face
from gendersort.faces.main_face import by_prominence, centre_distance, inside_share, prominence
from tests.conftest import FIXTURES

PHOTO = (400, 300)


def face(x0: float, y0: float, x1: float, y1: float, score: float = 0.95) -> Face:
    return Face((x0, y0, x1, y1), np.zeros((6, 2)), score)


def test_inside_share_and_centre_distance_by_hand():
    assert inside_share(face(100, 100, 200, 200), PHOTO) == 1.0
    assert inside_share(face(350, 100, 450, 200), PHOTO) == pytest.approx(0.5)
    assert inside_share(face(-100, -100, -10, -10), PHOTO) == 0.0
    assert centre_distance(face(150, 100, 250, 200), PHOTO) == pytest.approx(0.0)
    assert centre_distance(face(-50, -50, 50, 50), PHOTO) == pytest.approx(1.0)


def test_a_centred_face_beats_a_larger_one_cut_by_the_edge():
    subject = face(160, 90, 240, 170)  # 80 px, in the centre
    cut = face(330, 60, 450, 180)  # 120 px, 42% of its box outside the photo
    assert cut.area > subject.area
    assert by_prominence([cut, subject], PHOTO)[0] is subject


def test_a_whole_face_twice_as_large_still_wins_off_centre():
    small_centred = face(170, 110, 230, 170)
    large_aside = face(20, 60, 140, 180)
    assert by_prominence([small_centred, large_aside], PHOTO)[0] is large_aside


def test_confidence_weighs_in_and_ties_keep_the_larger_box_first():
    sure, doubtful = face(100, 100, 180, 180, 0.99), face(220, 100, 300, 180, 0.5)
    assert prominence(sure, PHOTO) > prominence(doubtful, PHOTO)
    left, right = face(100, 110, 180, 190), face(220, 110, 300, 190)  # mirror places: equal prominence
    assert by_prominence([left, right], PHOTO) == [left, right]


def news_like_photo() -> tuple[Image.Image, tuple[int, int, int, int]]:
    """The woman of astronaut.png in the centre and the cameraman of camera.png beside her, his face
    larger than hers and cut by the photo's right edge, as in the news photos that v3 got wrong."""
    astronaut = Image.open(FIXTURES / "astronaut.png").convert("RGB").crop((144, 30, 304, 230))
    cameraman = Image.open(FIXTURES / "camera.png").convert("RGB").crop((170, 80, 300, 230))
    canvas = Image.new("RGB", (440, 300), (128, 128, 128))
    subject_box = (140, 50, 300, 250)
    canvas.paste(astronaut, subject_box[:2])
    # His face, 67 px in camera.png, doubled: 1.5 times as wide as hers, a third of it past the edge.
    canvas.paste(cameraman.resize((260, 300)), (280, 10))
    return canvas, subject_box


def test_the_subject_decides_the_row_of_a_news_like_photo(detector, tmp_path):
    from gendersort import classify_paths

    photo, (left, top, right, bottom) = news_like_photo()
    every = detector.detect(photo)
    assert len(every) >= 2
    largest = max(every, key=lambda found: found.area)
    main = detector.detect(photo, main_only=True)[0]
    centre = ((main.box[0] + main.box[2]) / 2, (main.box[1] + main.box[3]) / 2)
    assert left <= centre[0] <= right and top <= centre[1] <= bottom, "the woman in the centre"
    assert largest.box[2] > photo.width, "the larger face is the cameraman's, cut by the edge"
    assert every[0].box == main.box, "--faces all puts the same main face first"
    path = tmp_path / "news.jpg"
    photo.save(path, quality=92)
    (result,) = classify_paths([path], device="cpu")
    assert result.label == "female"
    (every_row,) = classify_paths([path], faces="all", device="cpu")
    assert every_row.predictions[0].box == result.predictions[0].box
    assert every_row.predictions[0].p_male == pytest.approx(result.p_male, abs=1e-6)
