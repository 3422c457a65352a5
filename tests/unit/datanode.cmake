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
  set_tests_properties(test_indexnode PROPERTIES LABELS "unit;valgrind")
endif()
