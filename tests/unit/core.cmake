# Unit tests of core/: meta store (conformance suite + embedded backend),
# config, HTTP server, metrics. Included by tests/unit/CMakeLists.txt.
cairn_unit_test(test_meta_embedded
  SOURCES test_meta_embedded.c test_meta_conformance.c
  LIBS cairn_core)
cairn_unit_test(test_config SOURCES test_config.c LIBS cairn_core)
target_compile_definitions(test_config PRIVATE
  CAIRN_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
