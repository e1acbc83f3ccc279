#!/usr/bin/env bash
# The GPU test subset a device session runs (tools/device/run.sh): every kernel family's contract tests, which loop
# over every variant the adapter can run (tile sizes, split-K, attention row counts, f16), the GPU runtime's tests,
# the tuner's, and the whole-model gradient check. `--list` prints the files (prepare.sh caches them).
set -euo pipefail
cd "$(dirname "$0")/../.."
files=$(ls src/kernels/*_test.ts src/gpu/*_test.ts tests/engine_test.ts tests/amp_test.ts tests/moe_test.ts)
if [ "${1:-}" = "--list" ]; then
  echo $files
else
  DENO_WEBGPU_BACKEND=vulkan,metal,dx12 STORYTELLER_TUNING=off deno test -A --parallel $files
fi
