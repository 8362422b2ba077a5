"""Building the models: the scripts import onnxruntime themselves, so its telemetry goes off first."""

from gendersort.models.device import keep_telemetry_off

keep_telemetry_off()
