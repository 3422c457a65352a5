/*
 * mq.c — the backend-neutral half of the log (mq.h): choosing a backend by
 * name and validating every argument before it reaches a backend.
 *
 * Backends may therefore assume: handles and out parameters are non-NULL,
 * channel names are valid, payload is non-NULL unless len is 0, len is at
 * most CAIRN_MQ_MAX_MESSAGE, positions are >= 0 and timeouts >= 0. Out
 * parameters are cleared here before the backend runs.
 */
#include "mq.h"
#include "mq_kafka.h"

#include <string.h>

/* The registry of backends. A new backend (e.g. "kafka") adds one row. */
static const cairn_mq_vtable *const mq_backends[] = {
    &cairn_mq_embedded_vtable,
    &cairn_mq_kafka_vtable,
};
#define N_BACKENDS (sizeof mq_backends / sizeof mq_backends[0])

const char *cairn_mq_backends(void) { return "embedded, kafka"; }

int cairn_mq_channel_valid(const char *name) {
  if (name == NULL)
    return 0;
  size_t n = 0;
  for (; name[n] != '\0'; n++) {
    unsigned char c = (unsigned char)name[n];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
             (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok || n >= CAIRN_MQ_MAX_CHANNEL_LEN)
      return 0;
  }
  return n > 0;
}

static cairn_status check_channel(const char *what, const char *channel,
                                  cairn_error *err) {
  if (cairn_mq_channel_valid(channel))
    return CAIRN_OK;
  if (channel == NULL || channel[0] == '\0')
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "log %s: empty channel name",
                           what);
  return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                         "log %s: invalid channel name '%.64s' ([A-Za-z0-9._-], "
                         "at most %d bytes)",
                         what, channel, CAIRN_MQ_MAX_CHANNEL_LEN);
}

cairn_status cairn_mq_open(const char *backend, const char *location,
                           cairn_mq **out, cairn_error *err) {
  if (out == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "log open: out is NULL");
  *out = NULL;
  if (backend == NULL)
    backend = "";
  for (size_t i = 0; i < N_BACKENDS; i++) {
    if (strcmp(mq_backends[i]->name, backend) != 0)
      continue;
    if (location == NULL || location[0] == '\0')
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "log backend '%s' needs a location", backend);
    return mq_backends[i]->open(location, out, err);
  }
  return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                         "unknown log backend '%s' (known: %s)", backend,
                         cairn_mq_backends());
}

void cairn_mq_close(cairn_mq *mq) {
  if (mq != NULL)
    mq->vt->close(mq);
}

cairn_status cairn_mq_produce(cairn_mq *mq, const char *channel,
                              const void *payload, size_t len,
                              int64_t *position, cairn_error *err) {
  int64_t local;
  if (position == NULL)
    position = &local;
  *position = -1;
  if (mq == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "log produce: NULL handle");
  cairn_status st = check_channel("produce", channel, err);
  if (st != CAIRN_OK)
    return st;
  if (len > CAIRN_MQ_MAX_MESSAGE)
    return cairn_error_set(err, CAIRN_TOO_LARGE,
                           "log produce to '%s': message of %zu bytes exceeds "
                           "%u",
                           channel, len, CAIRN_MQ_MAX_MESSAGE);
  if (len > 0 && payload == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "log produce to '%s': payload NULL", channel);
  return mq->vt->produce(mq, channel, len > 0 ? payload : "", len, position,
                         err);
}

cairn_status cairn_mq_bounds(cairn_mq *mq, const char *channel, int64_t *first,
                             int64_t *next, cairn_error *err) {
  int64_t f, n;
  if (first == NULL)
    first = &f;
  if (next == NULL)
    next = &n;
  *first = *next = 0;
  if (mq == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "log bounds: NULL handle");
  cairn_status st = check_channel("bounds", channel, err);
  return st != CAIRN_OK ? st : mq->vt->bounds(mq, channel, first, next, err);
}

cairn_status cairn_mq_truncate(cairn_mq *mq, const char *channel,
                               int64_t before, cairn_error *err) {
  if (mq == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "log truncate: NULL handle");
  cairn_status st = check_channel("truncate", channel, err);
  if (st != CAIRN_OK)
    return st;
  if (before < 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "log truncate '%s': negative position %lld", channel,
                           (long long)before);
  return mq->vt->truncate(mq, channel, before, err);
}

cairn_status cairn_mq_consumer_open(cairn_mq *mq, const char *channel,
                                    int64_t from, cairn_mq_consumer **out,
                                    cairn_error *err) {
  if (out != NULL)
    *out = NULL;
  if (mq == NULL || out == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "log consumer open: NULL argument");
  cairn_status st = check_channel("consumer open", channel, err);
  if (st != CAIRN_OK)
    return st;
  if (from < 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "log consumer open '%s': negative position %lld",
                           channel, (long long)from);
  return mq->vt->consumer_open(mq, channel, from, out, err);
}

cairn_status cairn_mq_consumer_next(cairn_mq_consumer *c, int timeout_ms,
                                    cairn_mq_message *out, cairn_error *err) {
  if (out != NULL)
    memset(out, 0, sizeof *out);
  if (c == NULL || out == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "log consumer next: NULL argument");
  if (timeout_ms < 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "log consumer next: negative timeout %d", timeout_ms);
  return c->mq->vt->consumer_next(c, timeout_ms, out, err);
}

void cairn_mq_consumer_close(cairn_mq_consumer *c) {
  if (c != NULL)
    c->mq->vt->consumer_close(c);
}

cairn_status cairn_mq_list_channels(cairn_mq *mq, char ***names, size_t *n,
                                    cairn_error *err) {
  if (names != NULL)
    *names = NULL;
  if (n != NULL)
    *n = 0;
  if (mq == NULL || names == NULL || n == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "log list channels: NULL argument");
  return mq->vt->list_channels(mq, names, n, err);
}
