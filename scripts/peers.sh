#!/usr/bin/env bash
# peers.sh: ssmc and ONNX Runtime on the same Mamba-130m-shaped weights,
# measured alternately in one run (these machines' memory bandwidth and
# clocks drift between runs: compare the ratios, not absolute numbers
# from different days). Not part of CI or go test.
#
#   scripts/peers.sh                 # ROUNDS=3 RUNS=5
#   ORT_DIR=/tmp/ort scripts/peers.sh
#
# Needs onnxruntime-node in $ORT_DIR/node_modules (default /tmp/ort:
# `npm install --prefix /tmp/ort --ignore-scripts onnxruntime-node@1.30.0`,
# the CPU library ships inside the package) and node. Writes its files to
# $WORK (default /tmp/ssmc-peers): the checkpoint (fixturegen seed 1), the
# f32 and bf16 artifacts and the ONNX export (Scan graph, opset 18).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

work="${WORK:-/tmp/ssmc-peers}"
ort="${ORT_DIR:-/tmp/ort}"
rounds="${ROUNDS:-3}"
runs="${RUNS:-5}"
mkdir -p "$work"

if [ ! -d "$ort/node_modules/onnxruntime-node" ]; then
	echo "peers: no onnxruntime-node in $ort/node_modules; install it with:" >&2
	echo "  npm install --prefix $ort --ignore-scripts onnxruntime-node@1.30.0" >&2
	exit 1
fi
go build -o "$work/ssmc" ./cmd/ssmc
if [ ! -f "$work/m130/model.safetensors" ]; then
	go run ./tests/fixturegen -out "$work/m130" -seed 1 -d-model 768 -n-layer 24 -vocab 50280 -tied -batch 1 -seq 2
fi
"$work/ssmc" compile "$work/m130" -o "$work/f32.ssmc"
"$work/ssmc" compile "$work/m130" -dtype bf16 -o "$work/bf16.ssmc"
if [ ! -f "$work/m130.onnx" ]; then
	SSMC_EXPORT_ONNX_DIR="$work/m130" SSMC_EXPORT_ONNX_OUT="$work/m130.onnx" \
		go test ./importers/onnx -run TestExportMambaONNXFile -count=1 >/dev/null
fi
if [ ! -f "$work/m130-decode.onnx" ]; then
	SSMC_EXPORT_ONNX_SHAPE=decode SSMC_EXPORT_ONNX_DIR="$work/m130" SSMC_EXPORT_ONNX_OUT="$work/m130-decode.onnx" \
		go test ./importers/onnx -run TestExportMambaONNXFile -count=1 >/dev/null
fi

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for r in $(seq "$rounds"); do
	echo "round $r/$rounds" >&2
	NODE_PATH="$ort/node_modules" node tools/peers/ort-bench.js "$work/m130.onnx" "$runs" 128,512 |
		awk '/^prefill/ {print "ort f32 prefill" $2, $3}' >>"$work/results.$$"
	NODE_PATH="$ort/node_modules" node tools/peers/ort-bench.js "$work/m130-decode.onnx" decode "$runs" 1,8 24 1536 4 16 |
		awk '/^decode batch/ {print "ort f32 decode" $3, $4}' >>"$work/results.$$"
	for dt in f32 bf16; do
		"$work/ssmc" bench "$work/$dt.ssmc" --runs "$runs" --backend cpu 2>/dev/null |
			awk -v dt="$dt" '/^prefill/ {print "ssmc " dt " prefill" $2, $3} /^decode batch/ {print "ssmc " dt " decode" $3, $4}' >>"$work/results.$$"
	done
done
echo "| system | weights | prefill 512 | prefill 128 | decode b=1 | decode b=8 |"
echo "|---|---|---|---|---|---|"
row() {
	local sys=$1 dt=$2 line="| $1 | $2 |"
	for k in prefill512 prefill128 decode1 decode8; do
		v=$(awk -v key="$sys $dt $k" '$1" "$2" "$3 == key {print $4}' "$work/results.$$" | median)
		line="$line ${v:--} |"
	done
	echo "$line"
}
row ssmc f32
row ssmc bf16
row ort f32
rm -f "$work/results.$$"
