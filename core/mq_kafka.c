/*
 * mq_kafka.c — the "kafka" log backend (mq.h, mq_kafka.h) over librdkafka.
 *
 * ---- Mapping ---------------------------------------------------------------
 *   channel C          topic <prefix>C, partition 0 only (a topic made by
 *                      CreateTopics has one partition; an auto-created one may
 *                      have more, the others stay unused)
 *   position           the Kafka offset in partition 0. The producer is
 *                      idempotent and not transactional, so offsets are dense:
 *                      message k of a fresh topic has offset k.
 *   produce            rd_kafka_producev to (topic, 0), then wait for that
 *                      message's delivery report; the position is the offset
 *                      in the report. acks=all + enable.idempotence=true: a
 *                      report without error means every in-sync replica has
 *                      it, and librdkafka's retries never duplicate or reorder.
 *   bounds             exists? (metadata) -> watermarks of (topic, 0):
 *                      first = max(low watermark, truncation marker),
 *                      next = high watermark. A topic that does not exist has
 *                      0, 0 (and is not created by asking).
 *   truncate           the truncation marker moves forward, then the records
 *                      are deleted with the DeleteRecords admin API.
 *   consumer           an rd_kafka_t consumer of its own, rd_kafka_assign'ed to
 *                      (topic, 0) at the start offset; no group membership, no
 *                      commits; next = rd_kafka_consumer_poll.
 *   list_channels      every topic in the cluster metadata that starts with the
 *                      prefix, minus the prefix.
 *
 * ---- The truncation marker -------------------------------------------------
 * Kafka deletes records below an offset with DeleteRecords, which moves the
 * partition's log start (the low watermark) exactly to that offset.
 * librdkafka's mock cluster (the one the tests run) does not implement
 * DeleteRecords: it answers UNSUPPORTED_FEATURE. So every truncate first
 * records the new first position as the committed offset of (topic, 0) in the
 * consumer group
 * "<prefix>__cairn_first" (OffsetCommit: simple-consumer commit, no members),
 * and bounds reads it back (OffsetFetch). first = max(low watermark, marker)
 * is exact on both kinds of cluster: with DeleteRecords the two agree; without
 * it the records stay on the brokers but no consumer is opened below the
 * marker (CAIRN_IO_NOT_FOUND), which is what mq.h promises. The marker only
 * grows: truncate computes max(old first, min(before, next)).
 * With cairn.truncate=marker the backend never sends DeleteRecords (for
 * clusters whose ACLs forbid it, and for the tests: librdkafka 2.0.2 leaks one
 * 176-byte object per handle when a broker refuses DeleteRecords).
 * XXX: a real cluster expires committed offsets of groups without members
 * after offsets.retention.minutes (7 days by default); a marker that expired
 * falls back to the low watermark — exact where DeleteRecords works, and where
 * it does not the truncated messages come back into view (never lost).
 * XXX: two processes truncating one channel at once may lower the marker;
 * within a process truncations are serialised (trunc_mu).
 *
 * ---- Durability and retention ----------------------------------------------
 * A Kafka log is durable only as long as the brokers keep it: topics made by
 * CreateTopics get retention.ms=-1 and retention.bytes=-1. Auto-created topics
 * get the broker defaults (7 days!): with cairn.topic.create=auto, configure
 * the brokers with log.retention.ms=-1 or create the topics beforehand.
 *
 * ---- Produce path and threading --------------------------------------------
 * One idempotent producer per handle is shared by every producing thread.
 * A produce call puts a produce_req on its own stack, passes it as the
 * message's opaque, and waits on the request's condition variable; the poll
 * thread (poll_main: rd_kafka_poll in a loop) runs the delivery-report
 * callback, which fills the request and signals it. The payload is not copied
 * (no RD_KAFKA_MSG_F_COPY): librdkafka reads it from the caller's buffer, which
 * stays valid because the caller does not return before the delivery report.
 * Many producers in flight are batched by librdkafka (linger.ms, up to five
 * requests in flight per broker under idempotence) — Kafka's group commit.
 *
 * The metadata handle `meta` (a consumer-type rd_kafka_t with group.id
 * "<prefix>__cairn_first") serves metadata, watermarks, admin requests and the
 * marker; librdkafka handles are thread-safe, so any thread may use it.
 * mq->mu guards `known` (topics seen to exist) and the learned flags;
 * mq->trunc_mu serialises truncations. No lock is held over a network call.
 * A consumer is used by one thread at a time (mq.h) and owns its rd_kafka_t.
 *
 * ---- Ownership -------------------------------------------------------------
 * A consumed message's payload points into the rd_kafka_message_t the
 * consumer holds (`held`); it is destroyed at the next consumer_next or at
 * consumer_close, exactly the lifetime mq.h promises.
 *
 * XXX: one rd_kafka_t per consumer costs a few threads and one connection per
 * broker each; a handle-wide consumer with one queue per partition would
 * share them.
 * XXX: the producer's delivery timeout (message.timeout.ms, default here 30 s)
 * bounds how long a produce may block while the cluster is unreachable.
 */
#include "mq_kafka.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define KAFKA_TOPIC_MAX 249
#define KAFKA_TIMEOUT_DEFAULT 10000
#define KAFKA_TIMEOUT_MIN 100
#define KAFKA_TIMEOUT_MAX 600000
#define KAFKA_POLL_MS 100 /* poll thread's wait per rd_kafka_poll */
#define KAFKA_MARKER_GROUP "__cairn_first"
#define KAFKA_READER_GROUP "__cairn_reader" /* never joined, never committed   \
                                             */
/* Largest request: a message of CAIRN_MQ_MAX_MESSAGE plus framing. */
#define KAFKA_MAX_BYTES_TEXT "269484032"   /* 256 MiB + 1 MiB */
#define KAFKA_RECEIVE_MAX_TEXT "270532608" /* + 1 MiB more for a fetch */

typedef struct kv {
  char *key, *value; /* owned, percent-decoded */
} kv;

