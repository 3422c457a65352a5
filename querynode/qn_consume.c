/*
 * qn_consume.c — one consumer thread per channel of a loaded collection:
 * reads the channel's log from the checkpoint the load started at and
 * applies every entry:
 *   - InsertEntry: decoded (cairn_fielddata_decode in upsert mode, as the
 *     proxy validated already) outside any lock, then appended to the
 *     channel's current growing segment under chan->mu, unless its position
 *     is below chan->skip_below (the rows are in a sealed segment loaded by
 *     a refresh that overtook the consumer);
 *   - DeleteEntry: every pk into the collection's delete map (the map is
 *     collection-wide: a delete's partition is not kept, XXX Milvus applies
 *     a partition-scoped delete to that partition only).
 * After an entry, chan->consumed moves past it and waiters (strong reads,
 * the loader) are woken. A malformed entry is logged and skipped; only the
 * log failing (or memory) stops the consumer, which then records why in
 * chan->failed so strong reads report it instead of waiting.
 *
 * The thread polls the log with a 100 ms timeout so release (coll->stop)
 * is noticed quickly.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "qn_internal.h"

#define POLL_MS 100

static cairn_status apply_insert(qn_chan *ch, const Cairn__Data__InsertEntry *ins,
                                 int64_t pos, cairn_error *err) {
  qn_coll *c = ch->coll;
  cairn_insert_batch *b = NULL;
  cairn_fielddata_opts o = {.upsert = true, .allow_duplicate_pks = true};
  cairn_status st = cairn_fielddata_decode(c->schema, ins->fields_data,
                                           ins->n_fields_data,
                                           (size_t)ins->num_rows, &o, &b, err);
  if (st != CAIRN_OK)
    return st;
  pthread_mutex_lock(&ch->mu);
  if (pos >= ch->skip_below)
    st = qn_growing_append(ch->g, b, ins->timestamp, ins->partition_id, pos, err);
  pthread_mutex_unlock(&ch->mu);
  cairn_insert_batch_free(b);
  return st;
}

static cairn_status apply_delete(qn_chan *ch, const Cairn__Data__DeleteEntry *del,
                                 cairn_error *err) {
  qn_delmap *m = &ch->coll->dels;
  const Milvus__Proto__Schema__IDs *ids = del->primary_keys;
  if (ids == NULL)
    return CAIRN_OK;
  cairn_status st = CAIRN_OK;
  qn_delmap_wrlock(m);
  if (ids->id_field_case == MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_INT_ID && ids->int_id)
    for (size_t i = 0; st == CAIRN_OK && i < ids->int_id->n_data; i++)
      st = qn_delmap_put_int(m, ids->int_id->data[i], del->timestamp, err);
  if (ids->id_field_case == MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_STR_ID && ids->str_id)
    for (size_t i = 0; st == CAIRN_OK && i < ids->str_id->n_data; i++)
      st = qn_delmap_put_str(m, ids->str_id->data[i], strlen(ids->str_id->data[i]),
                             del->timestamp, err);
  qn_delmap_unlock(m);
  return st;
}

/* Applies one log message; a bad entry is an error the caller logs. */
static cairn_status apply(qn_chan *ch, const cairn_mq_message *m, cairn_error *err) {
  Cairn__Data__LogEntry *e = cairn__data__log_entry__unpack(NULL, m->len, m->payload);
  if (e == NULL)
    return cairn_error_set(err, CAIRN_CORRUPT, "not a LogEntry");
  cairn_status st = CAIRN_OK;
  if (e->body_case == CAIRN__DATA__LOG_ENTRY__BODY_INSERT && e->insert != NULL) {
    if (e->insert->collection_id == ch->coll->id)
      st = apply_insert(ch, e->insert, m->position, err);
  } else if (e->body_case == CAIRN__DATA__LOG_ENTRY__BODY_DELETE && e->delete_ != NULL) {
    if (e->delete_->collection_id == ch->coll->id)
      st = apply_delete(ch, e->delete_, err);
  }
  cairn__data__log_entry__free_unpacked(e, NULL);
  return st;
}

