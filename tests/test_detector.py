"""The face stage on real photos: where faces are, what EXIF does, and what must give no face."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from gendersort.photos.imaging import load_upright
from tests.conftest import ASTRONAUT_FACE_CENTRE, EXAMPLES, FIXTURES, needs_shared


def box_centre(face) -> tuple[float, float]:
    return (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2


def test_astronaut_has_one_face_where_it_is(detector, astronaut):
    faces = detector.detect(astronaut)
    assert len(faces) == 1
    cx, cy = box_centre(faces[0])
    assert abs(cx - ASTRONAUT_FACE_CENTRE[0]) < 15 and abs(cy - ASTRONAUT_FACE_CENTRE[1]) < 15
    assert 80 < faces[0].width < 130
    left_eye, right_eye = faces[0].keypoints[:2]
    assert left_eye[0] < right_eye[0], "keypoint 0 is the eye on the image's left"
    assert faces[0].keypoints[3][1] > left_eye[1], "the mouth lies below the eyes"


def test_cameraman_in_profile_is_found():
    from gendersort.faces.detector import FaceDetector

    faces = FaceDetector(device="cpu").detect(load_upright(FIXTURES / "camera.png"))
    assert len(faces) == 1
    cx, cy = box_centre(faces[0])
    assert 200 < cx < 280 and 120 < cy < 200


@pytest.mark.parametrize("name", ["chelsea.png", "coffee.png"])
def test_photos_without_people_give_no_face(detector, name):
    assert detector.detect(load_upright(FIXTURES / name)) == []


def test_blank_and_noise_give_no_face(detector):
    rng = np.random.default_rng(0)
    assert detector.detect(Image.new("RGB", (640, 480), (128, 128, 128))) == []
    assert detector.detect(Image.new("RGB", (64, 64))) == []
    noise = Image.fromarray(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8))
    assert detector.detect(noise) == []


@pytest.mark.parametrize(("orientation", "stored_transpose"), [
    (6, Image.Transpose.ROTATE_90),
    (8, Image.Transpose.ROTATE_270),
    (3, Image.Transpose.ROTATE_180),
])
def test_exif_orientation_gives_upright_coordinates(detector, astronaut, tmp_path, orientation,
                                                    stored_transpose):
    upright_face = detector.detect(astronaut)[0]
    stored = astronaut.transpose(stored_transpose)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"orientation{orientation}.jpg"
    stored.save(path, quality=95, exif=exif)
    image = load_upright(path)
    assert image.size == astronaut.size
    faces = detector.detect(image)
    assert len(faces) == 1
    assert np.allclose(faces[0].box, upright_face.box, atol=6)


def test_small_faces_in_a_large_photo_need_the_tiles(astronaut):
    """A 40 px face in a 2400 px photo: found with tiles, missed by the whole-photo views alone."""
    from gendersort.faces.detector import FaceDetector

    face_area = astronaut.crop((150, 40, 300, 200)).resize((75, 80))
    canvas = Image.new("RGB", (2400, 1600), (90, 110, 90))
    canvas.paste(face_area, (1700, 300))
    tiled = FaceDetector(device="cpu").detect(canvas)
    untiled = FaceDetector(device="cpu", tile_grid=1).detect(canvas)
    assert len(tiled) == 1 and abs(box_centre(tiled[0])[0] - 1737) < 20
    assert untiled == []


def test_tight_crop_is_found_thanks_to_padding(detector, astronaut):
    crop = astronaut.crop((180, 70, 270, 180))
    assert len(detector.detect(crop)) == 1


def test_dogs_photo_has_no_face(detector):
    path = needs_shared("dlib-faces", "dogs.jpg")
    assert detector.detect(load_upright(path)) == []


def test_two_photos_side_by_side_give_two_faces_not_duplicates(detector, astronaut):
    """Tiles cut the wide photo; each face must come back once, where it is."""
    camera = load_upright(FIXTURES / "camera.png")
    pair = Image.new("RGB", (1024, 512))
    pair.paste(astronaut, (0, 0))
    pair.paste(camera, (512, 0))
    faces = detector.detect(pair)
    assert len(faces) == 2
    centres = sorted(box_centre(face)[0] for face in faces)
    assert abs(centres[0] - ASTRONAUT_FACE_CENTRE[0]) < 15 and 700 < centres[1] < 790


def count_runs(detector) -> list[int]:
    """Record the batch size of every detector run (the real model still runs)."""
    sizes: list[int] = []
    run = detector.model.run

    def counted(batch: np.ndarray) -> list[np.ndarray]:
        sizes.append(len(batch))
        return run(batch)

    detector.model.run = counted
    return sizes


def test_largest_face_alone_skips_the_tiles_once_the_whole_photo_shows_one(astronaut):
    """The astronaut is small in the padded look, so the whole look is blended in; the tiles are skipped."""
    from gendersort.faces.detector import FaceDetector

    untiled = FaceDetector(device="cpu", tile_grid=1).detect(astronaut)
    detector = FaceDetector(device="cpu")
    runs = count_runs(detector)
    (largest,) = detector.detect(astronaut, main_only=True)
    assert runs == [1, 1]
    assert np.allclose(largest.box, untiled[0].box) and np.allclose(largest.keypoints, untiled[0].keypoints)


def test_a_tight_crop_needs_only_the_padded_look(astronaut):
    from gendersort.faces.detector import FaceDetector

    detector = FaceDetector(device="cpu")
    crop = astronaut.crop((180, 70, 270, 180))
    every = detector.detect(crop)
    runs = count_runs(detector)
    (largest,) = detector.detect(crop, main_only=True)
    assert runs == [1]
    assert np.allclose(largest.keypoints[:2], every[0].keypoints[:2], atol=3)


def test_largest_face_alone_still_looks_finer_when_the_coarse_looks_find_nothing(astronaut):
    """A small face in a large photo: the padded and whole looks find nothing, the tiles find it."""
    from gendersort.faces.detector import FaceDetector

    face_area = astronaut.crop((150, 40, 300, 200)).resize((75, 80))
    canvas = Image.new("RGB", (2400, 1600), (90, 110, 90))
    canvas.paste(face_area, (1700, 300))
    detector = FaceDetector(device="cpu")
    runs = count_runs(detector)
    (face,) = detector.detect(canvas, main_only=True)
    assert runs[:3] == [1, 1, 4]  # then perhaps a second look at the doubtful face
    assert abs(box_centre(face)[0] - 1737) < 20


def test_largest_face_alone_gives_second_looks_only_until_one_face_stands():
    """On real group photos: the face chosen is the one that second looks at every face would choose, and
    no more crops are looked at again than there are uncertain faces."""
    from gendersort.faces.detector import CONFIRM_BELOW, FaceDetector
    from gendersort.photos.imaging import Photo

    detector = FaceDetector(device="cpu")
    runs = count_runs(detector)
    photos = sorted(needs_shared("dlib-faces").glob("*.jpg"))
    doubtful_photos = 0
    for path in photos:
        photo = Photo.whole(load_upright(path))
        views = detector.views_for(*photo.full_size)
        faces = detector.decode(views, *detector.look(photo, views))
        every = detector.confirm(photo, faces)
        runs.clear()
        largest = detector.confirm(photo, faces, main_only=True)
        doubtful = sum(face.score < CONFIRM_BELOW for face in faces)
        doubtful_photos += doubtful > 0
        assert [face.box for face in largest[:1]] == [face.box for face in every[:1]], path.name
        assert {face.box for face in largest} <= {face.box for face in every}, path.name
        assert sum(runs) <= doubtful, path.name
    assert doubtful_photos >= 3  # the photos do exercise the second look


@pytest.mark.parametrize("path", [FIXTURES / "astronaut.png", FIXTURES / "camera.png",
                                  FIXTURES / "tilted_face.jpg", EXAMPLES / "astronaut.jpg",
                                  EXAMPLES / "archive" / "camera.jpg"])
def test_every_face_gives_the_largest_face_the_box_coarse_to_fine_gives_it(detector, path):
    """One face, one box: `--faces all` (every view at once) and the default (coarse to fine) agree
    exactly, so classify and predict cut the same chip (they differed by a few pixels)."""
    image = load_upright(path)
    largest = detector.detect(image, main_only=True)[0]
    every = detector.detect(image)[0]
    assert every.box == largest.box
    assert np.array_equal(every.keypoints, largest.keypoints)


def test_a_tilted_face_the_upright_looks_miss_is_found_through_turned_views():
    """A FairFace photo of a man lying with his head tilted: no upright view finds him, a turned one does,
    near the middle of the crop where he is."""
    from gendersort.faces.detector import FaceDetector

    image = load_upright(FIXTURES / "tilted_face.jpg")
    upright_only = FaceDetector(device="cpu", turned_look_degrees=())
    assert upright_only.detect(image, main_only=True) == [] and upright_only.detect(image) == []
    detector = FaceDetector(device="cpu")
    for main_only in (True, False):
        (face,) = detector.detect(image, main_only=main_only)
        centre_x, centre_y = box_centre(face)
        assert abs(centre_x - 112) < 25 and abs(centre_y - 112) < 25
        assert face.keypoints[1, 1] < face.keypoints[0, 1] - 10  # the eyes are far from level