/* A parsed location (see mq_kafka.h). */
typedef struct kafka_location {
  char *servers; /* owned */
  kv *props;     /* librdkafka properties, in order (owned) */
  size_t n_props;
  char prefix[CAIRN_MQ_KAFKA_PREFIX_MAX + 1];
  bool create_admin;
  bool truncate_delete; /* cairn.truncate=delete (else marker only) */
  int replication;
  int timeout_ms;
} kafka_location;

typedef struct kafka_mq {
  cairn_mq base;
  kafka_location loc;
  rd_kafka_t *producer; /* idempotent; served by `poller` */
  rd_kafka_t *meta;     /* metadata, watermarks, admin, marker (see top) */
  pthread_t poller;
  atomic_bool stop; /* tells the poll thread to return */

  pthread_mutex_t mu; /* guards the fields below it */
  char **known;       /* [mu] topics seen to exist (owned strings) */
  size_t n_known, cap_known;
  bool delete_records; /* [mu] false once DeleteRecords was refused */
  bool create_admin;   /* [mu] false once CreateTopics proved unusable */
  uint64_t produced, produce_errors, truncations; /* [mu] counters */

  pthread_mutex_t trunc_mu; /* serialises truncate */
} kafka_mq;

typedef struct kafka_consumer {
  cairn_mq_consumer base;
  rd_kafka_t *rk;
  rd_kafka_message_t *held; /* the message last returned (owns its payload) */
  int64_t next;             /* position expected next */
  char topic[KAFKA_TOPIC_MAX + 1];
} kafka_consumer;

/* One produce call waiting for its delivery report (lives on its stack). */
typedef struct produce_req {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool done;               /* [mu] the report arrived */
  rd_kafka_resp_err_t err; /* [mu] its error */
  int64_t offset;          /* [mu] its offset */
} produce_req;

/* ---- location parsing ------------------------------------------------------
 */

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c = tolower(c);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode s[0..n) into a new string; NULL on a bad escape or NOMEM. */
static char *pct_decode(const char *s, size_t n) {
  char *out = malloc(n + 1), *o = out;
  if (out == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++) {
    if (s[i] != '%') {
      *o++ = s[i];
      continue;
    }
    int hi = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
    int lo = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
    if (hi < 0 || lo < 0 || (hi << 4 | lo) == 0) {
      free(out);
      return NULL;
    }
    *o++ = (char)(hi << 4 | lo);
    i += 2;
  }
  *o = '\0';
  return out;
}

static bool prefix_valid(const char *p) {
  size_t n = strlen(p);
  if (n == 0 || n > CAIRN_MQ_KAFKA_PREFIX_MAX)
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (!isalnum(c) && c != '.' && c != '_' && c != '-')
      return false;
  }
  return true;
}

/* Parse an integer option value within [min, max]. */
static bool parse_int(const char *v, long min, long max, int *out) {
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno != 0 || end == v || *end != '\0' || x < min || x > max)
    return false;
  *out = (int)x;
  return true;
}

/* Apply one cairn.* option; takes nothing (key/value stay the caller's). */
static cairn_status apply_cairn_option(kafka_location *loc, const char *key,
                                       const char *value, cairn_error *err) {
  if (strcmp(key, "cairn.topic.prefix") == 0) {
    if (!prefix_valid(value))
      return cairn_error_set(
          err, CAIRN_INVALID_ARGUMENT,
          "kafka location: cairn.topic.prefix '%.64s' must be "
          "1..%d bytes of [A-Za-z0-9._-]",
          value, CAIRN_MQ_KAFKA_PREFIX_MAX);
    snprintf(loc->prefix, sizeof loc->prefix, "%s", value);
  } else if (strcmp(key, "cairn.topic.create") == 0) {
    if (strcmp(value, "admin") != 0 && strcmp(value, "auto") != 0)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "kafka location: cairn.topic.create must be admin "
                             "or auto, not '%.64s'",
                             value);
    loc->create_admin = strcmp(value, "admin") == 0;
  } else if (strcmp(key, "cairn.truncate") == 0) {
    if (strcmp(value, "delete") != 0 && strcmp(value, "marker") != 0)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "kafka location: cairn.truncate must be delete or "
                             "marker, not '%.64s'",
                             value);
    loc->truncate_delete = strcmp(value, "delete") == 0;
  } else if (strcmp(key, "cairn.topic.replication") == 0) {
    if (!parse_int(value, -1, 32767, &loc->replication) ||
        loc->replication == 0)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "kafka location: cairn.topic.replication must be "
                             "-1 or 1..32767, not '%.64s'",
                             value);
  } else if (strcmp(key, "cairn.timeout.ms") == 0) {
    if (!parse_int(value, KAFKA_TIMEOUT_MIN, KAFKA_TIMEOUT_MAX,
                   &loc->timeout_ms))
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "kafka location: cairn.timeout.ms must be %d..%d, "
                             "not '%.64s'",
                             KAFKA_TIMEOUT_MIN, KAFKA_TIMEOUT_MAX, value);
  } else {
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "kafka location: unknown option '%.64s' (known: "
                           "cairn.topic.prefix, cairn.topic.create, "
                           "cairn.topic.replication, cairn.truncate, "
                           "cairn.timeout.ms)",
                           key);
  }
  return CAIRN_OK;
}

static void location_destroy(kafka_location *loc) {
  free(loc->servers);
  for (size_t i = 0; i < loc->n_props; i++) {
    free(loc->props[i].key);
    free(loc->props[i].value);
  }
  free(loc->props);
  memset(loc, 0, sizeof *loc);
}

