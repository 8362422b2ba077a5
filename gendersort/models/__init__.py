"""Models: the shipped ONNX models, their onnxruntime sessions and metadata (the chip geometry), and the
gender classifier. Before faces/: the face detector is one of these models."""
