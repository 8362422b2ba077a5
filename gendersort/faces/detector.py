"""Face detection with MediaPipe's BlazeFace full-range model, run through onnxruntime.

One photo is seen through several views, coarse to fine: the whole photo padded on every side (so
faces that fill the frame, like tight crops, are found), the whole photo letterboxed, and for large photos
overlapping tiles (so small faces in group shots are found). Detections from the views are mapped back to
the photo's pixels and blended with MediaPipe's weighted non-maximum suppression.

Every face needs every view, in one batch. The main face alone (faces/main_face.py: the most
prominent, not merely the largest) does not: each look finds faces down to a smaller size than the one
before, so the first to find any has found the faces that can claim to be the main one and the finer
ones are skipped (a detector view costs more than decoding a small photo). The padded look alone is
enough only for a face it sees large (a tight crop): smaller, its keypoints are too coarse for the chip,
and the whole look is blended in.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from gendersort.faces.align import similarity_matrix, warp
from gendersort.faces.face import Face
from gendersort.faces.main_face import by_prominence
from gendersort.faces.nms import iou, weighted_nms
from gendersort.models.session import MODELS_DIR, OnnxModel
from gendersort.photos.imaging import Photo

DETECTOR_PATH = MODELS_DIR / "face_detector.onnx"
# Measured defaults (docs/how-it-works.md, "Face detection"): see benchmarks/detection_rate.py.
SCORE_THRESHOLD = 0.4
MIN_FACE_SIZE = 12.0
PAD_FRACTION = 0.5
TILE_ABOVE = 400
TILE_GRID = 2
TILE_OVERLAP = 0.25
RAW_SCORE_LIMIT = 80.0
# Views per run on CUDA: every photo has at most 6 (padded whole, whole, and a 2 x 2 grid of tiles).
CUDA_BATCH = 8
# Detections scoring below this get a second look on an upright crop centred on them (the raw model
# finds a dog at 0.55 in dlib's dogs.jpg; true faces below 0.6 are rare and survive the second look).
CONFIRM_BELOW = 0.6
CONFIRM_FACE_SHARE = 0.45
CONFIRM_THRESHOLD = 0.3
CONFIRM_IOU = 0.4
# The padded look settles the largest face alone when the face is at least this wide in its input: the
# whole look would add detail only to smaller faces (tight crops are about 55 px there).
SHARP_FACE_PIXELS = 40.0
# When no look finds a face, the padded whole photo is looked at once more, turned by these angles (one
# batch): on fairface val it finds 94 of the 125 faces the upright looks miss (tilted heads, many in
# profile; +-15 degrees alone found 71), and nothing in dlib's dogs.jpg or the cat and coffee fixtures
# (benchmarks/detection_rate.py). It costs only photos without a face.
TURNED_LOOK_DEGREES = (-10.0, 10.0, -20.0, 20.0, -30.0, 30.0)
# A face of every view that overlaps the coarse-to-fine main face this much is that face.
SAME_FACE_IOU = 0.3


@dataclass(frozen=True)
class View:
    """A square window on the photo: its top-left corner and side, in photo pixels."""

    left: float
    top: float
    side: float
    interior: tuple[bool, bool, bool, bool] = (False, False, False, False)

    def edge_cut(self, boxes: np.ndarray, margin: float) -> np.ndarray:
        """For (N, 4) boxes, whether each runs over an edge this view shares with a neighbouring tile."""
        left, top, right, bottom = self.interior
        return (
            (left & (boxes[:, 0] < self.left + margin))
            | (top & (boxes[:, 1] < self.top + margin))
            | (right & (boxes[:, 2] > self.left + self.side - margin))
            | (bottom & (boxes[:, 3] > self.top + self.side - margin))
        )

    def reduced(self, reduction: int) -> View:
        """The same window in the pixels of a photo decoded at 1/reduction scale."""
        return View(self.left / reduction, self.top / reduction, self.side / reduction, self.interior)


def plan_stages(width: int, height: int, pad_fraction: float, tile_above: int, grid: int,
                overlap: float) -> list[list[View]]:
    """The windows to look through, coarse to fine: padded whole, whole, a grid of tiles for large photos."""
    longer = max(width, height)
    centre_x, centre_y = width / 2, height / 2
    padded_side = longer * (1 + 2 * pad_fraction)
    stages = [[View(centre_x - padded_side / 2, centre_y - padded_side / 2, padded_side)],
              [View(centre_x - longer / 2, centre_y - longer / 2, longer)]]
    if longer > tile_above and grid > 1:
        tiles: list[View] = []
        stages.append(tiles)
        side = longer / (grid - (grid - 1) * overlap)
        step = side * (1 - overlap)
        columns = max(1, int(np.ceil((width - side) / step - 1e-6)) + 1)
        rows = max(1, int(np.ceil((height - side) / step - 1e-6)) + 1)
        for row in range(rows):
            for column in range(columns):
                left = min(column * step, max(width - side, 0))
                top = min(row * step, max(height - side, 0))
                interior = (column > 0, row > 0, column < columns - 1, row < rows - 1)
                tiles.append(View(left, top, side, interior))
    return stages


def render_view(image: Image.Image, view: View, size: int) -> np.ndarray:
    """Cut a view out of the photo, resized to the detector's square input; outside the photo is black."""
    scale = size / view.side
    x0, y0 = max(view.left, 0.0), max(view.top, 0.0)
    x1, y1 = min(view.left + view.side, image.width), min(view.top + view.side, image.height)
    out_w, out_h = max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))
    patch = image.resize((out_w, out_h), Image.Resampling.BILINEAR, box=(x0, y0, x1, y1), reducing_gap=3.0)
    canvas = Image.new("RGB", (size, size))
    canvas.paste(patch, (round((x0 - view.left) * scale), round((y0 - view.top) * scale)))
    return np.asarray(canvas, dtype=np.uint8)


