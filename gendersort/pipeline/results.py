"""What gendersort says about one photo, and the rows it writes for it (the columns are a contract)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from gendersort.labels import UNKNOWN
from gendersort.wording import confidence_of, counted

OK, NO_FACE, ERROR = "ok", "no_face", "error"
COLUMNS = (
    "path", "status", "label", "p_male", "confidence", "faces", "face_index",
    "box_x0", "box_y0", "box_x1", "box_y1", "error", "model_version", "size", "mtime",
)
FACE_MODES = ("main", "all")
# Scripts written before the main face (faces/main_face.py) asked for "largest"; it means "main" now.
FACE_MODE_ALIASES = {"largest": "main"}


def label_for(p_male: float, min_confidence: float = 0.0) -> str:
    """male or female by the more likely side (0.5 counts as male), unknown when not confident enough."""
    if confidence_of(p_male) < min_confidence:
        return UNKNOWN
    return "male" if p_male >= 0.5 else "female"


@dataclass(frozen=True)
class FacePrediction:
    """One classified face: `index` is its rank by prominence (0 is the main face, faces/main_face.py),
    the box in upright pixels."""

    index: int
    box: tuple[float, float, float, float]
    p_male: float
    label: str

    @property
    def confidence(self) -> float:
        return confidence_of(self.p_male)


@dataclass(frozen=True)
class ImageResult:
    """One photo: its status, the faces found (`face_count`) and those classified (`predictions`).

    For the main face alone, the detector stops at the coarsest look that finds any, and gives no
    second look to uncertain faces less prominent than the chosen one (faces/detector.py), so `face_count`
    counts the sure faces of that look; with every face asked for, it counts every face.
    """

    path: str
    status: str
    face_count: int = 0
    predictions: tuple[FacePrediction, ...] = ()
    error: str = ""
    model_version: str = ""
    size: int | None = None
    mtime: float | None = None
    every_face: bool = False

    @property
    def chosen(self) -> FacePrediction | None:
        """The face the photo is labelled by: its main face."""
        return self.predictions[0] if self.predictions else None

    @property
    def label(self) -> str:
        return self.chosen.label if self.chosen else UNKNOWN

    @property
    def p_male(self) -> float | None:
        return self.chosen.p_male if self.chosen else None

    def rows(self) -> list[dict[str, object]]:
        """The output rows: one per photo, or one per face when every face was asked for."""
        if self.every_face and self.predictions:
            return [self.row(face, face.index) for face in self.predictions]
        return [self.row(self.chosen, None)]

    def row(self, face: FacePrediction | None, face_index: int | None) -> dict[str, object]:
        box = [round(value, 1) for value in face.box] if face else [None] * 4
        return dict(zip(COLUMNS, (
            self.path, self.status, face.label if face else UNKNOWN,
            round(face.p_male, 4) if face else None, round(face.confidence, 4) if face else None,
            self.face_count, face_index, *box, self.error, self.model_version, self.size, self.mtime,
        ), strict=True))


@dataclass
class Tally:
    """Counts for the summary at the end of a run."""

    files: int = 0
    ok: int = 0
    no_face: int = 0
    errors: int = 0
    faces: int = 0
    started: float = field(default_factory=time.monotonic)

    def add(self, result: ImageResult) -> None:
        self.count(result.status, result.face_count)

    def count(self, status: str, face_count: int) -> None:
        """A photo known by its row alone (an engine that writes its rows elsewhere reads them back)."""
        self.files += 1
        self.faces += face_count
        if status == OK:
            self.ok += 1
        elif status == NO_FACE:
            self.no_face += 1
        else:
            self.errors += 1

    def summary(self) -> str:
        """"3 files: 2 ok, 1 no face, 0 errors; 2 faces; 41.3 images/s". The rate only when a photo was
        read: a run of unreadable files, or a resumed one with nothing left, has no speed to tell."""
        counts = (f"{counted(self.files, 'file')}: {self.ok} ok, {self.no_face} no face, "
                  f"{counted(self.errors, 'error')}; {counted(self.faces, 'face')}")
        if not self.ok + self.no_face:
            return counts
        rate = self.files / max(time.monotonic() - self.started, 1e-9)
        return f"{counts}; {rate:.1f} images/s"
