"""gendersort: tell, for every photo in a folder tree, whether the face in it is male or female."""

from gendersort.faces.detector import FaceDetector
from gendersort.faces.face import Face
from gendersort.photos.imaging import load_upright
from gendersort.photos.walk import FoundFile, find_images
from gendersort.pipeline.api import classify_files, classify_image, classify_paths
from gendersort.pipeline.results import FacePrediction, ImageResult
from gendersort.sorting.job import Placement, SortJob

__all__ = [
    "Face", "FaceDetector", "FacePrediction", "FoundFile", "ImageResult", "Placement", "SortJob",
    "classify_files", "classify_image", "classify_paths", "find_images", "load_upright",
]
__version__ = "0.1.0"
