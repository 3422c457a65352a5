# Unit tests of the column store (core/column.c), the segment files
# (core/binlog.c) and the FieldData codec (core/rpc/fielddata.c).
# Included by tests/unit/CMakeLists.txt. All are fast: also labelled
# "valgrind" so the memcheck run picks them up.
cairn_unit_test(test_column SOURCES test_column.c test_column_util.c
  LIBS cairn_expr cairn_core)
cairn_unit_test(test_binlog SOURCES test_binlog.c test_column_util.c
  LIBS cairn_core)
set_tests_properties(test_column test_binlog PROPERTIES LABELS "unit;valgrind")
if(EXISTS ${PROJECT_SOURCE_DIR}/core/rpc/fielddata.c)
  cairn_unit_test(test_fielddata SOURCES test_fielddata.c test_column_util.c
    LIBS cairn_rpc)
  set_tests_properties(test_fielddata PROPERTIES LABELS "unit;valgrind")
endif()
