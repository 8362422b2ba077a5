"""Models: the shipped ONNX models, their onnxruntime sessions and the gender classifier."""
