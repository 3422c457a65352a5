/*
 * mq_kafka.h — the "kafka" log backend (mq_kafka.c): what it adds to mq.h.
 *
 * Open it with cairn_mq_open("kafka", location, ...). The location string:
 *
 *   location = servers [ "?" property *( "&" property ) ]
 *   servers  = host:port *( "," host:port )   librdkafka bootstrap.servers
 *   property = key "=" value                   both percent-decoded (%XX)
 *
 * Keys that start with "cairn." belong to the backend:
 *   cairn.topic.prefix=P     topic of channel C is P + C (default "cairn.";
 *                            1..49 bytes of [A-Za-z0-9._-], so that every
 *                            valid channel name makes a valid Kafka topic)
 *   cairn.topic.create=M     "admin" (default): CreateTopics before the first
 *                            produce to a channel (1 partition, retention.ms
 *                            -1, max.message.bytes raised); if the cluster
 *                            cannot (no controller, API unsupported) fall
 *                            back to "auto" with a warning. "auto": rely on
 *                            the brokers' auto.create.topics.enable.
 *   cairn.topic.replication=N  replication factor for CreateTopics (-1 =
 *                            the broker default; default -1)
 *   cairn.truncate=M         "delete" (default): DeleteRecords below the
 *                            truncation point, plus the marker (see
 *                            mq_kafka.c); "marker": the marker alone (the
 *                            records stay on the brokers)
 *   cairn.timeout.ms=T       bound on metadata, offsets, admin and commit
 *                            requests (default 10000; 100..600000)
 * Every other key is a librdkafka configuration property, set on every
 * handle the backend makes (producer, metadata handle, consumers), so SASL
 * and TLS work:
 *   "k1:9093,k2:9093?security.protocol=SASL_SSL&sasl.mechanisms=PLAIN&
 *    sasl.username=cairn&sasl.password=s%26cret&ssl.ca.location=/etc/ca.pem"
 * The backend then forces enable.idempotence=true and acks=all on the
 * producer (a location may not weaken durability) and the consumer settings
 * it relies on (no commits, no auto offset reset, no topic auto-creation).
 *
 * docs/mq-kafka.md describes the mapping, the truncation approximation and
 * how to run against a real cluster.
 */
#ifndef CAIRN_MQ_KAFKA_H
#define CAIRN_MQ_KAFKA_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "mq.h"
#include "status.h"

#define CAIRN_MQ_KAFKA_PREFIX_DEFAULT "cairn."
#define CAIRN_MQ_KAFKA_PREFIX_MAX 49 /* 249 (Kafka) - 200 (channel) */

extern const cairn_mq_vtable cairn_mq_kafka_vtable;

/* The location for cairn_mq_open("kafka", ...) from config key
 * kafka.brokerList (which may itself carry "?property=value&..."). *out is
 * malloc'ed; the caller frees it. CAIRN_INVALID_ARGUMENT when the key is
 * empty or does not parse as a location. */
cairn_status cairn_mq_kafka_location(const cairn_config *cfg, char **out,
                                     cairn_error *err);

/* Counters and learned facts of a kafka handle (for metrics and tests). */
typedef struct cairn_mq_kafka_stats {
  uint64_t produced;       /* messages acknowledged */
  uint64_t produce_errors; /* produce calls that failed after enqueueing */
  uint64_t truncations;    /* truncate calls that moved the first position */
  bool delete_records;     /* false once the cluster refused DeleteRecords:
                              truncation is then the marker alone */
  bool create_admin;       /* topics are made with CreateTopics (else the
                              brokers auto-create them) */
} cairn_mq_kafka_stats;

/* Fill *out for a handle from cairn_mq_open("kafka"); CAIRN_INVALID_ARGUMENT
 * for any other backend's handle. */
cairn_status cairn_mq_kafka_stats_get(cairn_mq *mq, cairn_mq_kafka_stats *out,
                                      cairn_error *err);

#endif
