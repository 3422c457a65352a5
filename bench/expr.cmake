# bench/expr.cmake — filter expression micro-benchmark (no peers needed).
# Included by bench/CMakeLists.txt (include(expr.cmake OPTIONAL)) and, when
# CAIRN_BENCH is off, by tests/unit/expr.cmake, as a target outside `all`:
#   ninja -C build-expr expr_bench && ./build-expr/bench/expr_bench [ROWS]
if(TARGET cairn_expr AND NOT TARGET expr_bench)
  add_executable(expr_bench EXCLUDE_FROM_ALL
                 ${CMAKE_CURRENT_LIST_DIR}/expr_bench.c)
  target_link_libraries(expr_bench PRIVATE cairn_expr)
  set_target_properties(expr_bench PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
endif()
