"""One photo, one face, one answer: every command that looks at a photo tells its face with the same box and
p_male (classify, classify --faces all, predict, the viewer), each to the precision it shows."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gendersort.cli import app
from gendersort.pipeline.api import shared_analyzer
from gendersort.review.sentences import verdict
from gendersort.review.viewer.analysis import analyze_photo
from tests.conftest import FIXTURES, save_group_photo

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "photos"
ONE_FACE = [FIXTURES / "astronaut.png", FIXTURES / "camera.png", EXAMPLES / "astronaut.jpg",
            EXAMPLES / "archive" / "camera.jpg"]
FACE_FIELDS = ("p_male", "box_x0", "box_y0", "box_x1", "box_y1")


def face_rows(*arguments: object) -> list[dict[str, str]]:
    result = CliRunner().invoke(app, [str(argument) for argument in (*arguments, "--device", "cpu")])
    assert result.exit_code == 0, result.output
    return [row for row in csv.DictReader(io.StringIO(result.stdout)) if row["status"] == "ok"]


def face_of(row: dict[str, str]) -> tuple[float, ...]:
    return tuple(float(row[name]) for name in FACE_FIELDS)


@pytest.mark.parametrize("photo", ONE_FACE, ids=lambda path: str(path.relative_to(ROOT)))
def test_a_one_face_photo_gets_the_same_face_from_every_command(photo):
    (largest,) = face_rows("classify", photo)
    (every,) = face_rows("classify", photo, "--faces", "all")
    assert (largest["faces"], every["faces"]) == ("1", "1")
    assert face_of(every) == face_of(largest)

    (viewed,) = analyze_photo(shared_analyzer("cpu"), photo).faces
    assert (round(viewed.p_male, 4), *(round(value, 1) for value in viewed.box)) == face_of(largest)

    predicted = CliRunner().invoke(app, ["predict", str(photo), "--device", "cpu"])
    assert predicted.stdout == f"{photo}: {verdict(viewed)}\n"


def test_the_largest_face_of_a_group_photo_is_told_alike_with_or_without_the_others(tmp_path):
    photo = save_group_photo(tmp_path / "group.jpg")
    (largest,) = face_rows("classify", photo)
    every = face_rows("classify", photo, "--faces", "all")
    assert len(every) == 2 and every[0]["face_index"] == "0"
    assert face_of(every[0]) == face_of(largest)
