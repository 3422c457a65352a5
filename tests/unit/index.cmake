# Unit tests of the vector index library (index/), label "unit".
if(TARGET cairn_index)
  cairn_unit_test(test_index_kernels SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_index_kernels.c
                  LIBS cairn_index)
endif()
if(TARGET cairn_index)
  cairn_unit_test(test_index SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_index.c
                  LIBS cairn_index)
endif()
if(TARGET cairn_index)
  cairn_unit_test(test_index_sparse SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_index_sparse.c
                  LIBS cairn_index)
endif()
