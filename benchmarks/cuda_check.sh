#!/usr/bin/env bash
# --device cuda on a machine with an NVIDIA GPU and driver. Not run yet: no GPU was lent to the sessions so far.
#
#   benchmarks/cuda_check.sh prepare   # here (network, ../shared): what the GPU machine needs, in build/cuda-check
#   benchmarks/cuda_check.sh run       # there: the gpu extra from the carried wheel, the tests that need
#                                      # CUDA, then python -m benchmarks.cuda_check (add --quick for a smoke run)
#
# The device machine reaches no network and takes 64 MiB per call, the working tree included. NVIDIA's CUDA 13
# and cuDNN 9 wheels, which the gpu extra brings, are in its Python already (KINDS.md: nvidia-cublas,
# nvidia-cudnn-cu13, ...), so only onnxruntime-gpu travels: its wheel (about 245 MB for cp312) in parts of
# 40 MiB, one device call each while the machine stays warm (carry ["build/cuda-check/wheel.partNN"], the
# command `true`); the last call carries build/cuda-check/sources and build/cuda-check/wheel.name and runs
# `benchmarks/cuda_check.sh run`.
set -euo pipefail
cd "$(dirname "$0")/.."
CHECK=build/cuda-check
WHEEL=onnxruntime-gpu==1.31.1

prepare() {
    rm -rf "$CHECK" && mkdir -p "$CHECK/sources/celeba-gender/val"
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 -d "$CHECK" "$WHEEL"
    (cd "$CHECK" && ls onnxruntime_gpu-*.whl >wheel.name && split -b 40M -d onnxruntime_gpu-*.whl wheel.part \
        && rm onnxruntime_gpu-*.whl)
    # benchmarks/inputs.py's sources: dlib's group photos, and 1,000 CelebA val crops of each gender
    cp -r ../shared/data/dlib-faces "$CHECK/sources/"
    for gender in male female; do
        mkdir "$CHECK/sources/celeba-gender/val/$gender"
        find "../shared/data/celeba-gender/val/$gender" -name '*.jpg' | sort | head -1000 \
            | xargs cp -t "$CHECK/sources/celeba-gender/val/$gender"
    done
    du -sh "$CHECK"/*
}

run() {
    local site=/tmp/gendersort-site wheel
    wheel="/tmp/$(cat "$CHECK/wheel.name")"
    cat "$CHECK"/wheel.part* >"$wheel"
    nvidia-smi
    # The gpu extra offline: pip resolves onnxruntime-gpu[cuda,cudnn] against this Python's NVIDIA wheels
    # (it must want to install onnxruntime-gpu alone), then installs it beside them, where
    # onnxruntime.preload_dlls() looks (site-packages/nvidia), as a venv with the gpu extra has it.
    python3 -m pip install --dry-run --no-index --find-links /tmp "onnxruntime-gpu[cuda,cudnn]"
    python3 -m pip install -q --no-index --no-deps --no-compile --target "$site" "$wheel"
    ln -sfn "$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/nvidia" "$site/nvidia"
    export PYTHONPATH="$site:$PWD"
    # onnxruntime's telemetry off in the python3 -c below too, which imports it without gendersort
    export ORT_DISABLE_TELEMETRY="${ORT_DISABLE_TELEMETRY:-1}"
    python3 -c 'import onnxruntime as o; print(o.__file__, o.__version__, o.get_available_providers())'
    python3 -m gendersort info --device cuda
    mkdir -p ../shared && ln -sfn "$PWD/$CHECK/sources" ../shared/data  # benchmarks/inputs.py reads there
    python3 -m pytest -q -rs -p no:cacheprovider tests/test_device.py tests/test_cli.py -k "cuda or device or info"
    python3 -m benchmarks.cuda_check "$@"
}

case "${1:-}" in
    prepare) prepare ;;
    run) shift && run "$@" ;;
    *) echo "usage: $0 prepare | run [--quick]" >&2 && exit 1 ;;
esac