class FaceDetector:
    """Finds faces in upright RGB photos; boxes and keypoints come back in the photo's pixels."""

    def __init__(self, device: str = "auto", threads: int | None = None,
                 score_threshold: float = SCORE_THRESHOLD, min_face_size: float = MIN_FACE_SIZE,
                 pad_fraction: float = PAD_FRACTION, tile_above: int = TILE_ABOVE,
                 tile_grid: int = TILE_GRID, turned_look_degrees: tuple[float, ...] = TURNED_LOOK_DEGREES,
                 model_path: Path = DETECTOR_PATH, quantized: bool = True) -> None:
        self.model = OnnxModel(model_path, device=device, threads=threads, cuda_batch=CUDA_BATCH,
                               quantized=quantized)
        meta = self.model.metadata
        self.input_size = int(meta["input_size"])
        self.keypoint_names: list[str] = json.loads(meta["keypoints"])
        self.anchors = anchor_centres(self.input_size, int(meta["anchor_stride"]),
                                      float(meta["anchor_offset"]))
        self.score_threshold = score_threshold
        self.min_face_size = min_face_size
        self.pad_fraction = pad_fraction
        self.tile_above = tile_above
        self.tile_grid = tile_grid
        self.turned_look_degrees = turned_look_degrees

    def stages_for(self, width: int, height: int) -> list[list[View]]:
        return plan_stages(width, height, self.pad_fraction, self.tile_above, self.tile_grid, TILE_OVERLAP)

    def views_for(self, width: int, height: int) -> list[View]:
        return [view for stage in self.stages_for(width, height) for view in stage]

    def detect(self, image: Image.Image, main_only: bool = False) -> list[Face]:
        """Faces in one upright RGB image, the main face first."""
        return self.detect_photo(Photo.whole(image), main_only)

    def detect_photo(self, photo: Photo, main_only: bool = False) -> list[Face]:
        """Faces in a photo decoded at any scale, the main face first, in full-resolution pixels.

        The views are planned on the full size, whatever the scale, so a reduced decode is looked at
        through the same windows as the full one. `main_only`: stop at the first stage of views
        that finds a face; the faces returned are then those of that stage. Otherwise every view is
        looked through in one batch, and the main face the coarse-to-fine looks settle on replaces
        the blend of all views for that face and stays first: one face, one box, whichever way it was
        asked for.
        A photo in which no look finds a face gets a last one through turned views (turned_look).
        """
        stages = self.stages_for(*photo.full_size)
        if main_only:
            faces = self.coarse_to_fine(photo, stages, (self.look(photo, stage) for stage in stages))
        else:
            views = [view for stage in stages for view in stage]
            regressors, logits = self.look(photo, views)
            bounds = np.cumsum([0, *(len(stage) for stage in stages)])
            per_stage = [[regressors[start:end], logits[start:end]]
                         for start, end in zip(bounds[:-1], bounds[1:], strict=True)]
            settled = self.coarse_to_fine(photo, stages, per_stage)
            faces = self.confirm(photo, self.decode(views, regressors, logits))
            if settled:
                faces = with_face_kept(faces, settled[0], photo.full_size)
        return faces or self.turned_look(photo, main_only)

    def coarse_to_fine(self, photo: Photo, stages: list[list[View]],
                       outputs: Iterable[list[np.ndarray]]) -> list[Face]:
        """The faces of the first stage of views that settles the main face. `outputs` gives each
        stage's raw outputs; a lazy iterable runs the detector for a stage only when it is reached."""
        views: list[View] = []
        seen: list[list[np.ndarray]] = []
        faces: list[Face] = []
        for number, (stage, stage_outputs) in enumerate(zip(stages, outputs, strict=False)):
            views += stage
            seen.append(stage_outputs)
            regressors, logits = (np.concatenate(parts) for parts in zip(*seen, strict=True))
            faces = self.confirm(photo, self.decode(views, regressors, logits), main_only=True)
            if faces and (number > 0 or self.sees_sharply(faces[0], stage[0])):
                break
        return faces

    def turned_look(self, photo: Photo, main_only: bool) -> list[Face]:
        """The padded whole photo turned by each of TURNED_LOOK_DEGREES, in one batch: BlazeFace misses
        tilted and turned heads it finds once the view is turned (docs/how-it-works.md, "Face detection")."""
        if not self.turned_look_degrees:
            return []
        matrices = [turned_view_matrix(photo.full_size, angle, self.pad_fraction, self.input_size)
                    for angle in self.turned_look_degrees]
        found = [mapped_face(face, matrix)
                 for matrix, faces in zip(matrices, self.look_at_crops(photo, matrices), strict=True)
                 for face in faces]
        if not found:
            return []
        faces = self.blend(np.array([face.box for face in found]), np.stack([f.keypoints for f in found]),
                           np.array([face.score for face in found]))
        return self.confirm(photo, faces, main_only)

    def look(self, photo: Photo, views: list[View]) -> list[np.ndarray]:
        """The raw outputs (regressors, logits) of a set of views, run in one batch."""
        batch = np.stack([render_view(photo.image, view.reduced(photo.reduction), self.input_size)
                          for view in views])
        return self.model.run(batch)

    def sees_sharply(self, face: Face, view: View) -> bool:
        return face.width * self.input_size / view.side >= SHARP_FACE_PIXELS

    def confirm(self, photo: Photo, faces: list[Face], main_only: bool = False) -> list[Face]:
        """Keep uncertain faces only if the detector finds them again on an upright crop centred on them;
        the faces come back the main face first.

        `main_only`: only the main face that stands needs its second look, so the faces are looked
        at again one by one, most prominent first, until one stands; the uncertain faces less prominent
        than it are dropped unlooked (they would only be counted), which spares a detector run per small
        face of a group photo.
        """
        faces = by_prominence(faces, photo.full_size)
        if main_only:
            for index, face in enumerate(faces):
                if face.score >= CONFIRM_BELOW or self.found_again(photo, [face])[0]:
                    sure = [smaller for smaller in faces[index + 1:] if smaller.score >= CONFIRM_BELOW]
                    return [face, *sure]
            return []
        doubtful = [face for face in faces if face.score < CONFIRM_BELOW]
        if not doubtful:
            return faces
        refuted = {id(face) for face, stands in zip(doubtful, self.found_again(photo, doubtful), strict=True)
                   if not stands}
        return [face for face in faces if id(face) not in refuted]

    def found_again(self, photo: Photo, faces: list[Face]) -> list[bool]:
        """For each face, whether the detector finds it again on an upright crop centred on it (one batch)."""
        size = self.input_size
        matrices = [upright_view_matrix(face, size) for face in faces]
        again = self.look_at_crops(photo, matrices, CONFIRM_THRESHOLD)
        return [any(is_same_face(found, face, size) for found in found_faces)
                for face, found_faces in zip(faces, again, strict=True)]

    def look_at_crops(self, photo: Photo, matrices: list[np.ndarray],
                      threshold: float | None = None) -> list[list[Face]]:
        """The faces in each of several crops warped out of the photo (one batch), in crop pixels; each
        matrix maps the crop's pixels onto the photo's full-resolution ones."""
        size = self.input_size
        crops = [np.asarray(warp(photo.image, matrix / photo.reduction, size)) for matrix in matrices]
        regressors, logits = self.model.run(np.stack(crops))
        whole_crop = [View(0, 0, size)]
        return [self.decode(whole_crop, crop_regs[None], crop_logits[None], threshold)
                for crop_regs, crop_logits in zip(regressors, logits, strict=True)]

    def decode(self, views: list[View], regressors: np.ndarray, logits: np.ndarray,
               threshold: float | None = None) -> list[Face]:
        """Turn raw outputs of all views into blended faces in photo pixels."""
        threshold = self.score_threshold if threshold is None else threshold
        boxes, keypoints, scores = [], [], []
        for view, view_regs, view_logits in zip(views, regressors, logits, strict=True):
            logit = np.clip(view_logits[:, 0], -RAW_SCORE_LIMIT, RAW_SCORE_LIMIT)
            probability = 1 / (1 + np.exp(-logit))
            keep = np.flatnonzero(probability > threshold)
            if keep.size == 0:
                continue
            relative = view_regs[keep].reshape(-1, 8, 2) / self.input_size
            centre = relative[:, 0] + self.anchors[keep]
            half_size = relative[:, 1] / 2
            origin = np.array([view.left, view.top])
            view_boxes = np.concatenate([centre - half_size, centre + half_size], axis=1) * view.side
            view_boxes += np.tile(origin, 2)
            view_points = (relative[:, 2:] + self.anchors[keep][:, None, :]) * view.side + origin
            whole = ~view.edge_cut(view_boxes, 0.02 * view.side)
            boxes.append(view_boxes[whole])
            keypoints.append(view_points[whole])
            scores.append(probability[keep][whole])
        if not boxes:
            return []
        return self.blend(np.concatenate(boxes), np.concatenate(keypoints), np.concatenate(scores))

    def blend(self, boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray) -> list[Face]:
        """Overlapping detections blended into faces (weighted NMS), specks dropped, largest first."""
        merged = weighted_nms(boxes, keypoints, scores)
        faces = [Face(tuple(float(v) for v in box), pts, float(score)) for box, pts, score in merged]
        faces = [face for face in faces if min(face.width, face.height) >= self.min_face_size]
        return sorted(faces, key=lambda face: face.area, reverse=True)


