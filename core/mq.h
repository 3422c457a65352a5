/*
 * mq.h — the log: ordered, durable channels of messages (DESIGN §1, §2).
 *
 * The proxy produces insert/delete messages to a shard's channel; datanodes
 * and querynodes consume them from a position. Two backends sit behind one
 * small vtable: "embedded" (segmented WAL files in a directory, mq_wal.c) and
 * "kafka" (a topic partition per channel, mq_kafka.c).
 *
 * Model:
 *   - A channel is named by a string of [A-Za-z0-9._-], 1..200 bytes; it
 *     exists once something was produced to it (or cairn_mq_create_channel).
 *   - Every message gets a position: an int64 offset, 0 for the first
 *     message of a channel, +1 per message (Kafka offset semantics). A
 *     position never changes and is never reused, even after truncation.
 *   - cairn_mq_produce returns only when the message is durable (fsync'd, or
 *     acked by all in-sync replicas). Concurrent producers to the same
 *     channel are batched into one fsync (group commit); order within a
 *     channel is the order in which produce calls were sequenced.
 *   - A consumer reads a channel in order from a start position; it sees
 *     every durable message exactly once, and blocks (up to a timeout) at
 *     the end.
 *   - cairn_mq_truncate drops messages before a position (after they were
 *     checkpointed elsewhere); reading below the first kept position gives
 *     CAIRN_IO_NOT_FOUND.
 *
 * Ownership: payloads passed in are copied before produce returns; a
 * consumed message's payload belongs to the consumer and stays valid until
 * the next cairn_mq_consumer_next or cairn_mq_consumer_close.
 * Threading: a cairn_mq is safe from any number of threads; a consumer is
 * used by one thread at a time.
 */
#ifndef CAIRN_MQ_H
#define CAIRN_MQ_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define CAIRN_MQ_MAX_CHANNEL_LEN 200
#define CAIRN_MQ_MAX_MESSAGE (256u << 20)

typedef struct cairn_mq cairn_mq;
typedef struct cairn_mq_consumer cairn_mq_consumer;

typedef struct cairn_mq_message {
  int64_t position;
  const uint8_t *payload; /* owned by the consumer, see above */
  size_t len;
} cairn_mq_message;

typedef struct cairn_mq_vtable {
  const char *name;
  cairn_status (*open)(const char *location, cairn_mq **out, cairn_error *err);
  void (*close)(cairn_mq *mq);
  cairn_status (*produce)(cairn_mq *mq, const char *channel, const void *payload,
                          size_t len, int64_t *position, cairn_error *err);
  cairn_status (*bounds)(cairn_mq *mq, const char *channel, int64_t *first,
                         int64_t *next, cairn_error *err);
  cairn_status (*truncate)(cairn_mq *mq, const char *channel, int64_t before,
                           cairn_error *err);
  cairn_status (*consumer_open)(cairn_mq *mq, const char *channel,
                                int64_t from, cairn_mq_consumer **out,
                                cairn_error *err);
  cairn_status (*consumer_next)(cairn_mq_consumer *c, int timeout_ms,
                                cairn_mq_message *out, cairn_error *err);
  void (*consumer_close)(cairn_mq_consumer *c);
  cairn_status (*list_channels)(cairn_mq *mq, char ***names, size_t *n,
                                cairn_error *err);
} cairn_mq_vtable;

/* Common head of every backend's handle. */
struct cairn_mq {
  const cairn_mq_vtable *vt;
};

/* Common head of every backend's consumer (so the generic layer can find the
 * vtable from a consumer alone). */
struct cairn_mq_consumer {
  cairn_mq *mq;
};

/* The backends (mq_wal.c; a "kafka" one later). */
extern const cairn_mq_vtable cairn_mq_embedded_vtable;
/* "embedded" (the names cairn_mq_open accepts, comma-separated). */
const char *cairn_mq_backends(void);
/* True when name is a valid channel name ([A-Za-z0-9._-], 1..200 bytes). */
int cairn_mq_channel_valid(const char *name);

/* Open backend "embedded" (a directory, created if missing). */
cairn_status cairn_mq_open(const char *backend, const char *location,
                           cairn_mq **out, cairn_error *err);
