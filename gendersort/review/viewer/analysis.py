"""What the viewer shows about one photo, apart from the widgets (so it is tested without a display).

The faces come from the very path `classify --faces all` and `predict` take (the same decode, detection,
chips and classifier batch), so the window never tells a photo's face differently from the other commands.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from gendersort.photos.decode import UnreadableImageError, open_upright
from gendersort.photos.walk import found
from gendersort.pipeline.analysis import FaceAnalyzer
from gendersort.pipeline.api import classify_files
from gendersort.pipeline.results import ERROR, FacePrediction
from gendersort.wording import describe


@dataclass(frozen=True)
class PhotoAnalysis:
    """One photo as the window shows it: the upright image (None if unreadable) and its faces."""

    path: Path
    image: Image.Image | None
    faces: tuple[FacePrediction, ...] = field(default_factory=tuple)
    error: str = ""

    @property
    def lines(self) -> list[str]:
        """The text beside the photo: a sentence per face, numbered like the boxes when there are several."""
        if self.image is None:
            return [f"Could not read this photo: {self.error}"]
        if not self.faces:
            return ["No face found"]
        if len(self.faces) == 1:
            return [describe(self.faces[0].p_male)]
        return [f"{number}. {describe(face.p_male)}" for number, face in enumerate(self.faces, 1)]


def analyze_photo(analyzer: FaceAnalyzer, path: Path) -> PhotoAnalysis:
    """Decode one photo for the screen and find its faces as classify does; an unreadable file becomes an
    analysis that says why."""
    try:
        image = open_upright(path)
    except UnreadableImageError as error:
        return PhotoAnalysis(path, None, error=str(error))
    result = next(classify_files([found(path)], analyzer=analyzer, faces="all", workers=1))
    if result.status == ERROR:  # the file changed between the two decodes
        return PhotoAnalysis(path, None, error=result.error)
    return PhotoAnalysis(path, image, result.predictions)