/* Parse one "key=value" of length n into loc. */
static cairn_status parse_property(kafka_location *loc, const char *p, size_t n,
                                   cairn_error *err) {
  const char *eq = memchr(p, '=', n);
  if (eq == NULL || eq == p)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "kafka location: property '%.*s' is not key=value",
                           (int)(n > 64 ? 64 : n), p);
  char *key = pct_decode(p, (size_t)(eq - p));
  char *value = pct_decode(eq + 1, n - (size_t)(eq - p) - 1);
  cairn_status st = CAIRN_OK;
  if (key == NULL || value == NULL) {
    st = cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                         "kafka location: bad %%-escape in '%.*s'",
                         (int)(n > 64 ? 64 : n), p);
  } else if (strncmp(key, "cairn.", 6) == 0) {
    st = apply_cairn_option(loc, key, value, err);
  } else {
    kv *grown = realloc(loc->props, (loc->n_props + 1) * sizeof *grown);
    if (grown == NULL) {
      st = cairn_error_set(err, CAIRN_NOMEM, "kafka location: out of memory");
    } else {
      loc->props = grown;
      loc->props[loc->n_props++] = (kv){key, value};
      return CAIRN_OK; /* the array owns them now */
    }
  }
  free(key);
  free(value);
  return st;
}

/* Parse a location string (format in mq_kafka.h) into *loc (cleared first;
 * on error it holds nothing). */
static cairn_status location_parse(const char *text, kafka_location *loc,
                                   cairn_error *err) {
  memset(loc, 0, sizeof *loc);
  snprintf(loc->prefix, sizeof loc->prefix, "%s",
           CAIRN_MQ_KAFKA_PREFIX_DEFAULT);
  loc->create_admin = true;
  loc->truncate_delete = true;
  loc->replication = -1;
  loc->timeout_ms = KAFKA_TIMEOUT_DEFAULT;
  size_t ns = strcspn(text, "?");
  for (size_t i = 0; i < ns; i++)
    if (isspace((unsigned char)text[i]) || text[i] == '&')
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "kafka location '%.64s': bad character in the "
                             "server list",
                             text);
  if (ns == 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "kafka location '%.64s': no bootstrap servers "
                           "(host:port,...)",
                           text);
  loc->servers = strndup(text, ns);
  if (loc->servers == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, "kafka location: out of memory");
  const char *p = text[ns] == '?' ? text + ns + 1 : text + ns;
  while (*p != '\0') {
    size_t n = strcspn(p, "&");
    if (n > 0) {
      cairn_status st = parse_property(loc, p, n, err);
      if (st != CAIRN_OK) {
        location_destroy(loc);
        return st;
      }
    }
    p += n + (p[n] == '&');
  }
  return CAIRN_OK;
}

/* ---- librdkafka configuration
 * -------------------------------------------------- */

/* librdkafka's log lines into cairn's log (syslog levels: 0-3 error, 4 warn,
 * 5-6 notice/info kept at debug, 7 debug). */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf) {
  cairn_log_level l = level <= 3   ? CAIRN_LOG_ERROR
                      : level == 4 ? CAIRN_LOG_WARN
                                   : CAIRN_LOG_DEBUG;
  cairn_log_write(l, "kafka %s %s: %s", rd_kafka_name(rk), fac, buf);
}

/* Client-level errors (brokers down, authentication failed, fatal idempotence
 * errors). They also reach the calls they affect as request errors; this is
 * the log line a person reads. */
static void error_cb(rd_kafka_t *rk, int e, const char *reason, void *opaque) {
  (void)opaque;
  if (e == RD_KAFKA_RESP_ERR__FATAL) {
    char why[256];
    rd_kafka_fatal_error(rk, why, sizeof why);
    cairn_log_error("kafka %s: fatal: %s", rd_kafka_name(rk), why);
  } else {
    cairn_log_warn("kafka %s: %s: %s", rd_kafka_name(rk),
                   rd_kafka_err2name((rd_kafka_resp_err_t)e), reason);
  }
}

typedef struct conf_kv {
  const char *key, *value;
} conf_kv;

static cairn_status conf_set(rd_kafka_conf_t *conf, const char *key,
                             const char *value, cairn_error *err) {
  char why[512];
  if (rd_kafka_conf_set(conf, key, value, why, sizeof why) == RD_KAFKA_CONF_OK)
    return CAIRN_OK;
  return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "kafka property %s: %s",
                         key, why);
}

/* A conf for one handle: `defaults` (the location may override them), the
 * location's properties, then `forced` (it may not) and the servers.
 * Returns NULL with err set on a bad property. */
static rd_kafka_conf_t *conf_build(const kafka_location *loc,
                                   const conf_kv *defaults,
                                   const conf_kv *forced, cairn_error *err) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  cairn_status st = CAIRN_OK;
  for (const conf_kv *d = defaults; st == CAIRN_OK && d->key != NULL; d++)
    st = conf_set(conf, d->key, d->value, err);
  for (size_t i = 0; st == CAIRN_OK && i < loc->n_props; i++)
    st = conf_set(conf, loc->props[i].key, loc->props[i].value, err);
  for (const conf_kv *f = forced; st == CAIRN_OK && f->key != NULL; f++)
    st = conf_set(conf, f->key, f->value, err);
  if (st == CAIRN_OK)
    st = conf_set(conf, "bootstrap.servers", loc->servers, err);
  if (st != CAIRN_OK) {
    rd_kafka_conf_destroy(conf);
    return NULL;
  }
  rd_kafka_conf_set_log_cb(conf, log_cb);
  rd_kafka_conf_set_error_cb(conf, error_cb);
  return conf;
}

/* Make a handle from conf (taken in every case). */
static rd_kafka_t *handle_new(rd_kafka_type_t type, rd_kafka_conf_t *conf,
                              const char *what, cairn_error *err) {
  char why[512];
  rd_kafka_t *rk = rd_kafka_new(type, conf, why, sizeof why);
  if (rk == NULL) {
    rd_kafka_conf_destroy(conf);
    cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "kafka %s: %s", what, why);
  }
  return rk;
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *op);

static const conf_kv producer_defaults[] = {
    {"linger.ms", "1"},
    {"message.timeout.ms", "30000"},
    {NULL, NULL},
};
static const conf_kv producer_forced[] = {
    {"enable.idempotence", "true"},
    {"acks", "all"},
    {"message.max.bytes", KAFKA_MAX_BYTES_TEXT},
    {NULL, NULL},
};

