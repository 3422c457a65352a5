# Unit tests of core/: meta store (conformance suite + embedded backend),
# config, HTTP server, metrics. Included by tests/unit/CMakeLists.txt.
cairn_unit_test(test_meta_embedded
  SOURCES test_meta_embedded.c test_meta_conformance.c
  LIBS cairn_core)
cairn_unit_test(test_config SOURCES test_config.c LIBS cairn_core)
target_compile_definitions(test_config PRIVATE
  CAIRN_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
cairn_unit_test(test_metrics SOURCES test_metrics.c LIBS cairn_core)
# count allocations on the metrics update path (see test_metrics.c)
target_link_options(test_metrics PRIVATE
  -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc)
cairn_unit_test(test_http SOURCES test_http.c LIBS cairn_core)
cairn_unit_test(test_meta_version SOURCES test_meta_version.c LIBS cairn_core)
set_property(TEST test_meta_version APPEND PROPERTY LABELS valgrind)
