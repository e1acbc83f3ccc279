#!/usr/bin/env bash
# Prepares what a GPU device session carries (see ../.library/device/README.md): .gl holds the Vulkan loader debs,
# .dt holds Deno's npm tarball, a warm DENO_DIR with only the runtime npm packages, a runtime-only deno config and a
# copy of ../shared/bench/torch_reference.py. Both folders are ignored through .git/info/exclude. Run once, here, in
# a session that has a device; then `run` with carry [".gl", ".dt"] and the command tools/device/run.sh prints.
set -euo pipefail
cd "$(dirname "$0")/../.."
for d in /.gl/ /.dt/; do grep -qxF "$d" .git/info/exclude || echo "$d" >>.git/info/exclude; done
mkdir -p .gl .dt /tmp/amd64/partial

o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
if ! ls .gl/libvulkan1_*.deb >/dev/null 2>&1; then
  apt-get "${o[@]}" update -qq
  (cd .gl && apt-get "${o[@]}" download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi
[ -f .dt/deno-linux-x64-glibc-2.9.6.tgz ] || (cd .dt && npm pack -q @deno/linux-x64-glibc@2.9.6 >/dev/null)
cp ../shared/bench/torch_reference.py .dt/

# The runtime imports only: the device cannot reach a registry, and the tokenizers/playwright packages would
# push the carried tree past 64 MiB.
python3 - <<'PY'
import json
d = json.load(open("deno.json"))
keep = ("commander", "yaml", "hono", "hono/")
dev = {
    "imports": {k: v for k, v in d["imports"].items() if k in keep},
    "compilerOptions": d["compilerOptions"],
    "unstable": d.get("unstable", []),
}
json.dump(dev, open(".dt/deno.device.json", "w"), indent=2)
PY
rm -rf .dt/denodir
DENO_DIR=.dt/denodir deno cache --config .dt/deno.device.json --node-modules-dir=none --no-lock \
  main.ts tools/bench_moe.ts tools/bench_serve.ts tools/bench_matmul.ts $(bash tools/device/gpu_tests.sh --list) >/dev/null
du -sh .gl .dt
