#!/usr/bin/env bash
# The one script a GPU device session runs (prepared by tools/device/prepare.sh; carry .gl and .dt): every GPU figure
# the issues ask for, each command time-boxed so the whole fits one call, the log kept in $OUT/log.
#   device command:  bash tools/device/run.sh            (about 6 minutes on an H200)
#   GPU tests:       bash tools/device/run.sh --tests    (the GPU test subset, `tune`, bench_matmul; a call of its own)
#   local dry run:   DEVICE_LOCAL=1 bash tools/device/run.sh --quick
set -uo pipefail
cd "$(dirname "$0")/../.."
quick=0; [ "${1:-}" = "--quick" ] && quick=1
tests=0; [ "${1:-}" = "--tests" ] && tests=1
out=${OUT:-/tmp/device-out}; mkdir -p "$out"
if [ -z "${DEVICE_LOCAL:-}" ]; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
  mkdir -p /tmp/d && tar xzf .dt/deno-linux-x64-glibc-2.9.6.tgz -C /tmp/d
  D=/tmp/d/package/deno
else
  D=$(command -v deno)
fi
export DENO_DIR=.dt/denodir XDG_RUNTIME_DIR=/tmp NO_COLOR=1 PYTHONUNBUFFERED=1
R=("$D" run -A --config .dt/deno.device.json --no-lock --node-modules-dir=none --cached-only)
step() {
  local limit=$1; shift
  echo "== $*" | tee -a "$out/log"
  timeout "$limit" "$@" 2>&1 | tee -a "$out/log"
}
if [ $quick = 1 ]; then
  cfg=tiny; steps=3; serve=(--config tiny --streams 1,8 --tokens 16)
else
  cfg=base_model; steps=20; serve=(--config base_model --streams 1,8,32 --tokens 128)
fi
nvidia-smi --query-gpu=name,driver_version,clocks.sm --format=csv 2>/dev/null | tee -a "$out/log"
if [ $tests = 1 ]; then
  # The GPU test subset: every kernel variant against its reference on the configurations this GPU picks; then the
  # tuner's table and every matmul variant's time on the config's shapes.
  step 300 env STORYTELLER_TUNING=off DENO_WEBGPU_BACKEND=vulkan "$D" test -A --config .dt/deno.device.json \
    --no-lock --node-modules-dir=none --cached-only $(bash tools/device/gpu_tests.sh --list)
  step 150 "${R[@]}" main.ts tune -c base_model
  step 120 "${R[@]}" tools/bench_matmul.ts base_model --reps 20 --rounds 3
  exit 0
fi
step 60 "${R[@]}" main.ts gpu --seconds 1
step 120 "${R[@]}" main.ts bench -c $cfg --steps $steps
step 120 "${R[@]}" main.ts bench -c $cfg --steps $steps --split-target 0
step 120 "${R[@]}" main.ts bench -c $cfg --steps $steps --set training.use_amp=true --set training.amp_dtype=float16
step 120 "${R[@]}" main.ts bench -c $cfg --steps $steps --set training.use_amp=true --set training.amp_dtype=bfloat16
if [ $quick = 0 ]; then
  step 150 "${R[@]}" tools/bench_moe.ts
  step 150 "${R[@]}" tools/bench_serve.ts "${serve[@]}"
  step 120 python3 .dt/torch_reference.py configs/base_model.yaml --modes fp32,bf16 --steps 30
  step 120 python3 .dt/torch_reference.py configs/moe_model.yaml --modes fp32,bf16 --steps 30
else
  step 150 "${R[@]}" tools/bench_serve.ts "${serve[@]}"
fi
