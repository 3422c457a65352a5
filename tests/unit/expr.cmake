# Filter expression engine (core/expr): table-driven tests against a
# per-row reference evaluator written separately in the test.
if(TARGET cairn_expr)
  cairn_unit_test(test_expr
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_expr.c
    LIBS cairn_expr)
endif()

# libFuzzer target (clang, -DCAIRN_FUZZ=ON); tests/fuzz/run-expr-fuzz.sh
# SECONDS builds and runs it for a bounded time. The ctest entry replays the
# checked-in corpus only (label "fuzz").
if(CAIRN_FUZZ AND TARGET cairn_expr)
  set(EXPR_FUZZ_DIR ${PROJECT_SOURCE_DIR}/tests/fuzz)
  add_executable(expr_fuzz ${EXPR_FUZZ_DIR}/expr_fuzz.c)
  target_compile_options(expr_fuzz PRIVATE
    -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer)
  target_link_options(expr_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(expr_fuzz PRIVATE cairn_expr)
  add_test(NAME expr_fuzz_corpus
           COMMAND expr_fuzz -runs=0 ${EXPR_FUZZ_DIR}/expr_corpus)
  set_tests_properties(expr_fuzz_corpus PROPERTIES LABELS fuzz TIMEOUT 300)
endif()

# The micro-benchmark (bench/expr.cmake): bench/CMakeLists.txt includes it
# under -DCAIRN_BENCH=ON; without that option it is still available here as
# an explicit target (not built by default): ninja expr_bench.
if(NOT CAIRN_BENCH)
  include(${PROJECT_SOURCE_DIR}/bench/expr.cmake OPTIONAL)
endif()