static void fail(qn_chan *ch, const cairn_error *err) {
  pthread_mutex_lock(&ch->mu);
  ch->failed = err->status == CAIRN_OK ? CAIRN_INTERNAL : err->status;
  memcpy(ch->failed_msg, err->message, sizeof ch->failed_msg);
  pthread_cond_broadcast(&ch->cond);
  pthread_mutex_unlock(&ch->mu);
  cairn_log_error("querynode: consumer of %s stopped: %s", ch->name, err->message);
}

static void *consume_main(void *arg) {
  qn_chan *ch = arg;
  qn_coll *c = ch->coll;
  cairn_error err = {0};
  cairn_mq_consumer *cons = NULL;
  if (cairn_mq_consumer_open(c->qn->opts.mq, ch->name, ch->consumed, &cons, &err) != CAIRN_OK) {
    fail(ch, &err);
    return NULL;
  }
  while (!atomic_load(&c->stop)) {
    cairn_mq_message m;
    cairn_status st = cairn_mq_consumer_next(cons, POLL_MS, &m, &err);
    if (st == CAIRN_NOT_READY)
      continue;
    if (st != CAIRN_OK) {
      fail(ch, &err);
      break;
    }
    cairn_error e = {0};
    st = apply(ch, &m, &e);
    if (st == CAIRN_NOMEM || st == CAIRN_INTERNAL) {
      fail(ch, &e);
      break;
    }
    if (st != CAIRN_OK)
      cairn_log_warn("querynode: %s@%" PRId64 " skipped: %s", ch->name, m.position,
                     e.message);
    pthread_mutex_lock(&ch->mu);
    ch->consumed = m.position + 1;
    pthread_cond_broadcast(&ch->cond);
    pthread_mutex_unlock(&ch->mu);
  }
  cairn_mq_consumer_close(cons);
  return NULL;
}

cairn_status qn_consumer_start(qn_chan *ch, cairn_error *err) {
  if (pthread_create(&ch->thread, NULL, consume_main, ch) != 0)
    return cairn_error_set(err, CAIRN_INTERNAL, "cannot start the consumer of %s",
                           ch->name);
  ch->started = true;
  return CAIRN_OK;
}

void qn_consumer_join(qn_chan *ch) {
  if (ch->started)
    pthread_join(ch->thread, NULL);
  ch->started = false;
}

/* Waits until ch consumed up to `next` (ch->mu held). */
static cairn_status wait_chan_nolock(qn_chan *ch, int64_t next,
                                     const struct timespec *dl, int timeout_ms,
                                     cairn_error *err) {
  while (ch->consumed < next && ch->failed == CAIRN_OK) {
    int rc = pthread_cond_timedwait(&ch->cond, &ch->mu, dl);
    if (rc == ETIMEDOUT && ch->consumed < next)
      return cairn_error_set(err, CAIRN_NOT_READY,
                             "channel %s consumed up to %" PRId64 " of %" PRId64
                             " after %d ms", ch->name, ch->consumed, next, timeout_ms);
  }
  if (ch->failed != CAIRN_OK && ch->consumed < next)
    return cairn_error_set(err, ch->failed, "channel %s: %s", ch->name, ch->failed_msg);
  return CAIRN_OK;
}

cairn_status qn_wait_strong(qn_coll *c, int timeout_ms, cairn_error *err) {
  struct timespec dl = cairn_deadline_in(CLOCK_REALTIME, timeout_ms);
  for (size_t i = 0; i < c->n_chans; i++) {
    qn_chan *ch = &c->chans[i];
    int64_t first = 0, next = 0;
    cairn_status st = cairn_mq_bounds(c->qn->opts.mq, ch->name, &first, &next, err);
    if (st != CAIRN_OK)
      return st;
    pthread_mutex_lock(&ch->mu);
    st = wait_chan_nolock(ch, next, &dl, timeout_ms, err);
    pthread_mutex_unlock(&ch->mu);
    if (st != CAIRN_OK)
      return st;
  }
  return CAIRN_OK;
}
