#!/usr/bin/env bash
# bench-guard.sh: a regression guard for the CPU backend's assembly
# kernels. It builds the runtime/cpu test binary twice, with the assembly
# (the implementation the CPU gets: AVX-512 or AVX2) and with -tags noasm
# (pure Go), runs the kernel benchmarks of both, alternating, ROUNDS
# times in the same run, and compares the median ns/op of every
# benchmark. It fails when the assembly is not faster than the pure-Go
# path by at least MIN_SPEEDUP. Benchmarks, not a timed unit test: run it
# on a quiet machine (the ratio, not the absolute time, is what counts).
#
#   scripts/bench-guard.sh                 # defaults below
#   ROUNDS=7 BENCHTIME=20x scripts/bench-guard.sh
#   BENCH='GEMV' scripts/bench-guard.sh    # a subset (a -bench regexp)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

rounds="${ROUNDS:-5}"
benchtime="${BENCHTIME:-10x}"
bench="${BENCH:-GEMV|GEMM|SelectiveScan|SelectiveStateUpdate|CausalConv1d|RMSNorm|VectorMath}"
min_speedup="${MIN_SPEEDUP:-1.0}"

case "$(go env GOARCH)" in
amd64) ;;
*)
	echo "bench-guard: no assembly kernels on $(go env GOARCH); nothing to compare" >&2
	exit 0
	;;
esac

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/asm.test" ./runtime/cpu
go test -c -tags noasm -o "$tmp/noasm.test" ./runtime/cpu

run() { # binary, implementation, output file
	(cd runtime/cpu && SSMC_BENCH_IMPL="$2" "$1" -test.run '^$' -test.bench "$bench" \
		-test.benchtime "$benchtime" -test.count 1) | grep '^Benchmark' >>"$3" || true
}

for r in $(seq "$rounds"); do
	echo "bench-guard: round $r/$rounds" >&2
	run "$tmp/asm.test" best "$tmp/asm.txt"
	run "$tmp/noasm.test" go "$tmp/noasm.txt"
done

if ! grep -q . "$tmp/asm.txt" || ! grep -q . "$tmp/noasm.txt"; then
	echo "bench-guard: no benchmark results (is the -bench pattern '$bench' right?)" >&2
	exit 1
fi

# Median ns/op per benchmark, the implementation suffix dropped.
medians() {
	awk '{
		name = $1; sub(/-[0-9]+$/, "", name); impl = name
		sub(/\/impl=[a-z0-9]+/, "", name); sub(/.*impl=/, "", impl)
		for (i = 2; i < NF; i++) if ($(i+1) == "ns/op") v = $i
		print name, impl, v
	}' "$1" | sort -k1,1 -k3,3g | awk '
		{ n[$1]++; vals[$1, n[$1]] = $3; impl[$1] = $2 }
		END { for (k in n) { m = n[k]; print k, impl[k], (m % 2 ? vals[k, (m+1)/2] : (vals[k, m/2] + vals[k, m/2+1]) / 2) } }' | sort
}
medians "$tmp/asm.txt" >"$tmp/asm.med"
medians "$tmp/noasm.txt" >"$tmp/noasm.med"

join "$tmp/asm.med" "$tmp/noasm.med" | awk -v min="$min_speedup" -v rounds="$rounds" '
	BEGIN { printf "%-48s %-8s %14s %14s %9s\n", "benchmark (median of " rounds ")", "asm", "asm ns/op", "noasm ns/op", "speedup" }
	{
		s = $5 / $3
		flag = (s > min) ? "" : "  <-- not faster"
		printf "%-48s %-8s %14.0f %14.0f %8.2fx%s\n", $1, $2, $3, $5, s, flag
		if (s <= min) bad++
		n++
	}
	END {
		if (n == 0) { print "bench-guard: no benchmark ran on both paths"; exit 1 }
		if (bad) { printf "bench-guard: FAIL: %d of %d benchmarks not faster with assembly (minimum speedup %s)\n", bad, n, min; exit 1 }
		printf "bench-guard: ok: assembly faster in all %d benchmarks\n", n
	}'
