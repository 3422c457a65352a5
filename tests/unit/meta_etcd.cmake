# The etcd meta store backend against a real etcd (Debian etcd-server) that
# the test starts on 127.0.0.1 with free ports: conformance suite, restart,
# failover, two handles, latency figures. Exit 77 = no etcd binary (skipped).
# Included by tests/unit/CMakeLists.txt.
cairn_unit_test(test_meta_etcd
  SOURCES test_meta_etcd.c test_meta_conformance.c
  LIBS cairn_core)
set_tests_properties(test_meta_etcd PROPERTIES LABELS "unit;cluster"
  TIMEOUT 180 SKIP_RETURN_CODE 77)
