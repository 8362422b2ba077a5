"""gendersort: tell, for every photo in a folder tree, whether the face in it is male or female."""

from gendersort.api import classify_files, classify_image, classify_paths
from gendersort.detector import FaceDetector
from gendersort.faces import Face
from gendersort.files import FoundFile, find_images
from gendersort.imaging import load_upright
from gendersort.results import FacePrediction, ImageResult
from gendersort.sorting import Placement, SortJob

__all__ = [
    "Face", "FaceDetector", "FacePrediction", "FoundFile", "ImageResult", "Placement", "SortJob",
    "classify_files", "classify_image", "classify_paths", "find_images", "load_upright",
]
__version__ = "0.1.0"
