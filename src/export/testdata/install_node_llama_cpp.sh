#!/usr/bin/env bash
# Installs the real llama.cpp the export tests run: node-llama-cpp's prebuilt CPU binaries for this machine only
# (its CUDA/Vulkan variants are optional dependencies and are left out), with no download and no build
# (NODE_LLAMA_CPP_SKIP_DOWNLOAD, --ignore-scripts). About 85 MB. Prints the node_modules directory.
set -euo pipefail
version=3.22.1
dest="${STORYTELLER_LLAMA_CPP:-${XDG_CACHE_HOME:-$HOME/.cache}/storyteller/node-llama-cpp}"
case "$(uname -m)" in
  x86_64) platform=linux-x64 ;;
  aarch64) platform=linux-arm64 ;;
  *) echo "Cannot install node-llama-cpp: no prebuilt CPU package for $(uname -m)" >&2; exit 1 ;;
esac
if ! grep -qs "\"version\": \"$version\"" "$dest/node_modules/@node-llama-cpp/$platform/package.json"; then
  mkdir -p "$dest"
  NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --prefix "$dest" --omit=optional --ignore-scripts \
    --no-audit --no-fund --no-save --loglevel=error "node-llama-cpp@$version" "@node-llama-cpp/$platform@$version" >&2
fi
echo "$dest/node_modules"
