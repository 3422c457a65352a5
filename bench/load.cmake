# bench/load.cmake — load_gen, the server benchmark of `cairn standalone`
# over the Milvus gRPC protocol (Cairn's own gRPC client on the gRPC C core;
# no SDK). Included by bench/CMakeLists.txt (include(load.cmake OPTIONAL)),
# outside `all`:
#   ninja -C build-load load_gen && build-load/bench/load_gen --help
# or everything at once: bench/run-load.sh
# The in-process side links the same cairn_index the server links (same
# flags), so the comparison is of the server path, not of compiler flags.
if(TARGET cairn_rpc AND TARGET cairn_index AND TARGET cairn AND NOT TARGET load_gen)
  add_executable(load_gen EXCLUDE_FROM_ALL ${CMAKE_CURRENT_LIST_DIR}/load_gen.c)
  target_link_libraries(load_gen PRIVATE cairn_rpc cairn_index Threads::Threads m)
  target_compile_definitions(load_gen PRIVATE
    CAIRN_BIN_DEFAULT="$<TARGET_FILE:cairn>")
  add_dependencies(load_gen cairn)
  set_target_properties(load_gen PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
endif()
