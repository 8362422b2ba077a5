"""gendersort: tell, for every photo in a folder tree, whether the face in it is male or female."""

from gendersort.detector import FaceDetector
from gendersort.faces import Face
from gendersort.imaging import load_upright

__all__ = ["Face", "FaceDetector", "load_upright"]
__version__ = "0.1.0"
