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
