#!/usr/bin/env bash
# standalone.sh — build Cairn and run `cairn standalone` with embedded
# storage (gRPC :19530, health/metrics :9091, data in ./cairn-data).
# Extra arguments go to cairn, e.g. `scripts/standalone.sh --port 19531`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build cairn
exec build/cmd/cairn standalone "$@"