static rd_kafka_t *producer_new(kafka_mq *mq, cairn_error *err) {
  rd_kafka_conf_t *conf =
      conf_build(&mq->loc, producer_defaults, producer_forced, err);
  if (conf == NULL)
    return NULL;
  rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
  return handle_new(RD_KAFKA_PRODUCER, conf, "producer", err);
}

/* A consumer-type handle that never joins its group: the metadata handle
 * (group = the marker group) or a reader (group = KAFKA_READER_GROUP). */
static rd_kafka_t *consumer_new(const kafka_location *loc, const char *group,
                                const char *what, cairn_error *err) {
  char group_id[CAIRN_MQ_KAFKA_PREFIX_MAX + 32];
  snprintf(group_id, sizeof group_id, "%s%s", loc->prefix, group);
  /* fetch.wait.max.ms: how long the broker holds a fetch with no new data.
   * librdkafka's 500 ms would be the floor of a strong read's wait for
   * fresh rows; 25 ms costs ~40 idle fetches/s per consumer. */
  const conf_kv defaults[] = {
      {"receive.message.max.bytes", KAFKA_RECEIVE_MAX_TEXT},
      {"fetch.wait.max.ms", "25"},
      {NULL, NULL}};
  const conf_kv forced[] = {
      {"group.id", group_id},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "error"},
      {"allow.auto.create.topics", "false"},
      {"enable.partition.eof", "false"},
      {NULL, NULL},
  };
  rd_kafka_conf_t *conf = conf_build(loc, defaults, forced, err);
  if (conf == NULL)
    return NULL;
  rd_kafka_t *rk = handle_new(RD_KAFKA_CONSUMER, conf, what, err);
  if (rk != NULL)
    rd_kafka_poll_set_consumer(rk);
  return rk;
}

/* ---- names, the known-topic set, errors
 * ----------------------------------------- */

static void topic_of(const kafka_mq *mq, const char *channel,
                     char topic[KAFKA_TOPIC_MAX + 1]) {
  snprintf(topic, KAFKA_TOPIC_MAX + 1, "%s%s", mq->loc.prefix, channel);
}

static bool known_has_nolock(const kafka_mq *mq, const char *topic) {
  for (size_t i = 0; i < mq->n_known; i++) /* XXX: linear; few channels */
    if (strcmp(mq->known[i], topic) == 0)
      return true;
  return false;
}

static bool known_has(kafka_mq *mq, const char *topic) {
  pthread_mutex_lock(&mq->mu);
  bool has = known_has_nolock(mq, topic);
  pthread_mutex_unlock(&mq->mu);
  return has;
}

/* Remember that topic exists (best effort: on NOMEM it is just not cached). */
static void known_add(kafka_mq *mq, const char *topic) {
  pthread_mutex_lock(&mq->mu);
  if (!known_has_nolock(mq, topic)) {
    if (mq->n_known == mq->cap_known) {
      size_t cap = mq->cap_known ? 2 * mq->cap_known : 16;
      char **grown = realloc(mq->known, cap * sizeof *grown);
      if (grown != NULL) {
        mq->known = grown;
        mq->cap_known = cap;
      }
    }
    char *copy = mq->n_known < mq->cap_known ? strdup(topic) : NULL;
    if (copy != NULL)
      mq->known[mq->n_known++] = copy;
  }
  pthread_mutex_unlock(&mq->mu);
}

static cairn_status kafka_fail(cairn_error *err, rd_kafka_resp_err_t e,
                               const char *what, const char *topic) {
  cairn_status st = e == RD_KAFKA_RESP_ERR__INVALID_ARG ||
                            e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE
                        ? CAIRN_INVALID_ARGUMENT
                        : CAIRN_IO;
  return cairn_error_set(err, st, "kafka %s (topic %s): %s (%s)", what, topic,
                         rd_kafka_err2str(e), rd_kafka_err2name(e));
}

/* Full cluster metadata (all topics: asking for one topic by name would make
 * brokers that ignore allow.auto.create.topics create it). *md is freed by
 * the caller with rd_kafka_metadata_destroy. */
static cairn_status metadata_all(kafka_mq *mq,
                                 const struct rd_kafka_metadata **md,
                                 cairn_error *err) {
  rd_kafka_resp_err_t e =
      rd_kafka_metadata(mq->meta, 1, NULL, md, mq->loc.timeout_ms);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
    return kafka_fail(err, e, "metadata", "*");
  return CAIRN_OK;
}

/* Does topic exist? Asks the cluster unless it is known; every topic of ours
 * the answer names is remembered. */
static cairn_status topic_exists(kafka_mq *mq, const char *topic, bool *exists,
                                 cairn_error *err) {
  *exists = known_has(mq, topic);
  if (*exists)
    return CAIRN_OK;
  const struct rd_kafka_metadata *md;
  cairn_status st = metadata_all(mq, &md, err);
  if (st != CAIRN_OK)
    return st;
  size_t np = strlen(mq->loc.prefix);
  for (int i = 0; i < md->topic_cnt; i++) {
    const rd_kafka_metadata_topic_t *t = &md->topics[i];
    if (t->err != RD_KAFKA_RESP_ERR_NO_ERROR || t->partition_cnt < 1 ||
        strncmp(t->topic, mq->loc.prefix, np) != 0)
      continue;
    known_add(mq, t->topic);
    if (strcmp(t->topic, topic) == 0)
      *exists = true;
  }
  rd_kafka_metadata_destroy(md);
  return CAIRN_OK;
}

/* ---- topic creation
 * --------------------------------------------------------------- */

/* Switch this handle to auto-creation after CreateTopics proved unusable. */
static void create_admin_off(kafka_mq *mq, const char *why) {
  pthread_mutex_lock(&mq->mu);
  bool was = mq->create_admin;
  mq->create_admin = false;
  pthread_mutex_unlock(&mq->mu);
  if (was)
    cairn_log_warn("kafka: CreateTopics unusable (%s); relying on the brokers' "
                   "topic auto-creation from now on (topics then get the "
                   "broker's retention: see docs/mq-kafka.md)",
                   why);
}

