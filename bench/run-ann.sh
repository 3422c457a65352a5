#!/bin/sh
# run-ann.sh DATASET_PREFIX — build (unless CAIRN_BUILD_DIR names a build
# directory that has bench/ann_bench) and run the ANN benchmark on one
# dataset, e.g.  bench/run-ann.sh ../shared/datasets/glove-100-angular
# Prints the sweep, one "ann dataset=... index=... peer=..." line per index
# and a table. Needs libhnswlib-dev and libfaiss-dev.
set -eu
if [ $# -ne 1 ]; then
  echo "usage: $0 DATASET_PREFIX" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${CAIRN_BUILD_DIR:-$root/build-bench}
if [ ! -x "$build/bench/ann_bench" ] || [ -z "${CAIRN_BUILD_DIR:-}" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCAIRN_BENCH=ON >/dev/null
  ninja -C "$build" -j2 ann_bench >/dev/null
fi
exec "$build/bench/ann_bench" "$1"
