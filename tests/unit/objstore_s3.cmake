# The "s3" object store backend against a real S3 server (s3rver from npm,
# started by the test on 127.0.0.1; `npm ci` in tests/cluster when missing).
# Labels: unit, cluster, valgrind (about 75 s under memcheck).
cairn_unit_test(test_objstore_s3
  SOURCES test_objstore_s3.c test_objstore_conformance.c LIBS cairn_core)
target_compile_definitions(test_objstore_s3 PRIVATE
  CAIRN_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
set_tests_properties(test_objstore_s3 PROPERTIES LABELS "unit;cluster;valgrind"
  TIMEOUT 180)