/* Wait for the admin result event of type `want` on q (bounded). */
static rd_kafka_event_t *admin_wait(kafka_mq *mq, rd_kafka_queue_t *q) {
  return rd_kafka_queue_poll(q, mq->loc.timeout_ms + 1000);
}

/* CreateTopics for topic: 1 partition, retention off, large messages. */
static cairn_status create_topic_admin(kafka_mq *mq, const char *topic,
                                       cairn_error *err) {
  char why[512];
  rd_kafka_NewTopic_t *nt =
      rd_kafka_NewTopic_new(topic, 1, mq->loc.replication, why, sizeof why);
  if (nt == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "kafka create topic %s: %s", topic, why);
  rd_kafka_NewTopic_set_config(nt, "retention.ms", "-1");
  rd_kafka_NewTopic_set_config(nt, "retention.bytes", "-1");
  rd_kafka_NewTopic_set_config(nt, "max.message.bytes", KAFKA_MAX_BYTES_TEXT);
  rd_kafka_AdminOptions_t *o =
      rd_kafka_AdminOptions_new(mq->meta, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_request_timeout(o, mq->loc.timeout_ms, why,
                                            sizeof why);
  rd_kafka_queue_t *q = rd_kafka_queue_new(mq->meta);
  rd_kafka_CreateTopics(mq->meta, &nt, 1, o, q);
  rd_kafka_event_t *ev = admin_wait(mq, q);
  rd_kafka_resp_err_t e =
      ev == NULL ? RD_KAFKA_RESP_ERR__TIMED_OUT : rd_kafka_event_error(ev);
  snprintf(why, sizeof why, "%s",
           ev != NULL && e ? rd_kafka_event_error_string(ev)
                           : rd_kafka_err2str(e));
  if (ev != NULL && e == RD_KAFKA_RESP_ERR_NO_ERROR) {
    size_t n = 0;
    const rd_kafka_topic_result_t **r = rd_kafka_CreateTopics_result_topics(
        rd_kafka_event_CreateTopics_result(ev), &n);
    e = n == 1 ? rd_kafka_topic_result_error(r[0]) : RD_KAFKA_RESP_ERR__FAIL;
    snprintf(why, sizeof why, "%s",
             n == 1 && rd_kafka_topic_result_error_string(r[0]) != NULL
                 ? rd_kafka_topic_result_error_string(r[0])
                 : rd_kafka_err2str(e));
  }
  if (ev != NULL)
    rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  rd_kafka_AdminOptions_destroy(o);
  rd_kafka_NewTopic_destroy(nt);

  if (e == RD_KAFKA_RESP_ERR_NO_ERROR ||
      e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
    known_add(mq, topic);
    return CAIRN_OK;
  }
  if (e == RD_KAFKA_RESP_ERR__TIMED_OUT ||
      e == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE ||
      e == RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION) {
    create_admin_off(mq, why); /* the produce will auto-create it */
    return CAIRN_OK;
  }
  return cairn_error_set(err, CAIRN_IO, "kafka create topic %s: %s (%s)", topic,
                         why, rd_kafka_err2name(e));
}

/* Make sure topic exists before the first produce to it (or will be
 * auto-created by that produce). */
static cairn_status topic_ensure(kafka_mq *mq, const char *topic,
                                 cairn_error *err) {
  if (known_has(mq, topic))
    return CAIRN_OK;
  pthread_mutex_lock(&mq->mu);
  bool admin = mq->create_admin;
  pthread_mutex_unlock(&mq->mu);
  if (!admin)
    return CAIRN_OK;
  bool exists;
  cairn_status st = topic_exists(mq, topic, &exists, err);
  if (st != CAIRN_OK || exists)
    return st;
  return create_topic_admin(mq, topic, err);
}

/* ---- produce
 * ------------------------------------------------------------------------ */

/* Delivery report (poll thread): fill the waiting request and wake it. After
 * the unlock the request may be gone; it is not touched again. */
static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *op) {
  (void)rk;
  (void)op;
  produce_req *req = m->_private;
  pthread_mutex_lock(&req->mu);
  req->err = m->err;
  req->offset = m->offset;
  req->done = true;
  pthread_cond_signal(&req->cv);
  pthread_mutex_unlock(&req->mu);
}

static void *poll_main(void *arg) {
  kafka_mq *mq = arg;
  while (!atomic_load(&mq->stop))
    rd_kafka_poll(mq->producer, KAFKA_POLL_MS);
  return NULL;
}

/* Hand the message to librdkafka, waiting while its queue is full. */
static rd_kafka_resp_err_t enqueue(kafka_mq *mq, const char *topic,
                                   const void *payload, size_t len,
                                   produce_req *req) {
  for (int tries = 0;; tries++) {
    rd_kafka_resp_err_t e = rd_kafka_producev(
        mq->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
        RD_KAFKA_V_VALUE((void *)payload, len), RD_KAFKA_V_MSGFLAGS(0),
        RD_KAFKA_V_OPAQUE(req), RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || tries * 10 >= mq->loc.timeout_ms)
      return e;
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL); /* the poll thread drains the queue meanwhile */
  }
}

static void count_produce(kafka_mq *mq, bool ok) {
  pthread_mutex_lock(&mq->mu);
  if (ok)
    mq->produced++;
  else
    mq->produce_errors++;
  pthread_mutex_unlock(&mq->mu);
}

static cairn_status kafka_produce(cairn_mq *base, const char *channel,
                                  const void *payload, size_t len,
                                  int64_t *position, cairn_error *err) {
  kafka_mq *mq = (kafka_mq *)base;
  char topic[KAFKA_TOPIC_MAX + 1];
  topic_of(mq, channel, topic);
  cairn_status st = topic_ensure(mq, topic, err);
  if (st != CAIRN_OK)
    return st;

  produce_req req = {.offset = -1};
  pthread_mutex_init(&req.mu, NULL);
  pthread_cond_init(&req.cv, NULL);
  rd_kafka_resp_err_t e = enqueue(mq, topic, payload, len, &req);
  if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
    pthread_mutex_lock(&req.mu);
    while (!req.done) /* always comes: message.timeout.ms bounds it */
      pthread_cond_wait(&req.cv, &req.mu);
    e = req.err;
    pthread_mutex_unlock(&req.mu);
  }
  pthread_cond_destroy(&req.cv);
  pthread_mutex_destroy(&req.mu);

  if (e == RD_KAFKA_RESP_ERR_NO_ERROR && req.offset < 0)
    e = RD_KAFKA_RESP_ERR__BAD_MSG; /* acks=all always reports the offset */
  count_produce(mq, e == RD_KAFKA_RESP_ERR_NO_ERROR);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
    return kafka_fail(err, e, "produce", topic);
  known_add(mq, topic);
  *position = req.offset;
  return CAIRN_OK;
}

