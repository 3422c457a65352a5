/*
 * datanode.c — the datanode role's life cycle and its consumer threads
 * (design: datanode.h; private structures: dn_internal.h).
 *
 * One consumer thread per watched collection reads all its channels, each
 * through its own cairn_mq_consumer opened at the channel's checkpoint
 * (CoordService.ListSegments; position 0 when none). The loop, in phases:
 *   1. serve flush requests: consume every channel up to the targets the
 *      callers read (cairn_mq_bounds(channel).next at the call), then cut
 *      every channel; complete the requests;
 *   2. one round over the channels: read up to ROUND_MSGS messages of each
 *      without waiting, buffering them (dn_buffer.c); cut a channel as soon
 *      as its rows reach seal_rows or its bytes seal_bytes, and after the
 *      round every channel whose oldest entry is older than seal_age_ms;
 *   3. when the round read nothing: the first time after the start, sweep
 *      the objects of dropped partitions (dn_drop.c; one list call per
 *      partition, so it waits until the log is caught up); after that,
 *      sleep up to IDLE_MS on coll->cv (a flush request or a stop wakes
 *      it).
 * A cut that SaveSegments refuses with CONFLICT (another datanode moved the
 * checkpoint) stops the collection: the thread exits, pending and later
 * flushes fail with the reason, and a new cairn_datanode_watch re-reads the
 * checkpoints and starts over. An automatic cut that fails otherwise (store
 * or catalogue unavailable) keeps its buffers and is retried after
 * DN_RETRY_MS; a requested one reports the error to the caller.
 *
 * Rejected: one thread per channel — a collection's channels would then
 * need a lock around the coordinator calls and the flush requests; with one
 * thread the buffers need no lock at all. Polling with a short sleep when
 * idle (instead of blocking in one consumer) keeps every channel and the
 * request queue equally responsive; it costs a wake-up every IDLE_MS per
 * idle collection.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "dn_internal.h"
#include "log.h"

#define ROUND_MSGS 256   /* messages per channel per round */
#define IDLE_MS 10       /* sleep when a round read nothing */
#define WAIT_MS 50       /* blocking read while a flush waits for data */

int64_t dn_now_ms(void) { return cairn_monotonic_ms(); }

/* ---- collection state --------------------------------------------------- */

static void coll_free(dn_coll *coll) {
  if (coll == NULL)
    return;
  for (size_t i = 0; i < coll->n_channels; i++) {
    dn_channel *ch = &coll->channels[i];
    dn_buffer_free(coll, ch);
    cairn_mq_consumer_close(ch->consumer);
    free(ch->name);
  }
  free(coll->channels);
  cairn_schema_free(coll->schema);
  pthread_mutex_destroy(&coll->mu);
  pthread_cond_destroy(&coll->cv);
  free(coll);
}

static int pk_index_of(const cairn_schema *schema) {
  for (size_t i = 0; i < schema->n_fields; i++)
    if (schema->fields[i].is_primary)
      return (int)i;
  return -1;
}

