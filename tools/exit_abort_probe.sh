#!/usr/bin/env bash
# Reproduces the test process's abort at exit ("double free or corruption", exit 134, after every test passed):
# four GPU test modules that each compile 40 fresh pipelines, run as `deno test --parallel` with a cold Mesa shader
# cache, N times with wgpu's default backends (OpenGL included) and N times with the compute backends only,
# alternating. Prints how many runs of each aborted. Usage: bash tools/exit_abort_probe.sh [N=60]
set -uo pipefail
n=${1:-60}
dir=$(mktemp -d)
for m in a b c d; do
  cat >"$dir/${m}_test.ts" <<'TS'
Deno.test("compile pipelines and leave them to the teardown", async () => {
  const adapter = await navigator.gpu.requestAdapter();
  const device = await adapter!.requestDevice();
  const salt = Math.random();
  for (let i = 0; i < 40; i++) {
    const code = `@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  x[g.x] = x[g.x] * ${salt + i}f + ${i}.0;
}`;
    const module = device.createShaderModule({ code });
    device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
  }
});
TS
done
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$dir}"
default=0
compute=0
for i in $(seq 1 "$n"); do
  (cd "$dir" && env -u DENO_WEBGPU_BACKEND MESA_SHADER_CACHE_DIR="$dir/cache-gl-$i" \
    deno test -A --parallel a_test.ts b_test.ts c_test.ts d_test.ts >/dev/null 2>&1) || default=$((default + 1))
  (cd "$dir" && DENO_WEBGPU_BACKEND=vulkan,metal,dx12 MESA_SHADER_CACHE_DIR="$dir/cache-vk-$i" \
    deno test -A --parallel a_test.ts b_test.ts c_test.ts d_test.ts >/dev/null 2>&1) || compute=$((compute + 1))
done
echo "default backends (OpenGL too): ${default} of ${n} runs aborted"
echo "compute backends only:         ${compute} of ${n} runs aborted"
rm -rf "$dir"