/* ---- bounds and the truncation marker
 * --------------------------------------------- */

/* The marker of topic (see the top); -1 when none was ever committed. */
static cairn_status marker_get(kafka_mq *mq, const char *topic, int64_t *marker,
                               cairn_error *err) {
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, topic, 0)->offset =
      RD_KAFKA_OFFSET_INVALID;
  rd_kafka_resp_err_t e = rd_kafka_committed(mq->meta, l, mq->loc.timeout_ms);
  if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
    e = l->elems[0].err;
  *marker = l->elems[0].offset >= 0 ? l->elems[0].offset : -1;
  rd_kafka_topic_partition_list_destroy(l);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
    return kafka_fail(err, e, "read truncation marker", topic);
  return CAIRN_OK;
}

static cairn_status marker_set(kafka_mq *mq, const char *topic, int64_t first,
                               cairn_error *err) {
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, topic, 0)->offset = first;
  rd_kafka_resp_err_t e = rd_kafka_commit(mq->meta, l, 0 /* sync */);
  if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
    e = l->elems[0].err;
  rd_kafka_topic_partition_list_destroy(l);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
    return kafka_fail(err, e, "write truncation marker", topic);
  return CAIRN_OK;
}

/* Bounds of an existing topic (see the mapping at the top). */
static cairn_status topic_bounds(kafka_mq *mq, const char *topic,
                                 int64_t *first, int64_t *next,
                                 cairn_error *err) {
  int64_t low = 0, high = 0, marker = -1;
  rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
      mq->meta, topic, 0, &low, &high, mq->loc.timeout_ms);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
    return kafka_fail(err, e, "watermarks", topic);
  cairn_status st = marker_get(mq, topic, &marker, err);
  if (st != CAIRN_OK)
    return st;
  *first = low > marker ? low : marker;
  if (*first > high)
    *first = high;
  *next = high;
  return CAIRN_OK;
}

static cairn_status kafka_bounds(cairn_mq *base, const char *channel,
                                 int64_t *first, int64_t *next,
                                 cairn_error *err) {
  kafka_mq *mq = (kafka_mq *)base;
  char topic[KAFKA_TOPIC_MAX + 1];
  topic_of(mq, channel, topic);
  bool exists;
  cairn_status st = topic_exists(mq, topic, &exists, err);
  if (st != CAIRN_OK || !exists)
    return st; /* unknown: 0, 0 (cleared by mq.c) */
  return topic_bounds(mq, topic, first, next, err);
}

/* ---- truncate
 * -------------------------------------------------------------------------- */

static void delete_records_off(kafka_mq *mq) {
  pthread_mutex_lock(&mq->mu);
  bool was = mq->delete_records;
  mq->delete_records = false;
  pthread_mutex_unlock(&mq->mu);
  if (was)
    cairn_log_info("kafka: the cluster does not support DeleteRecords; "
                   "truncation keeps the records and moves only the marker");
}

/* DeleteRecords(topic, 0, before). An unsupported API is not an error: the
 * marker already holds the truncation (see the top). */
static cairn_status delete_records(kafka_mq *mq, const char *topic,
                                   int64_t before, cairn_error *err) {
  char why[256];
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, topic, 0)->offset = before;
  rd_kafka_DeleteRecords_t *dr = rd_kafka_DeleteRecords_new(l);
  rd_kafka_topic_partition_list_destroy(l);
  rd_kafka_AdminOptions_t *o =
      rd_kafka_AdminOptions_new(mq->meta, RD_KAFKA_ADMIN_OP_DELETERECORDS);
  rd_kafka_AdminOptions_set_request_timeout(o, mq->loc.timeout_ms, why,
                                            sizeof why);
  rd_kafka_AdminOptions_set_operation_timeout(o, mq->loc.timeout_ms, why,
                                              sizeof why);
  rd_kafka_queue_t *q = rd_kafka_queue_new(mq->meta);
  rd_kafka_DeleteRecords(mq->meta, &dr, 1, o, q);
  rd_kafka_event_t *ev = admin_wait(mq, q);
  rd_kafka_resp_err_t e =
      ev == NULL ? RD_KAFKA_RESP_ERR__TIMED_OUT : rd_kafka_event_error(ev);
  if (ev != NULL && e == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const rd_kafka_topic_partition_list_t *r =
        rd_kafka_DeleteRecords_result_offsets(
            rd_kafka_event_DeleteRecords_result(ev));
    e = r != NULL && r->cnt == 1 ? r->elems[0].err : RD_KAFKA_RESP_ERR__FAIL;
  }
  if (ev != NULL)
    rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  rd_kafka_AdminOptions_destroy(o);
  rd_kafka_DeleteRecords_destroy(dr);
  if (e == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE ||
      e == RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION) {
    delete_records_off(mq);
    return CAIRN_OK;
  }
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
    return kafka_fail(err, e, "delete records", topic);
  return CAIRN_OK;
}

static cairn_status truncate_nolock(kafka_mq *mq, const char *topic,
                                    int64_t before, cairn_error *err) {
  bool exists;
  cairn_status st = topic_exists(mq, topic, &exists, err);
  if (st != CAIRN_OK || !exists)
    return st;
  int64_t first, next;
  st = topic_bounds(mq, topic, &first, &next, err);
  if (st != CAIRN_OK)
    return st;
  int64_t target = before < next ? before : next; /* never past the end */
  if (target <= first)
    return CAIRN_OK; /* never brings messages back */
  st = marker_set(mq, topic, target, err);
  if (st != CAIRN_OK)
    return st;
  pthread_mutex_lock(&mq->mu);
  bool del = mq->delete_records;
  mq->truncations++;
  pthread_mutex_unlock(&mq->mu);
  return del ? delete_records(mq, topic, target, err) : CAIRN_OK;
}

