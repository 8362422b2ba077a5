"""Class labels, in the classifier's output order (the ONNX metadata repeats it; the runtime checks)."""

LABELS = ("female", "male")
UNKNOWN = "unknown"