/* Close every consumer first; no other call on mq may run during close. */
void cairn_mq_close(cairn_mq *mq);

/* Append one message; *position (may be NULL) receives its offset. Returns
 * when durable. Empty payloads are allowed. */
cairn_status cairn_mq_produce(cairn_mq *mq, const char *channel,
                              const void *payload, size_t len,
                              int64_t *position, cairn_error *err);
/* First kept position and the next position to be written (first == next:
 * empty). An unknown channel has 0, 0. */
cairn_status cairn_mq_bounds(cairn_mq *mq, const char *channel, int64_t *first,
                             int64_t *next, cairn_error *err);
/* Drop every message with position < before (rounded down to what the
 * backend can drop; never drops position >= before). */
cairn_status cairn_mq_truncate(cairn_mq *mq, const char *channel,
                               int64_t before, cairn_error *err);
/* Read from position `from` (>= first kept; may equal next: wait for new). */
cairn_status cairn_mq_consumer_open(cairn_mq *mq, const char *channel,
                                    int64_t from, cairn_mq_consumer **out,
                                    cairn_error *err);
/* Next message; CAIRN_NOT_READY when none arrived within timeout_ms (0 =
 * poll). */
cairn_status cairn_mq_consumer_next(cairn_mq_consumer *c, int timeout_ms,
                                    cairn_mq_message *out, cairn_error *err);
void cairn_mq_consumer_close(cairn_mq_consumer *c);
/* Every channel with data; the caller frees each name and the array. */
cairn_status cairn_mq_list_channels(cairn_mq *mq, char ***names, size_t *n,
                                    cairn_error *err);

/* ---- embedded backend specifics (mq_wal.c) -------------------------------
 * The on-disk format is specified at the top of mq_wal.c and in
 * docs/storage.md. */

#define CAIRN_MQ_WAL_SEGMENT_DEFAULT (64u << 20)

typedef struct cairn_mq_wal_options {
  /* Start a new segment file before a record that would take the current one
   * past this many bytes (a bigger record gets a segment of its own).
   * 0 = CAIRN_MQ_WAL_SEGMENT_DEFAULT; at least 4096. */
  uint64_t segment_bytes;
} cairn_mq_wal_options;

/* Open the embedded log in directory dir with options (NULL = defaults); what
 * cairn_mq_open("embedded", dir) does with NULL. Only one handle per directory
 * at a time (an flock'ed LOCK file; a second open gets CAIRN_IO "in use"). */
cairn_status cairn_mq_wal_open(const char *dir,
                               const cairn_mq_wal_options *options,
                               cairn_mq **out, cairn_error *err);

/* Counters since open, over all channels (for metrics and tests). */
typedef struct cairn_mq_wal_stats {
  uint64_t records; /* produced */
  uint64_t bytes;   /* payload bytes produced */
  uint64_t syncs;   /* fdatasync calls that made records durable (group
                       commit: records / syncs = mean batch size) */
} cairn_mq_wal_stats;

/* Fill *out for a handle from cairn_mq_wal_open / cairn_mq_open("embedded");
 * CAIRN_INVALID_ARGUMENT for any other backend's handle. */
cairn_status cairn_mq_wal_stats_get(cairn_mq *mq, cairn_mq_wal_stats *out,
                                    cairn_error *err);

/* What the recovery scanner found in one segment file. */
typedef struct cairn_mq_wal_scan_result {
  int header_ok;       /* magic, version, size and header CRC all match */
  int64_t base;        /* position of the segment's first record */
  int64_t records;     /* valid records, in a prefix of the file */
  uint64_t valid_end;  /* byte offset just past the last valid record */
  uint64_t file_size;  /* the file's size; > valid_end: a torn/corrupt tail */
  char why[128];       /* why the scan stopped before file_size ("" if not) */
} cairn_mq_wal_scan_result;

/* Scan a segment file (any bytes: this is the fuzzed entry point) and report
 * its valid prefix; modifies nothing. CAIRN_IO only when reading fails; a
 * damaged file is a result, not an error. For recovery, `cairn inspect` and
 * tests. */
cairn_status cairn_mq_wal_scan(int fd, cairn_mq_wal_scan_result *out,
                               cairn_error *err);

#endif
