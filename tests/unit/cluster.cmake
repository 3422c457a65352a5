# Unit tests of what cluster processes share (core/cluster.h: sessions,
# election, the cluster view) on the embedded meta store, and of the
# querynode's wire form of requests (querynode/qn_wire.h). Included by
# tests/unit/CMakeLists.txt; labelled valgrind too (no servers needed).
if(TARGET cairn_querynode)
  cairn_unit_test(test_cluster
    SOURCES test_cluster.c
    LIBS cairn_querynode cairn_rpc cairn_proto cairn_core cairn_index cairn_expr)
  set_tests_properties(test_cluster PROPERTIES LABELS "unit;valgrind")
endif()
# The coordinator's assignment loop (coordinator/coord_assign.c).
if(TARGET cairn_coordinator)
  cairn_unit_test(test_coord_assign
    SOURCES test_coord_assign.c
    LIBS cairn_coordinator cairn_rpc cairn_proto cairn_core)
  set_tests_properties(test_coord_assign PROPERTIES LABELS "unit;valgrind")
endif()
