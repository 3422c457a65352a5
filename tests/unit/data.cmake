# Unit tests of the data path in core/: the log (mq.h: conformance suite,
# embedded WAL backend, crash and corruption tests, throughput figures) and
# object storage (objstore.h: conformance suite, local backend).
# Included by tests/unit/CMakeLists.txt.
cairn_unit_test(test_mq SOURCES test_mq.c test_mq_conformance.c LIBS cairn_core)
cairn_unit_test(test_mq_crash SOURCES test_mq_crash.c LIBS cairn_core)
set_property(TEST test_mq_crash APPEND PROPERTY LABELS fault)
cairn_unit_test(test_objstore
  SOURCES test_objstore.c test_objstore_conformance.c LIBS cairn_core)
# Figures, not a gate: produce latency and group-commit throughput.
cairn_unit_test(test_mq_perf SOURCES test_mq_perf.c LIBS cairn_core)
set_tests_properties(test_mq_perf PROPERTIES LABELS perf)
# Fast enough to run under valgrind in CI (scripts/test.sh).
set_property(TEST test_mq test_objstore APPEND PROPERTY LABELS valgrind)
