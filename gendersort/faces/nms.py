"""MediaPipe's weighted non-maximum suppression: overlapping detections are blended, not dropped."""

from __future__ import annotations

import numpy as np

IOU_THRESHOLD = 0.3
CONTAINED_THRESHOLD = 0.7


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one (4,) box against (N, 4) boxes."""
    inter = _intersection(box, boxes)
    union = _area(box) + _area(boxes) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
                 iou_threshold: float = IOU_THRESHOLD) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Blend every cluster of boxes overlapping the best remaining one (IoU above the threshold).

    Box and keypoints are averaged weighted by score; the cluster keeps its best score. A blended box
    lying mostly inside an already kept one (a face cut in part by a tile edge, say) is dropped.
    """
    order = np.argsort(-scores, kind="stable")
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    remaining = np.ones(len(scores), bool)  # in order of score, so the first one left is the best
    kept: list[tuple[np.ndarray, np.ndarray, float]] = []
    while remaining.any():
        best = int(remaining.argmax())
        cluster = remaining & (iou(boxes[best], boxes) > iou_threshold)
        cluster[best] = True
        weights = scores[cluster] / scores[cluster].sum()
        box = (boxes[cluster] * weights[:, None]).sum(axis=0)
        points = (keypoints[cluster] * weights[:, None, None]).sum(axis=0)
        if not any(_contained(box, other) for other, _, _ in kept):
            kept.append((box, points, float(scores[best])))
        remaining &= ~cluster
    return kept


def _contained(box: np.ndarray, other: np.ndarray) -> bool:
    inter = float(_intersection(box, other[None])[0])
    return inter > CONTAINED_THRESHOLD * min(float(_area(box)), float(_area(other)))


def _intersection(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    width = np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0])
    height = np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1])
    return np.clip(width, 0, None) * np.clip(height, 0, None)


def _area(boxes: np.ndarray) -> np.ndarray:
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
