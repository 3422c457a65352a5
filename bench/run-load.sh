#!/bin/sh
# run-load.sh [--quick] [load_gen flags...] — build `cairn` and bench/load_gen
# in build-load (or CAIRN_BUILD_DIR) and run the server benchmarks of
# `cairn standalone` (docs/bench.md, "Server benchmarks"): insert throughput
# with durable acks, search QPS/latency next to the index library in-process,
# kill -9 recovery and RSS per million rows. Prints one
# `load metric=... value=...` line per figure and a table.
#
# Default sizes fit in about 10 minutes on a 2-core machine; --quick runs
# small sizes (about a minute) to check that everything works. Any other
# flags go to load_gen (see `load_gen --help`) and override the defaults.
# Only 127.0.0.1 is used: the server is started with grpc.host and
# http.host set to 127.0.0.1.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${CAIRN_BUILD_DIR:-$root/build-load}
dataset=${CAIRN_DATASET:-$root/../shared/datasets/glove-100-angular}

sizes="--insert-rows 1000000,200000 --recovery-rows 1000000 --flush-fraction 0.5"
if [ "${1:-}" = "--quick" ]; then
  shift
  sizes="--insert-rows 20000 --insert-clients 1,4 --search-base 30000 --queries 1000
         --recovery-rows 50000"
fi

if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCAIRN_BENCH=ON >/dev/null
fi
if ninja -C "$build" -t targets all 2>/dev/null | grep -q '^load_gen:'; then
  ninja -C "$build" -j2 cairn load_gen >/dev/null
  gen="$build/bench/load_gen"
else
  # bench/CMakeLists.txt without include(load.cmake): build load_gen here
  # against the build's libraries (same flags as CMake's RelWithDebInfo).
  ninja -C "$build" -j2 cairn cairn_rpc cairn_index >/dev/null
  mkdir -p "$build/bench"
  gen="$build/bench/load_gen"
  cc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -fno-strict-aliasing \
    -DCAIRN_BIN_DEFAULT="\"$build/cmd/cairn\"" \
    -I"$root/core" -I"$root/core/rpc" -I"$root/index" -I"$build/proto/gen" \
    "$here/load_gen.c" -o "$gen" \
    "$build/core/rpc/libcairn_rpc.a" "$build/proto/libcairn_proto.a" \
    "$build/index/libcairn_index.a" "$build/core/libcairn_core.a" \
    $(pkg-config --libs grpc libprotobuf-c lmdb yaml-0.1 json-c libmicrohttpd) \
    -lpthread -lm
fi
# shellcheck disable=SC2086
exec "$gen" --cairn "${CAIRN_BIN:-$build/cmd/cairn}" --dataset "$dataset" $sizes "$@"
