# Unit tests of the querynode role (querynode/querynode.h): exact search
# against a brute-force oracle, deletes/upserts, refresh during searches,
# index files, query/count. Included by tests/unit/CMakeLists.txt.
if(TARGET cairn_querynode)
  cairn_unit_test(test_querynode
    SOURCES test_querynode.c test_querynode_util.c
    LIBS cairn_querynode cairn_coordinator cairn_rpc cairn_proto cairn_core
         cairn_index cairn_expr)
endif()
if(TARGET cairn_querynode)
  cairn_unit_test(test_querynode_bench
    SOURCES test_querynode_bench.c test_querynode_util.c
    LIBS cairn_querynode cairn_coordinator cairn_rpc cairn_proto cairn_core
         cairn_index cairn_expr)
  set_tests_properties(test_querynode_bench PROPERTIES LABELS bench)
endif()
# With the real datanode and indexnode writing the segments and index files.
if(TARGET cairn_querynode AND TARGET cairn_datanode AND TARGET cairn_indexnode)
  cairn_unit_test(test_querynode_e2e
    SOURCES test_querynode_e2e.c test_querynode_util.c
    LIBS cairn_querynode cairn_datanode cairn_indexnode cairn_coordinator cairn_rpc
         cairn_proto cairn_core cairn_index cairn_expr)
endif()
