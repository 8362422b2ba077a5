"""From a found file to its faces and their chips: the per-photo work that runs in the reading threads.

A JPEG is decoded at the coarsest DCT scale that keeps the detector's views sharp (see faces/resolution.py);
only when a chosen face is too small there for a sharp chip is the file decoded again, finer (each face's
chip at the scale that face alone needs), and only down to the rows its chip reaches (photos/jpeg_band.py).
Faces are located in full-resolution pixels either way, so the rows do not depend on the scale.

This is the engine-neutral core: a photo comes in as a file the walker found or as bytes a distributed
engine fetched (PhotoBytes), and both go through the same code; any exception becomes the photo's error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gendersort.faces.face import Face
from gendersort.faces.resolution import chip_reduction, detection_reduction
from gendersort.models.chip_inputs import FaceChips
from gendersort.photos.decode import ReductionRule, UnreadableImageError, open_photo, photo_from_bytes
from gendersort.photos.imaging import Box, Photo
from gendersort.photos.walk import FoundFile
from gendersort.pipeline.analysis import FaceAnalyzer


@dataclass(frozen=True)
class PhotoBytes:
    """A photo as an engine hands it over: its content already read, and the path, size and mtime that its
    row records (an object-store URI, say). `error` says why the content could not be read."""

    path: str
    data: bytes = field(default=b"", repr=False)
    size: int | None = None
    mtime: float | None = None
    error: str = ""


PhotoItem = FoundFile | PhotoBytes


def load(found: PhotoItem, reduction_for: ReductionRule | None = None, within: Box | None = None
         ) -> tuple[Photo | None, str]:
    """A photo as upright RGB, or the reason there is none (the one place photos are decoded); `within`:
    only that box of it is wanted (decode.py may decode less)."""
    if found.error:
        return None, found.error
    try:
        if isinstance(found, PhotoBytes):
            return photo_from_bytes(found.data, reduction_for, within), ""
        return open_photo(found.path, reduction_for, within), ""
    except UnreadableImageError as error:
        return None, str(error)


@dataclass
class Pending:
    """A photo whose faces are found and cropped, waiting for the classifier."""

    found: PhotoItem
    faces: list[Face] = field(default_factory=list)
    chips: FaceChips | None = None
    error: str = ""


class PhotoReader:
    """Decodes a file, finds its faces and cuts the chips of those to classify; safe to call from threads.

    `draft=False` decodes every pixel of every file (the reference that reduced decoding is measured
    against).
    """

    def __init__(self, analyzer: FaceAnalyzer, every_face: bool, draft: bool = True) -> None:
        self.analyzer = analyzer
        self.every_face = every_face
        self.draft = draft

    def detection_scale(self, size: tuple[int, int]) -> int:
        return detection_reduction(self.analyzer.detector, size)

    def read(self, found: PhotoItem) -> Pending:
        """The photo's faces and chips; whatever goes wrong with this photo is its error, never the run's
        (one strange file must not stop a night's job, nor abort a distributed engine's batch)."""
        try:
            return self.find_faces(found)
        except Exception as error:  # anything at all: the message goes into the photo's row
            return Pending(found, error=f"unexpected error ({type(error).__name__}): {error}")

    def find_faces(self, found: PhotoItem) -> Pending:
        photo, error = load(found, self.detection_scale if self.draft else None)
        if photo is None:
            return Pending(found, error=error)
        faces = self.analyzer.detector.detect_photo(photo, main_only=not self.every_face)
        chips, error = self.cut_chips(found, photo, faces if self.every_face else faces[:1])
        if chips is None:  # the file changed between two decodes
            return Pending(found, error=error)
        return Pending(found, faces, chips)

    def cut_chips(self, found: PhotoItem, photo: Photo, faces: list[Face]) -> tuple[FaceChips | None, str]:
        """Each face's chip, cut from the coarsest decode that is sharp enough for that face alone.

        So a face's chip (and its p_male) never depends on which other faces were asked for: the main
        face of `--faces all`, `predict` and the viewer is cut exactly as `classify` cuts it. A finer decode
        is made once per scale that some face needs.
        """
        geometry = self.analyzer.classifier.geometry
        scales = [min(photo.reduction, chip_reduction([face], geometry)) for face in faces]
        chips = FaceChips.empty(len(faces), geometry, self.analyzer.classifier.second_chip)
        for scale in sorted(set(scales), reverse=True):
            wanted = [index for index, needed in enumerate(scales) if needed == scale]
            if scale < photo.reduction:
                within = self.analyzer.chips_box([faces[at] for at in wanted], scale)
                photo, error = load(found, fixed_reduction(scale), within)
                if photo is None:
                    return None, error
            located = [faces[at].shifted(photo.origin) for at in wanted]
            chips.put(wanted, self.analyzer.chips(photo.image, located, photo.reduction))
        return chips, ""


def fixed_reduction(reduction: int) -> ReductionRule:
    """The rule that asks for one scale whatever the photo's size."""
    return lambda size: reduction
