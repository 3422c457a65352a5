# Unit tests of the foundation: arena, RPC layer, TSO/ID allocation,
# coordinator catalogue. Included by tests/unit/CMakeLists.txt.
cairn_unit_test(test_arena SOURCES test_arena.c LIBS cairn_core cairn_proto)
cairn_unit_test(test_rpc SOURCES test_rpc.c LIBS cairn_rpc cairn_proto)
cairn_unit_test(test_h2server SOURCES test_h2server.c LIBS cairn_rpc cairn_proto)
cairn_unit_test(test_tso SOURCES test_tso.c LIBS cairn_coordinator)
cairn_unit_test(test_coord SOURCES test_coord.c LIBS cairn_coordinator)
# Fast enough to run under valgrind in CI (scripts/test.sh).
set_property(TEST test_arena test_tso test_coord test_rpc test_h2server APPEND PROPERTY LABELS valgrind)
