"""The engine-neutral core: a photo handed over as bytes (as a distributed engine fetches it) is decoded to
the same pixels and gets the same rows as the file it came from, and anything that goes wrong with one photo
is that photo's error row."""

from __future__ import annotations

import numpy as np
import pytest

from gendersort.faces.resolution import detection_reduction
from gendersort.photos.decode import UnreadableImageError, open_photo, photo_from_bytes
from gendersort.photos.walk import find_images
from gendersort.pipeline.api import classify_files
from gendersort.pipeline.reading import PhotoBytes
from tests import test_pipeline

# The pipeline tests' fixtures: the models, and photos of every kind the pipeline treats differently.
analyzer, photos = test_pipeline.analyzer, test_pipeline.photos


def as_bytes(found) -> PhotoBytes:
    return PhotoBytes(str(found.path), found.path.read_bytes(), found.size, found.mtime)


def decoded(decode, source, rule):
    """What a decode gives: the sizes and pixels, or the error's message."""
    try:
        photo = decode(source, rule)
    except UnreadableImageError as error:
        return str(error)
    return photo.full_size, photo.reduction, np.asarray(photo.image)


def test_decoding_bytes_gives_the_pixels_of_decoding_the_file(photos, analyzer):
    def rule(size):
        return detection_reduction(analyzer.detector, size)

    for path in sorted(photos.iterdir()):
        from_file = decoded(open_photo, path, rule)
        from_bytes = decoded(photo_from_bytes, path.read_bytes(), rule)
        if isinstance(from_file, str):
            assert from_bytes == from_file, path.name
            continue
        assert from_bytes[:2] == from_file[:2], path.name
        assert np.array_equal(from_bytes[2], from_file[2]), path.name
    assert open_photo(photos / "b-large-turned.jpg", rule).reduction > 1, "the draft decode is compared too"


@pytest.mark.parametrize("faces", ["largest", "all"])
def test_photos_as_bytes_get_the_rows_of_their_files(photos, analyzer, faces):
    found = list(find_images([photos]))
    from_files = [result.rows() for result in classify_files(found, analyzer=analyzer, faces=faces)]
    from_bytes = [result.rows() for result in classify_files(map(as_bytes, found), analyzer=analyzer,
                                                             faces=faces, workers=3, batch_size=2)]
    assert from_bytes == from_files
    assert {rows[0]["status"] for rows in from_files} == {"ok", "no_face", "error"}


def test_anything_that_goes_wrong_with_a_photo_is_its_error_row(photos, analyzer):
    # Text where bytes belong, as a dataset built by hand may hold: no decoding error, yet only this photo's.
    broken = PhotoBytes("broken.jpg", "not bytes", 10, 1.0)  # type: ignore[arg-type]
    good = as_bytes(next(iter(find_images([photos / "e-astronaut.jpg"]))))
    results = list(classify_files([broken, good], analyzer=analyzer))
    assert [result.status for result in results] == ["error", "ok"]
    assert results[0].error.startswith("unexpected error (TypeError)")
    assert (results[0].size, results[0].mtime) == (10, 1.0)