static cairn_status kafka_truncate(cairn_mq *base, const char *channel,
                                   int64_t before, cairn_error *err) {
  kafka_mq *mq = (kafka_mq *)base;
  char topic[KAFKA_TOPIC_MAX + 1];
  topic_of(mq, channel, topic);
  pthread_mutex_lock(&mq->trunc_mu);
  cairn_status st = truncate_nolock(mq, topic, before, err);
  pthread_mutex_unlock(&mq->trunc_mu);
  return st;
}

/* ---- consumers
 * ----------------------------------------------------------------------------
 */

static cairn_status kafka_consumer_open(cairn_mq *base, const char *channel,
                                        int64_t from, cairn_mq_consumer **out,
                                        cairn_error *err) {
  kafka_mq *mq = (kafka_mq *)base;
  cairn_error local;
  if (err == NULL)
    err = &local; /* its status is read below */
  kafka_consumer *c = calloc(1, sizeof *c);
  if (c == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, "kafka consumer: out of memory");
  c->base.mq = base;
  c->next = from;
  topic_of(mq, channel, c->topic);
  int64_t first = 0, next = 0;
  cairn_status st = kafka_bounds(base, channel, &first, &next, err);
  if (st == CAIRN_OK && from < first)
    st = cairn_error_set(err, CAIRN_IO_NOT_FOUND,
                         "log '%s': position %" PRId64 " was truncated (first "
                         "kept %" PRId64 ")",
                         channel, from, first);
  else if (st == CAIRN_OK && from > next)
    st = cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                         "log '%s': position %" PRId64 " is past the end (next "
                         "%" PRId64 ")",
                         channel, from, next);
  if (st == CAIRN_OK) {
    c->rk = consumer_new(&mq->loc, KAFKA_READER_GROUP, "consumer", err);
    st = c->rk == NULL ? err->status : CAIRN_OK;
  }
  if (st == CAIRN_OK) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, c->topic, 0)->offset = from;
    rd_kafka_resp_err_t e = rd_kafka_assign(c->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
      st = kafka_fail(err, e, "assign", c->topic);
  }
  if (st != CAIRN_OK) {
    if (c->rk != NULL)
      rd_kafka_destroy(c->rk);
    free(c);
    return st;
  }
  *out = &c->base;
  return CAIRN_OK;
}

static double mono_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* What to do with a consumer error event: CAIRN_OK = keep waiting. */
static cairn_status consumer_error(kafka_consumer *c,
                                   const rd_kafka_message_t *m,
                                   cairn_error *err) {
  switch (m->err) {
  case RD_KAFKA_RESP_ERR__PARTITION_EOF:
  case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART: /* not produced to yet */
  case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
  case RD_KAFKA_RESP_ERR__TRANSPORT: /* librdkafka reconnects */
  case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    return CAIRN_OK;
  case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
  case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
    return cairn_error_set(err, CAIRN_IO_NOT_FOUND,
                           "kafka consume (topic %s) at %" PRId64
                           ": truncated under the consumer (%s)",
                           c->topic, c->next, rd_kafka_message_errstr(m));
  default:
    return cairn_error_set(err, CAIRN_IO, "kafka consume (topic %s): %s (%s)",
                           c->topic, rd_kafka_message_errstr(m),
                           rd_kafka_err2name(m->err));
  }
}

static cairn_status kafka_consumer_next(cairn_mq_consumer *base, int timeout_ms,
                                        cairn_mq_message *out,
                                        cairn_error *err) {
  kafka_consumer *c = (kafka_consumer *)base;
  if (c->held != NULL) {
    rd_kafka_message_destroy(c->held);
    c->held = NULL;
  }
  double deadline = mono_ms() + timeout_ms;
  for (;;) {
    double left = deadline - mono_ms();
    rd_kafka_message_t *m =
        rd_kafka_consumer_poll(c->rk, left > 0 ? (int)(left + 0.999) : 0);
    if (m == NULL) {
      if (mono_ms() < deadline)
        continue; /* woke early (e.g. an internal event) */
      return cairn_error_set(err, CAIRN_NOT_READY,
                             "kafka consume (topic %s): nothing within %d ms",
                             c->topic, timeout_ms);
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      cairn_status st = consumer_error(c, m, err);
      rd_kafka_message_destroy(m);
      if (st != CAIRN_OK)
        return st;
      continue;
    }
    if (m->partition != 0 || m->offset < c->next) {
      rd_kafka_message_destroy(m); /* a re-fetched older one: seen already */
      continue;
    }
    c->held = m;
    c->next = m->offset + 1;
    out->position = m->offset;
    out->payload = m->payload != NULL ? m->payload : (const uint8_t *)"";
    out->len = m->len;
    return CAIRN_OK;
  }
}

