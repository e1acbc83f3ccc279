#!/usr/bin/env bash
# storyteller vs PyTorch CPU fp32 training speed on one config, measured side by side: N rounds, each running
# `storyteller bench` and ../shared/bench/torch_reference.py (Debian's python3-torch) one after the other, so a
# noisy shared machine slows both alike. Prints each round's tok/s, the medians and the ratio.
# Usage: [PYTHON=/usr/bin/python3] bash tools/bench_cpu_ratio.sh [config=configs/tiny.yaml] [rounds=3] [steps=20]
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-configs/tiny.yaml}
rounds=${2:-3}
steps=${3:-20}
torch_ref=${TORCH_REFERENCE:-../shared/bench/torch_reference.py}
ours=()
theirs=()
for r in $(seq 1 "$rounds"); do
  a=$(deno run -A main.ts bench -c "$config" --steps "$steps" --top 0 2>&1 | sed -nE 's/^float32 +([0-9,]+) tok\/s.*/\1/p' | tr -d ,)
  b=$("${PYTHON:-python3}" "$torch_ref" "$config" --modes fp32 --steps "$steps" 2>&1 | sed -nE 's/^fp32 .* ([0-9,]+) tok\/s.*/\1/p' | tr -d ,)
  echo "round $r: storyteller ${a:-?} tok/s, pytorch ${b:-?} tok/s"
  ours+=("${a:-0}")
  theirs+=("${b:-0}")
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
mo=$(median "${ours[@]}")
mt=$(median "${theirs[@]}")
echo "median: storyteller ${mo} tok/s, pytorch ${mt} tok/s, ratio $(awk -v a="$mo" -v b="$mt" 'BEGIN {printf "%.3f", b > 0 ? a / b : 0}')"
