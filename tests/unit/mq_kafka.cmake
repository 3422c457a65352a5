# The "kafka" log backend (core/mq_kafka.c): the log conformance suite and
# kafka-specific tests against librdkafka's mock cluster, which the test runs
# as a separate process (tests/helpers/kafka_mock, loopback only).
# Included by tests/unit/CMakeLists.txt.
cairn_unit_test(test_mq_kafka
  SOURCES test_mq_kafka.c test_mq_conformance.c LIBS cairn_core)
target_compile_definitions(test_mq_kafka PRIVATE
  CAIRN_KAFKA_MOCK="$<TARGET_FILE:kafka_mock>")
add_dependencies(test_mq_kafka kafka_mock)
set_tests_properties(test_mq_kafka PROPERTIES LABELS "unit;cluster" TIMEOUT 120)