static void kafka_consumer_close(cairn_mq_consumer *base) {
  kafka_consumer *c = (kafka_consumer *)base;
  if (c->held != NULL)
    rd_kafka_message_destroy(c->held);
  rd_kafka_destroy_flags(c->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  free(c);
}

/* ---- list
 * -----------------------------------------------------------------------------------
 */

static cairn_status kafka_list_channels(cairn_mq *base, char ***names,
                                        size_t *n, cairn_error *err) {
  kafka_mq *mq = (kafka_mq *)base;
  const struct rd_kafka_metadata *md;
  cairn_status st = metadata_all(mq, &md, err);
  if (st != CAIRN_OK)
    return st;
  size_t np = strlen(mq->loc.prefix), count = 0;
  char **out = calloc((size_t)md->topic_cnt + 1, sizeof *out);
  for (int i = 0; out != NULL && i < md->topic_cnt; i++) {
    const rd_kafka_metadata_topic_t *t = &md->topics[i];
    if (t->err != RD_KAFKA_RESP_ERR_NO_ERROR ||
        strncmp(t->topic, mq->loc.prefix, np) != 0 ||
        !cairn_mq_channel_valid(t->topic + np))
      continue;
    if ((out[count] = strdup(t->topic + np)) == NULL) {
      for (size_t k = 0; k < count; k++)
        free(out[k]);
      free(out);
      out = NULL;
      break;
    }
    count++;
  }
  rd_kafka_metadata_destroy(md);
  if (out == NULL)
    return cairn_error_set(err, CAIRN_NOMEM,
                           "kafka list channels: out of memory");
  *names = out;
  *n = count;
  return CAIRN_OK;
}

/* ---- open / close
 * -----------------------------------------------------------------------------
 */

static void kafka_close(cairn_mq *base) {
  kafka_mq *mq = (kafka_mq *)base;
  if (mq->producer != NULL) {
    if (rd_kafka_flush(mq->producer, mq->loc.timeout_ms) != 0)
      cairn_log_warn("kafka close: producer queue did not drain");
    atomic_store(&mq->stop, true);
    pthread_join(mq->poller, NULL);
    rd_kafka_destroy(mq->producer);
  }
  if (mq->meta != NULL) {
    /* a full consumer close: after commits, destroying with
     * RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE leaks the group state (2.0.2) */
    rd_kafka_consumer_close(mq->meta);
    rd_kafka_destroy(mq->meta);
  }
  for (size_t i = 0; i < mq->n_known; i++)
    free(mq->known[i]);
  free(mq->known);
  pthread_mutex_destroy(&mq->mu);
  pthread_mutex_destroy(&mq->trunc_mu);
  location_destroy(&mq->loc);
  free(mq);
}

/* Check that the cluster answers (so a wrong address fails at open, with
 * the time bounded by cairn.timeout.ms). */
static cairn_status cluster_ping(kafka_mq *mq, cairn_error *err) {
  const struct rd_kafka_metadata *md;
  cairn_error why = {0};
  cairn_status st = metadata_all(mq, &md, &why);
  if (st != CAIRN_OK)
    return cairn_error_set(err, st, "kafka open %s: cluster unreachable: %s",
                           mq->loc.servers, why.message);
  rd_kafka_metadata_destroy(md);
  return CAIRN_OK;
}

static cairn_status kafka_open(const char *location, cairn_mq **out,
                               cairn_error *err) {
  cairn_error local;
  if (err == NULL)
    err = &local; /* its status is read below */
  kafka_mq *mq = calloc(1, sizeof *mq);
  if (mq == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, "kafka open: out of memory");
  mq->base.vt = &cairn_mq_kafka_vtable;
  pthread_mutex_init(&mq->mu, NULL);
  pthread_mutex_init(&mq->trunc_mu, NULL);
  cairn_status st = location_parse(location, &mq->loc, err);
  if (st != CAIRN_OK) {
    location_destroy(&mq->loc); /* (already empty) */
    kafka_close(&mq->base);
    return st;
  }
  mq->create_admin = mq->loc.create_admin;
  mq->delete_records = mq->loc.truncate_delete;
  mq->meta = consumer_new(&mq->loc, KAFKA_MARKER_GROUP, "metadata handle", err);
  if (mq->meta != NULL)
    mq->producer = producer_new(mq, err);
  st = mq->producer == NULL ? err->status : CAIRN_OK;
  if (st == CAIRN_OK && pthread_create(&mq->poller, NULL, poll_main, mq) != 0) {
    rd_kafka_destroy(mq->producer);
    mq->producer = NULL;
    st = cairn_error_set(err, CAIRN_INTERNAL, "kafka open: no poll thread");
  }
  if (st == CAIRN_OK)
    st = cluster_ping(mq, err);
  if (st != CAIRN_OK) {
    kafka_close(&mq->base);
    return st;
  }
  *out = &mq->base;
  return CAIRN_OK;
}

/* ---- config builder, stats, vtable
 * -------------------------------------------------------------- */

cairn_status cairn_mq_kafka_location(const cairn_config *cfg, char **out,
                                     cairn_error *err) {
  if (out == NULL || cfg == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "kafka location: NULL argument");
  *out = NULL;
  const char *list = cairn_config_string(cfg, "kafka.brokerList");
  if (list == NULL || list[0] == '\0')
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "kafka.brokerList is empty (host:port,...)");
  kafka_location loc;
  cairn_error why = {0};
  cairn_status st = location_parse(list, &loc, &why);
  if (st != CAIRN_OK)
    return cairn_error_set(err, st, "kafka.brokerList: %s", why.message);
  location_destroy(&loc);
  *out = strdup(list);
  return *out != NULL ? CAIRN_OK
                      : cairn_error_set(err, CAIRN_NOMEM, "out of memory");
}

cairn_status cairn_mq_kafka_stats_get(cairn_mq *base, cairn_mq_kafka_stats *out,
                                      cairn_error *err) {
  if (base == NULL || out == NULL || base->vt != &cairn_mq_kafka_vtable)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "kafka stats: not a kafka log handle");
  kafka_mq *mq = (kafka_mq *)base;
  pthread_mutex_lock(&mq->mu);
  *out = (cairn_mq_kafka_stats){
      .produced = mq->produced,
      .produce_errors = mq->produce_errors,
      .truncations = mq->truncations,
      .delete_records = mq->delete_records,
      .create_admin = mq->create_admin,
  };
  pthread_mutex_unlock(&mq->mu);
  return CAIRN_OK;
}

const cairn_mq_vtable cairn_mq_kafka_vtable = {
    .name = "kafka",
    .open = kafka_open,
    .close = kafka_close,
    .produce = kafka_produce,
    .bounds = kafka_bounds,
    .truncate = kafka_truncate,
    .consumer_open = kafka_consumer_open,
    .consumer_next = kafka_consumer_next,
    .consumer_close = kafka_consumer_close,
    .list_channels = kafka_list_channels,
};
