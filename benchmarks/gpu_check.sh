#!/usr/bin/env bash
# The GPU path, checked on a host with an NVIDIA GPU and no package index (../shared/gpu/README.md).
# Prepare here:  ../shared/gpu/prepare.sh simplejpeg==1.9.0 nvidia-ml-py==13.615.71
# then on the host, after the reassemble-and-install line:  bash benchmarks/gpu_check.sh
# Logs and files go to $OUT (or ./gpu-check); the summary table is printed last.
set -uo pipefail
out=${OUT:-gpu-check}
mkdir -p "$out"
nvidia-smi -L | tee "$out/nvidia-smi.txt"
python3 -c "import onnxruntime as o; print(o.__version__, o.get_available_providers())" | tee -a "$out/nvidia-smi.txt"
python3 benchmarks/gpu_check.py --out "$out" "$@" 2> "$out/gpu_check.stderr.log" | tee "$out/gpu_check.log"
status=${PIPESTATUS[0]}
tail -5 "$out/gpu_check.stderr.log"
exit "$status"
