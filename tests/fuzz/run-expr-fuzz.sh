#!/bin/sh
# run-expr-fuzz.sh SECONDS — build the filter-expression fuzzer with clang
# (libFuzzer + ASan + UBSan) and run it for SECONDS on a scratch copy of the
# checked-in corpus (tests/fuzz/expr_corpus is only read).
#
# It compiles the few files it needs directly (core/expr, core/schema.c,
# core/status.c), so it does not depend on the rest of the tree configuring;
# the same target also exists in CMake under -DCAIRN_FUZZ=ON (expr_fuzz).
# Exit status is libFuzzer's: non-zero on a crash, hang (-timeout), leak or
# sanitizer report; the reproducer lands in $WORK/artifacts/.
set -eu
SECS=${1:-60}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build-expr-fuzz}
WORK=${WORK:-$BUILD/fuzz-work}
CC=${CC:-clang}
mkdir -p "$BUILD" "$WORK/corpus" "$WORK/artifacts"
"$CC" -std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror \
  -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer \
  -I"$ROOT/core" -I"$ROOT/core/expr" \
  "$ROOT"/core/expr/*.c "$ROOT/core/schema.c" "$ROOT/core/status.c" \
  "$ROOT/tests/fuzz/expr_fuzz.c" -lm -o "$BUILD/expr_fuzz"
exec "$BUILD/expr_fuzz" "$WORK/corpus" "$ROOT/tests/fuzz/expr_corpus" \
  -dict="$ROOT/tests/fuzz/expr.dict" -max_total_time="$SECS" -timeout=10 \
  -rss_limit_mb=2048 -max_len=512 -print_final_stats=1 \
  -artifact_prefix="$WORK/artifacts/"