def with_face_kept(faces: list[Face], kept: Face, size: tuple[int, int]) -> list[Face]:
    """`kept` first, in place of every face that is the same face (overlapping it), then the others by
    prominence: the main face of every view is the one the coarse-to-fine looks chose."""
    others = [face for face in faces
              if float(iou(np.array(kept.box), np.array([face.box]))[0]) < SAME_FACE_IOU]
    return [kept, *by_prominence(others, size)]


def turned_view_matrix(full_size: tuple[int, int], degrees: float, pad_fraction: float,
                       size: int) -> np.ndarray:
    """Map a size x size view onto the photo: the padded whole photo, turned by `degrees` about its centre."""
    width, height = full_size
    side = max(width, height) * (1 + 2 * pad_fraction)
    centre = np.array([width / 2, height / 2])
    angle = np.deg2rad(degrees)
    direction = np.array([np.cos(angle), np.sin(angle)])
    source = np.array([centre - direction * side / 2, centre + direction * side / 2])
    target = np.array([[0.0, size / 2], [float(size), size / 2]])
    return similarity_matrix(source, target)


def mapped_face(face: Face, matrix: np.ndarray) -> Face:
    """A face found in a turned view, in photo pixels: keypoints mapped exactly, the box an upright one
    of the same size about the mapped centre."""
    linear, offset = matrix[:, :2], matrix[:, 2]
    keypoints = face.keypoints @ linear.T + offset
    centre = np.array([(face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2]) @ linear.T + offset
    scale = float(np.sqrt(abs(np.linalg.det(linear))))
    half = np.array([face.width, face.height]) * scale / 2
    return Face((*(centre - half).tolist(), *(centre + half).tolist()), keypoints, face.score)


def is_same_face(found: Face, candidate: Face, size: int) -> bool:
    """Whether a face found on the second look is the candidate itself (centred, the expected size)."""
    scale = CONFIRM_FACE_SHARE * size / max(candidate.width, candidate.height)
    half_w, half_h = candidate.width * scale / 2, candidate.height * scale / 2
    expected = np.array([size / 2 - half_w, size / 2 - half_h, size / 2 + half_w, size / 2 + half_h])
    return float(iou(expected, np.array([found.box]))[0]) >= CONFIRM_IOU


def upright_view_matrix(face: Face, size: int) -> np.ndarray:
    """Map a size x size view onto the photo: the face centred, eyes level, box CONFIRM_FACE_SHARE wide."""
    centre = np.array([(face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2])
    eye_axis = face.keypoints[1] - face.keypoints[0]
    direction = eye_axis / max(float(np.linalg.norm(eye_axis)), 1e-6)
    half = max(face.width, face.height) / 2 / CONFIRM_FACE_SHARE
    source = np.array([centre - direction * half, centre + direction * half])
    target = np.array([[0.0, size / 2], [float(size), size / 2]])
    return similarity_matrix(source, target)


def anchor_centres(input_size: int, stride: int, offset: float) -> np.ndarray:
    """MediaPipe's SSD anchors for the full-range model: one per cell of a (size/stride)^2 grid."""
    cells = input_size // stride
    steps = (np.arange(cells) + offset) / cells
    ys, xs = np.meshgrid(steps, steps, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)
