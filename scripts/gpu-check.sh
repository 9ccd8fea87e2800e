#!/usr/bin/env bash
# gpu-check.sh checks ssmc's GPU backend on a machine with an NVIDIA GPU, a
# driver and NVRTC (libnvrtc.so): it runs the backend's conformance tests
# (every fused op and every other kernel on the GPU against runtime/ref and
# the CPU backend, the tiny-mamba checkpoint end to end with the states on
# the device), then benchmarks the selective scan (achieved GB/s against
# the device's peak) and the prefill and decoding of a 24-layer
# Mamba-130m-shaped model (tokens/s). It takes a few minutes.
#
# SSMC_REQUIRE_GPU=1 makes the tests fail, rather than skip, when no GPU
# can be used. Go must be on PATH.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export SSMC_REQUIRE_GPU=1

if command -v nvidia-smi >/dev/null 2>&1; then
	nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
fi

echo "--- conformance (GPU against runtime/ref and the CPU backend)"
go test ./runtime/cuda -count=1 -timeout 3m -v -run 'TestAvailable|TestGPU'

echo "--- benchmarks (scan GB/s; 130m prefill and decode tokens/s)"
go test ./runtime/cuda -count=1 -timeout 4m -run '^$' \
	-bench 'Scan130m|Prefill130m|Decode130m' -benchtime 20x
