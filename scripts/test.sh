#!/usr/bin/env bash
# test.sh — install dependencies, build, and run every test: unit tests and
# the official-SDK suite on a normal build, then again under AddressSanitizer
# + UndefinedBehaviorSanitizer, then the unit tests under valgrind, then
# every libFuzzer target for a bounded number of runs (clang).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
jobs=$(nproc)

run_suite() { # build-dir cmake-args...
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  ninja -C "$dir" -j "$jobs"
  # Benchmarks and perf probes stay off the test run (bench/ has them).
  (cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 900 -LE "bench|perf")
}

echo "== release build: unit + sdk tests"
run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo

echo "== release build (the Docker image's flags): cairn compiles warning-free at -O3"
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DCAIRN_TESTS=OFF >/dev/null
ninja -C build-release -j "$jobs" cairn
deploy/validate.sh # Dockerfile, compose files, Helm chart: lint, render, schema-check

echo "== sanitizer build (ASan + UBSan): unit + sdk tests"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DCAIRN_SANITIZE=ON

echo "== valgrind: unit tests labelled valgrind"
(cd build && ctest -L valgrind --output-on-failure -T memcheck \
   --overwrite MemoryCheckCommandOptions="--leak-check=full --error-exitcode=3 --errors-for-leak-kinds=definite" \
   --timeout 900 -j "$jobs")
echo "== fuzz targets (clang, libFuzzer + ASan/UBSan): bounded runs"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCAIRN_FUZZ=ON \
  -DCAIRN_TESTS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build-fuzz -j "$jobs"
(cd build-fuzz && ctest -L fuzz --output-on-failure --timeout 900)
echo "== all tests passed"