/* Positions and timestamps of the channels' recorded checkpoints. */
static cairn_status load_checkpoints(cairn_datanode *dn, dn_coll *coll,
                                     cairn_error *err) {
  cairn_arena *arena = cairn_arena_new();
  if (arena == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  Cairn__Data__SegmentInfo **segs;
  Cairn__Data__ChannelCheckpoint **cps;
  size_t n_segs, n_cps;
  cairn_status st = dn_coord_list(dn, arena, coll->id, &segs, &n_segs, &cps,
                                  &n_cps, err);
  for (size_t i = 0; st == CAIRN_OK && i < n_cps; i++)
    for (size_t c = 0; c < coll->n_channels; c++)
      if (strcmp(cps[i]->channel, coll->channels[c].name) == 0) {
        coll->channels[c].checkpoint = cps[i]->position;
        coll->channels[c].checkpoint_ts = cps[i]->timestamp;
      }
  cairn_arena_free(arena);
  return st;
}

static cairn_status open_channels(cairn_datanode *dn, dn_coll *coll,
                                  char **names, size_t n, cairn_error *err) {
  coll->channels = calloc(n, sizeof *coll->channels);
  if (coll->channels == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  for (size_t i = 0; i < n; i++) {
    coll->channels[i].name = names[i];
    names[i] = NULL;
  }
  coll->n_channels = n;
  cairn_status st = load_checkpoints(dn, coll, err);
  for (size_t i = 0; st == CAIRN_OK && i < n; i++) {
    dn_channel *ch = &coll->channels[i];
    ch->next = ch->checkpoint;
    st = cairn_mq_consumer_open(dn->opts.mq, ch->name, ch->checkpoint,
                                &ch->consumer, err);
  }
  return st;
}

/* A collection's state with its consumers open at the checkpoints; the
 * thread is not started. */
static cairn_status coll_new(cairn_datanode *dn, int64_t id, dn_coll **out,
                             cairn_error *err) {
  *out = NULL;
  dn_coll *coll = calloc(1, sizeof *coll);
  if (coll == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  coll->id = id;
  coll->dn = dn;
  atomic_init(&coll->growing_rows, 0);
  pthread_mutex_init(&coll->mu, NULL);
  pthread_cond_init(&coll->cv, NULL);
  char **names = NULL;
  size_t n = 0;
  cairn_status st = dn_coord_describe(dn, id, &coll->schema, &names, &n, err);
  if (st == CAIRN_OK && (coll->pk_index = pk_index_of(coll->schema)) < 0)
    st = cairn_error_set(err, CAIRN_INTERNAL,
                         "collection %" PRId64 " has no primary key", id);
  if (st == CAIRN_OK)
    st = open_channels(dn, coll, names, n, err);
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
  if (st != CAIRN_OK) {
    coll_free(coll);
    return st;
  }
  *out = coll;
  return CAIRN_OK;
}

/* ---- flush requests ------------------------------------------------------ */

static void req_complete(dn_flush_req *r, cairn_status st,
                         const cairn_error *err) {
  pthread_mutex_lock(&r->mu);
  r->st = st;
  if (st != CAIRN_OK)
    cairn_error_set(&r->err, st, "%s", err->message);
  r->done = true;
  pthread_cond_signal(&r->cv);
  pthread_mutex_unlock(&r->mu);
}

static void reqs_complete(dn_flush_req *r, cairn_status st,
                          const cairn_error *err) {
  while (r != NULL) {
    dn_flush_req *next = r->next; /* r may be gone once completed */
    req_complete(r, st, err);
    r = next;
  }
}

static dn_flush_req *take_reqs(dn_coll *coll) {
  pthread_mutex_lock(&coll->mu);
  dn_flush_req *r = coll->reqs;
  coll->reqs = NULL;
  pthread_mutex_unlock(&coll->mu);
  return r;
}

static bool stopping(dn_coll *coll) {
  pthread_mutex_lock(&coll->mu);
  bool stop = coll->stop;
  pthread_mutex_unlock(&coll->mu);
  return stop;
}

/* ---- the consumer thread ------------------------------------------------- */

/* Cuts ch; CONFLICT is returned (fatal), other failures are returned when
 * `requested`, else logged and retried later. */
static cairn_status cut(dn_coll *coll, dn_channel *ch, bool requested,
                        cairn_error *err) {
  bool flushed = false;
  cairn_status st = dn_flush_channel(coll, ch, &flushed, err);
  if (flushed && coll->dn->opts.on_flushed != NULL)
    coll->dn->opts.on_flushed(coll->dn->opts.on_flushed_user, coll->id);
  if (st == CAIRN_OK || st == CAIRN_CONFLICT || requested)
    return st;
  cairn_log_error("datanode: collection %" PRId64 " channel %s: flush failed "
                  "(retrying in %d ms): %s", coll->id, ch->name, DN_RETRY_MS,
                  err->message);
  ch->retry_after_ms = dn_now_ms() + DN_RETRY_MS;
  cairn_error_clear(err);
  return CAIRN_OK;
}

static bool seal_due(const cairn_datanode *dn, const dn_channel *ch,
                     int64_t now) {
  if (ch->oldest_ms == 0 || now < ch->retry_after_ms)
    return false;
  return ch->rows >= dn->opts.seal_rows || ch->bytes >= dn->opts.seal_bytes ||
         now - ch->oldest_ms >= dn->opts.seal_age_ms;
}

/* Reads up to max messages of ch (the first waiting up to timeout_ms). */
static cairn_status consume(dn_coll *coll, dn_channel *ch, int max,
                            int timeout_ms, size_t *got, cairn_error *err) {
  for (int i = 0; i < max; i++) {
    cairn_mq_message m;
    cairn_status st = cairn_mq_consumer_next(ch->consumer, i == 0 ? timeout_ms : 0,
                                             &m, err);
    if (st == CAIRN_NOT_READY) {
      cairn_error_clear(err);
      return CAIRN_OK;
    }
    if (st != CAIRN_OK)
      return st;
    if ((st = dn_buffer_message(coll, ch, m.payload, m.len, err)) != CAIRN_OK)
      return st;
    ch->next = m.position + 1;
    (*got)++;
    if (ch->rows >= coll->dn->opts.seal_rows ||
        ch->bytes >= coll->dn->opts.seal_bytes)
      if (seal_due(coll->dn, ch, dn_now_ms()) &&
          (st = cut(coll, ch, false, err)) != CAIRN_OK)
        return st;
  }
  return CAIRN_OK;
}

/* Phase 1: consume up to the requests' targets, cut every channel. */
static cairn_status serve_flush(dn_coll *coll, dn_flush_req *reqs,
                                cairn_error *err) {
  cairn_status st = CAIRN_OK;
  for (size_t c = 0; c < coll->n_channels && st == CAIRN_OK; c++) {
    dn_channel *ch = &coll->channels[c];
    int64_t target = 0;
    for (dn_flush_req *r = reqs; r != NULL; r = r->next)
      if (r->targets[c] > target)
        target = r->targets[c];
    while (st == CAIRN_OK && ch->next < target) {
      if (stopping(coll))
        st = cairn_error_set(err, CAIRN_NOT_READY,
                             "datanode stopped during the flush");
      size_t got = 0;
      if (st == CAIRN_OK)
        st = consume(coll, ch, 4096, WAIT_MS, &got, err);
    }
  }
  for (size_t c = 0; c < coll->n_channels && st == CAIRN_OK; c++)
    st = cut(coll, &coll->channels[c], true, err);
  reqs_complete(reqs, st, err);
  /* only CONFLICT or a broken consumer stops the collection */
  if (st != CAIRN_CONFLICT && st != CAIRN_NOMEM && st != CAIRN_INTERNAL &&
      st != CAIRN_CORRUPT && st != CAIRN_IO_NOT_FOUND) {
    cairn_error_clear(err);
    return CAIRN_OK;
  }
  return st;
}

/* Phase 2. */
static cairn_status consume_round(dn_coll *coll, size_t *got, cairn_error *err) {
  cairn_status st = CAIRN_OK;
  for (size_t c = 0; c < coll->n_channels && st == CAIRN_OK; c++)
    st = consume(coll, &coll->channels[c], ROUND_MSGS, 0, got, err);
  int64_t now = dn_now_ms();
  for (size_t c = 0; c < coll->n_channels && st == CAIRN_OK; c++)
    if (seal_due(coll->dn, &coll->channels[c], now))
      st = cut(coll, &coll->channels[c], false, err);
  return st;
}

/* Phase 3. */
static void idle_wait(dn_coll *coll) {
  struct timespec until = cairn_deadline_in(CLOCK_REALTIME, IDLE_MS);
  pthread_mutex_lock(&coll->mu);
  if (!coll->stop && coll->reqs == NULL)
    pthread_cond_timedwait(&coll->cv, &coll->mu, &until);
  pthread_mutex_unlock(&coll->mu);
}

static void thread_finish(dn_coll *coll, cairn_status st, cairn_error *err) {
  pthread_mutex_lock(&coll->mu);
  if (st != CAIRN_OK && !coll->stop) {
    coll->failed = true;
    int at = snprintf(coll->fail_msg, sizeof coll->fail_msg,
                      "datanode stopped consuming collection %" PRId64 ": ",
                      coll->id);
    size_t room = sizeof coll->fail_msg - (size_t)at;
    memcpy(coll->fail_msg + at, err->message,
           strnlen(err->message, room - 1));
    coll->fail_msg[at + strnlen(err->message, room - 1)] = '\0';
    cairn_log_error("%s", coll->fail_msg);
  }
  if (st == CAIRN_OK)
    cairn_error_set(err, CAIRN_NOT_READY,
                    "collection %" PRId64 " is no longer watched", coll->id);
  dn_flush_req *reqs = coll->reqs;
  coll->reqs = NULL;
  coll->exited = true;
  pthread_mutex_unlock(&coll->mu);
  reqs_complete(reqs, st != CAIRN_OK ? st : CAIRN_NOT_READY, err);
}

/* Once per start, when the log is caught up: the objects of dropped
 * partitions (dn_drop.c). A failure is only logged. */
static void sweep(dn_coll *coll) {
  cairn_error err = {0};
  if (dn_sweep_dropped_partitions(coll->dn, coll->id, &err) != CAIRN_OK)
    cairn_log_warn("datanode: collection %" PRId64 ": sweeping the objects of "
                   "dropped partitions: %s (tried again at the next start)",
                   coll->id, err.message);
}

static void *consumer_main(void *arg) {
  dn_coll *coll = arg;
  cairn_error err = {0};
  cairn_status st = CAIRN_OK;
  bool swept = false;
  while (st == CAIRN_OK && !stopping(coll)) {
    dn_flush_req *reqs = take_reqs(coll);
    if (reqs != NULL && (st = serve_flush(coll, reqs, &err)) != CAIRN_OK)
      break;
    size_t got = 0;
    st = consume_round(coll, &got, &err);
    if (st == CAIRN_OK && got == 0 && !swept) {
      sweep(coll);
      swept = true;
    } else if (st == CAIRN_OK && got == 0) {
      idle_wait(coll);
    }
  }
  thread_finish(coll, st, &err);
  return NULL;
}

static void coll_stop_join(dn_coll *coll) {
  pthread_mutex_lock(&coll->mu);
  coll->stop = true;
  pthread_cond_broadcast(&coll->cv);
  pthread_mutex_unlock(&coll->mu);
  if (coll->thread_started)
    pthread_join(coll->thread, NULL);
  coll->thread_started = false;
}

/* ---- the API ----------------------------------------------------------------- */

cairn_status cairn_datanode_open(const cairn_datanode_options *opts,
                                 cairn_datanode **out, cairn_error *err) {
  *out = NULL;
  if (opts == NULL || opts->mq == NULL || opts->objstore == NULL ||
      opts->coord == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "datanode needs a log, an object store and a "
                           "coordinator client");
  cairn_datanode *dn = calloc(1, sizeof *dn);
  if (dn == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  dn->opts = *opts;
  dn->root_buf = strdup(opts->root ? opts->root : "");
  if (dn->root_buf == NULL) {
    free(dn);
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  }
  size_t len = strlen(dn->root_buf);
  while (len > 0 && dn->root_buf[len - 1] == '/')
    dn->root_buf[--len] = '\0';
  dn->opts.root = dn->root_buf;
  if (dn->opts.seal_rows == 0)
    dn->opts.seal_rows = DN_DEFAULT_SEAL_ROWS;
  if (dn->opts.seal_bytes == 0)
    dn->opts.seal_bytes = DN_DEFAULT_SEAL_BYTES;
  if (dn->opts.seal_age_ms <= 0)
    dn->opts.seal_age_ms = DN_DEFAULT_SEAL_AGE_MS;
  pthread_mutex_init(&dn->mu, NULL);
  *out = dn;
  return CAIRN_OK;
}

void cairn_datanode_close(cairn_datanode *dn) {
  if (dn == NULL)
    return;
  pthread_mutex_lock(&dn->mu);
  dn_coll *list = dn->colls;
  dn->colls = NULL;
  pthread_mutex_unlock(&dn->mu);
  while (list != NULL) {
    dn_coll *next = list->next;
    coll_stop_join(list);
    coll_free(list);
    list = next;
  }
  pthread_mutex_destroy(&dn->mu);
  free(dn->root_buf);
  free(dn);
}

static dn_coll *find_nolock(cairn_datanode *dn, int64_t id) {
  for (dn_coll *c = dn->colls; c != NULL; c = c->next)
    if (c->id == id)
      return c;
  return NULL;
}

static dn_coll *unlink_nolock(cairn_datanode *dn, int64_t id) {
  for (dn_coll **p = &dn->colls; *p != NULL; p = &(*p)->next)
    if ((*p)->id == id) {
      dn_coll *c = *p;
      *p = c->next;
      return c;
    }
  return NULL;
}

static bool failed(dn_coll *coll) {
  pthread_mutex_lock(&coll->mu);
  bool f = coll->failed;
  pthread_mutex_unlock(&coll->mu);
  return f;
}

/* Watches id unless it is watched; a collection whose thread failed is
 * restarted when restart_failed. */
static cairn_status watch(cairn_datanode *dn, int64_t id, bool restart_failed,
                          cairn_error *err) {
  pthread_mutex_lock(&dn->mu);
  dn_coll *have = find_nolock(dn, id);
  bool done = have != NULL && (!restart_failed || !failed(have));
  pthread_mutex_unlock(&dn->mu);
  if (done)
    return CAIRN_OK;
  dn_coll *coll = NULL;
  cairn_status st = coll_new(dn, id, &coll, err);
  if (st != CAIRN_OK)
    return st;
  dn_coll *old = NULL;
  pthread_mutex_lock(&dn->mu);
  have = find_nolock(dn, id);
  if (have != NULL && (!restart_failed || !failed(have))) {
    pthread_mutex_unlock(&dn->mu);
    coll_free(coll); /* another caller won the race */
    return CAIRN_OK;
  }
  old = have != NULL ? unlink_nolock(dn, id) : NULL;
  int rc = pthread_create(&coll->thread, NULL, consumer_main, coll);
  if (rc == 0) {
    coll->thread_started = true;
    coll->next = dn->colls;
    dn->colls = coll;
  }
  pthread_mutex_unlock(&dn->mu);
  if (old != NULL) {
    coll_stop_join(old);
    coll_free(old);
  }
  if (rc != 0) {
    coll_free(coll);
    return cairn_error_set(err, CAIRN_INTERNAL, "pthread_create: %s",
                           strerror(rc));
  }
  cairn_log_info("datanode: watching collection %" PRId64 " (%zu channels)", id,
                 coll->n_channels);
  return CAIRN_OK;
}

cairn_status cairn_datanode_watch(cairn_datanode *dn, int64_t collection_id,
                                  cairn_error *err) {
  return watch(dn, collection_id, true, err);
}

/* Enqueues r on the collection (targets from the log's current ends). */
static cairn_status enqueue_flush(cairn_datanode *dn, int64_t id,
                                  dn_flush_req *r, cairn_error *err) {
  cairn_status st = CAIRN_OK;
  pthread_mutex_lock(&dn->mu);
  dn_coll *coll = find_nolock(dn, id);
  if (coll == NULL)
    st = cairn_error_set(err, CAIRN_NOT_READY,
                         "collection %" PRId64 " is not watched", id);
  if (st == CAIRN_OK &&
      (r->targets = calloc(coll->n_channels, sizeof *r->targets)) == NULL)
    st = cairn_error_set(err, CAIRN_NOMEM, NULL);
  for (size_t c = 0; st == CAIRN_OK && c < coll->n_channels; c++) {
    int64_t first;
    st = cairn_mq_bounds(dn->opts.mq, coll->channels[c].name, &first,
                         &r->targets[c], err);
  }
  if (st == CAIRN_OK) {
    pthread_mutex_lock(&coll->mu);
    if (coll->failed || coll->exited)
      st = cairn_error_set(err, CAIRN_NOT_READY, "%s",
                           coll->failed ? coll->fail_msg : "datanode stopped");
    else {
      r->next = coll->reqs;
      coll->reqs = r;
      pthread_cond_broadcast(&coll->cv);
    }
    pthread_mutex_unlock(&coll->mu);
  }
  pthread_mutex_unlock(&dn->mu);
  return st;
}

static cairn_status list_segment_ids(cairn_datanode *dn, int64_t id,
                                     int64_t **ids, size_t *n,
                                     cairn_error *err) {
  cairn_arena *arena = cairn_arena_new();
  if (arena == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  Cairn__Data__SegmentInfo **segs;
  Cairn__Data__ChannelCheckpoint **cps;
  size_t n_segs = 0, n_cps;
  cairn_status st = dn_coord_list(dn, arena, id, &segs, &n_segs, &cps, &n_cps,
                                  err);
  if (st == CAIRN_OK && (*ids = malloc((n_segs + 1) * sizeof **ids)) == NULL)
    st = cairn_error_set(err, CAIRN_NOMEM, NULL);
  for (size_t i = 0; st == CAIRN_OK && i < n_segs; i++)
    (*ids)[(*n)++] = segs[i]->id;
  cairn_arena_free(arena);
  return st;
}

cairn_status cairn_datanode_flush(cairn_datanode *dn, int64_t collection_id,
                                  int64_t **segment_ids, size_t *n,
                                  cairn_error *err) {
  if (segment_ids != NULL)
    *segment_ids = NULL;
  if (n != NULL)
    *n = 0;
  cairn_status st = watch(dn, collection_id, false, err);
  if (st != CAIRN_OK)
    return st;
  dn_flush_req r = {.st = CAIRN_OK};
  pthread_mutex_init(&r.mu, NULL);
  pthread_cond_init(&r.cv, NULL);
  st = enqueue_flush(dn, collection_id, &r, err);
  if (st == CAIRN_OK) {
    pthread_mutex_lock(&r.mu);
    while (!r.done)
      pthread_cond_wait(&r.cv, &r.mu);
    pthread_mutex_unlock(&r.mu);
    st = r.st;
    if (st != CAIRN_OK)
      cairn_error_set(err, st, "%s", r.err.message);
  }
  free(r.targets);
  pthread_mutex_destroy(&r.mu);
  pthread_cond_destroy(&r.cv);
  if (st == CAIRN_OK && segment_ids != NULL && n != NULL)
    st = list_segment_ids(dn, collection_id, segment_ids, n, err);
  return st;
}

uint64_t cairn_datanode_growing_rows(cairn_datanode *dn, int64_t collection_id) {
  pthread_mutex_lock(&dn->mu);
  dn_coll *coll = find_nolock(dn, collection_id);
  uint64_t rows = coll ? (uint64_t)atomic_load(&coll->growing_rows) : 0;
  pthread_mutex_unlock(&dn->mu);
  return rows;
}

void cairn_datanode_unwatch(cairn_datanode *dn, int64_t collection_id) {
  pthread_mutex_lock(&dn->mu);
  dn_coll *coll = unlink_nolock(dn, collection_id);
  pthread_mutex_unlock(&dn->mu);
  if (coll != NULL) {
    coll_stop_join(coll);
    coll_free(coll);
  }
}

cairn_status cairn_datanode_drop(cairn_datanode *dn, int64_t collection_id,
                                 cairn_error *err) {
  cairn_datanode_unwatch(dn, collection_id);
  return dn_remove_objects(dn, collection_id, err);
}
