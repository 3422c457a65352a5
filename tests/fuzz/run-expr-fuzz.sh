#!/bin/sh
# run-expr-fuzz.sh SECONDS — build the filter-expression fuzzer with clang
# (build dir build-expr-fuzz, -DCAIRN_FUZZ=ON) and run it for SECONDS on a
# scratch copy of the checked-in corpus (tests/fuzz/expr_corpus is only
# read). Exit status is libFuzzer's: non-zero on a crash, hang (-timeout),
# leak or sanitizer report; the reproducer lands in $WORK/artifacts/.
set -eu
SECS=${1:-60}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build-expr-fuzz}
WORK=${WORK:-$BUILD/fuzz-work}
CC=${CC:-clang} CXX=${CXX:-clang++} cmake -S "$ROOT" -B "$BUILD" -G Ninja \
  -DCAIRN_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER="${CC:-clang}" -DCMAKE_CXX_COMPILER="${CXX:-clang++}" >/dev/null
ninja -j2 -C "$BUILD" expr_fuzz
mkdir -p "$WORK/corpus" "$WORK/artifacts"
exec "$BUILD/tests/unit/expr_fuzz" "$WORK/corpus" "$ROOT/tests/fuzz/expr_corpus" \
  -dict="$ROOT/tests/fuzz/expr.dict" -max_total_time="$SECS" -timeout=10 \
  -rss_limit_mb=2048 -max_len=512 -print_final_stats=1 \
  -artifact_prefix="$WORK/artifacts/"
