# Filter expression engine (core/expr): table-driven tests against a
# per-row reference evaluator written separately in the test.
if(TARGET cairn_expr)
  cairn_unit_test(test_expr
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_expr.c
    LIBS cairn_expr)
endif()
