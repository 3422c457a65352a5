/*
 * querynode.c — the querynode's registry of loaded collections and their
 * life cycle: load (asynchronous, with progress), refresh, release.
 *
 * Load, in phases (one loader thread per collection):
 *   1. (in cairn_querynode_load) DescribeCollection: schema and channels;
 *      the log end of every channel, which loading must reach;
 *   2. ListSegments; every sealed segment loaded (qn_segment.c) and its
 *      delta log read into the delete map (progress 0..80);
 *   3. per channel: an empty growing segment, the consumer started at the
 *      channel checkpoint; the first view published;
 *   4. wait until every consumer reached the log end of phase 1 (80..99);
 *      then the collection is loaded (100) and serves reads.
 * Refresh repeats phase 2 for the segments it has not loaded yet (a
 * segment whose index files changed is reloaded), trims the growing
 * segments to the new checkpoints and swaps the view in one step
 * (qn_internal.h explains why readers never see a row twice or miss one).
 * Loads and refreshes of one collection are serialised by refresh_mu.
 *
 * Release removes the collection from the registry, stops and joins its
 * threads, and drops the registry's reference; readers still holding one
 * finish on the old segments, and the last reference frees everything.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn_internal.pb-c.h"
#include "log.h"
#include "milvus.pb-c.h"
#include "milvus_util.h"
#include "qn_internal.h"

#define COORD(m) "/cairn.internal.CoordService/" m
#define STRONG_TIMEOUT_DEFAULT_MS 10000
#define LOAD_SEGMENTS_PCT 80

typedef Cairn__Data__SegmentInfo seg_info;

cairn_status qn_pb_status(const Milvus__Proto__Common__Status *s,
                          const char *what, cairn_error *err) {
  return s == NULL ? CAIRN_OK : cairn_pb_status_check(s, what, err);
}

/* ---- collection objects ------------------------------------------------- */

static void coll_free(qn_coll *c) {
  qn_view_unref(c->view);
  for (size_t i = 0; c->chans != NULL && i < c->n_chans; i++) {
    qn_growing_unref(c->chans[i].g);
    pthread_mutex_destroy(&c->chans[i].mu);
    pthread_cond_destroy(&c->chans[i].cond);
    free(c->chans[i].name);
  }
  free(c->chans);
  qn_delmap_destroy(&c->dels);
  cairn_schema_free(c->schema);
  pthread_mutex_destroy(&c->mu);
  pthread_mutex_destroy(&c->refresh_mu);
  free(c);
}

void qn_coll_unref(qn_coll *c) {
  if (c != NULL && atomic_fetch_sub(&c->refs, 1) == 1)
    coll_free(c);
}

qn_view *qn_coll_view(qn_coll *c) {
  pthread_mutex_lock(&c->mu);
  qn_view *v = c->view;
  if (v != NULL)
    qn_view_ref(v);
  pthread_mutex_unlock(&c->mu);
  return v;
}

static void set_progress(qn_coll *c, int pct) {
  pthread_mutex_lock(&c->mu);
  c->progress = pct;
  pthread_mutex_unlock(&c->mu);
}

/* Schema and channels from the coordinator (phase 1). */
static cairn_status describe(cairn_querynode *qn, qn_coll *c, cairn_error *err) {
  cairn_arena *a = cairn_arena_new();
  if (a == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  Milvus__Proto__Milvus__DescribeCollectionRequest req =
      MILVUS__PROTO__MILVUS__DESCRIBE_COLLECTION_REQUEST__INIT;
  req.collectionid = c->id;
  Milvus__Proto__Milvus__DescribeCollectionResponse *r = NULL;
  cairn_status st = cairn_rpc_call(qn->opts.coord, COORD("DescribeCollection"), &req.pb_base,
                                   &milvus__proto__milvus__describe_collection_response__descriptor,
                                   NULL, a, (ProtobufCMessage **)&r, err);
  if (st == CAIRN_OK)
    st = qn_pb_status(r->status, "DescribeCollection", err);
  if (st == CAIRN_OK && r->schema == NULL)
    st = cairn_error_set(err, CAIRN_INTERNAL, "DescribeCollection returned no schema");
  if (st == CAIRN_OK)
    st = cairn_schema_from_pb(r->schema, &c->schema, err);
  if (st == CAIRN_OK && (c->n_chans = r->n_virtual_channel_names) > 0 &&
      (c->chans = calloc(c->n_chans, sizeof *c->chans)) == NULL)
    st = cairn_error_set(err, CAIRN_NOMEM, NULL);
  for (size_t i = 0; st == CAIRN_OK && i < c->n_chans; i++) {
    qn_chan *ch = &c->chans[i];
    ch->coll = c;
    ch->idx = (int)i;
    pthread_mutex_init(&ch->mu, NULL);
    pthread_cond_init(&ch->cond, NULL);
    if ((ch->name = strdup(r->virtual_channel_names[i])) == NULL)
      st = cairn_error_set(err, CAIRN_NOMEM, NULL);
    int64_t first;
    if (st == CAIRN_OK)
      st = cairn_mq_bounds(qn->opts.mq, ch->name, &first, &ch->target, err);
  }
  cairn_arena_free(a);
  return st;
}

static cairn_status coll_new(cairn_querynode *qn, int64_t id, qn_coll **out,
                             cairn_error *err) {
  qn_coll *c = calloc(1, sizeof *c);
  *out = NULL;
  if (c == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  atomic_init(&c->refs, 1);
  atomic_init(&c->stop, false);
  pthread_mutex_init(&c->mu, NULL);
  pthread_mutex_init(&c->refresh_mu, NULL);
  c->qn = qn;
  c->id = id;
  c->state = QN_LOADING;
  cairn_status st = describe(qn, c, err);
  const cairn_field *pk = st == CAIRN_OK ? cairn_schema_primary(c->schema) : NULL;
  if (st == CAIRN_OK && pk == NULL)
    st = cairn_error_set(err, CAIRN_INTERNAL, "collection %" PRId64 " has no primary key", id);
  if (st == CAIRN_OK) {
    c->pk_index = (int)(pk - c->schema->fields);
    st = qn_delmap_init(&c->dels, pk->type == CAIRN_TYPE_VARCHAR, err);
  }
  if (st != CAIRN_OK) {
    if (c->schema == NULL || pk == NULL)
      qn_delmap_init(&c->dels, false, NULL); /* so coll_free can destroy it */
    coll_free(c);
    return st;
  }
  *out = c;
  return CAIRN_OK;
}

/* ---- segment sync (load phase 2-3 and refresh) -------------------------- */

static int cmp_sealed(const void *a, const void *b) {
  const qn_sealed *x = *(qn_sealed *const *)a, *y = *(qn_sealed *const *)b;
  if (x->chan != y->chan)
    return x->chan < y->chan ? -1 : 1;
  if (x->start_pos != y->start_pos)
    return x->start_pos < y->start_pos ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

static qn_sealed *find_loaded(const qn_view *v, const seg_info *info) {
  for (size_t i = 0; v != NULL && i < v->n_sealed; i++)
    if (v->sealed[i]->id == info->id) {
      /* another index, or rows gone (a dropped partition's segment is
       * listed delete-only): load it again */
      char *sig = qn_index_sig(info);
      bool same = sig != NULL && strcmp(sig, v->sealed[i]->index_sig) == 0 &&
                  v->sealed[i]->partition_id == info->partition_id;
      free(sig);
      return same ? v->sealed[i] : NULL;
    }
  return NULL;
}

static bool was_loaded(const qn_view *v, int64_t id) {
  for (size_t i = 0; v != NULL && i < v->n_sealed; i++)
    if (v->sealed[i]->id == id)
      return true;
  return false;
}

/* Sealed segments of the new view: reused from old or loaded now. */
static cairn_status load_sealed(qn_coll *c, const qn_view *old, seg_info **infos,
                                size_t n, bool initial, qn_sealed **out,
                                cairn_error *err) {
  for (size_t i = 0; i < n; i++) {
    if (atomic_load(&c->stop))
      return cairn_error_set(err, CAIRN_NOT_READY, "collection released");
    qn_sealed *s = find_loaded(old, infos[i]);
    if (s != NULL) {
      qn_sealed_ref(s);
      out[i] = s;
      continue;
    }
    cairn_status st = qn_sealed_load(c, infos[i], &out[i], err);
    if (st == CAIRN_OK && !was_loaded(old, infos[i]->id) &&
        infos[i]->deltalog_key != NULL && infos[i]->deltalog_key[0] != '\0')
      st = qn_load_deltalog(c, infos[i]->deltalog_key, err);
    if (st != CAIRN_OK)
      return st;
    if (initial)
      set_progress(c, (int)((i + 1) * LOAD_SEGMENTS_PCT / n));
  }
  if (n > 1)
    qsort(out, n, sizeof *out, cmp_sealed);
  return CAIRN_OK;
}

/* Where the channel's sealed data ends: the furthest of its checkpoint and
 * of its listed segments' ends. The coordinator reads the checkpoints
 * before the segments (coord_segment.c), so a flush recorded in between
 * shows its segments with the older checkpoint; trimming to that
 * checkpoint alone would keep the flush's rows twice, growing and sealed. */
static int64_t covered_of(const Cairn__Internal__ListSegmentsResponse *r,
                          const char *channel) {
  int64_t pos = 0;
  for (size_t i = 0; i < r->n_checkpoints; i++)
    if (strcmp(r->checkpoints[i]->channel, channel) == 0 &&
        r->checkpoints[i]->position > pos)
      pos = r->checkpoints[i]->position;
  for (size_t i = 0; i < r->n_segments; i++)
    if (strcmp(r->segments[i]->channel, channel) == 0 &&
        r->segments[i]->end_position > pos)
      pos = r->segments[i]->end_position;
  return pos;
}

/* Moves every channel to its checkpoint (chan->mu held by the caller):
 * the first time an empty growing segment, later a trimmed one. */
static cairn_status move_channel_nolock(qn_coll *c, qn_chan *ch, int64_t cp,
                                        bool initial, cairn_error *err) {
  if (initial) {
    ch->skip_below = ch->consumed = cp;
    return qn_growing_new(c->schema, ch->idx, &ch->g, err);
  }
  if (cp <= ch->skip_below)
    return CAIRN_OK;
  qn_growing *t = NULL;
  cairn_status st = qn_growing_trim(ch->g, c->schema, cp, &t, err);
  if (st != CAIRN_OK)
    return st;
  qn_growing_unref(ch->g);
  ch->g = t;
  ch->skip_below = cp;
  return CAIRN_OK;
}

/* Builds the view of `sealed` + the channels' growing segments moved to
 * the response's checkpoints, and publishes it. Takes over `sealed`. */
static cairn_status publish_view(qn_coll *c, const Cairn__Internal__ListSegmentsResponse *r,
                                 qn_sealed **sealed, size_t n, bool initial,
                                 cairn_error *err) {
  qn_view *v = calloc(1, sizeof *v);
  qn_growing **gs = calloc(c->n_chans + 1, sizeof *gs);
  if (v == NULL || gs == NULL) {
    free(v);
    free(gs);
    for (size_t i = 0; i < n; i++)
      qn_sealed_unref(sealed[i]);
    free(sealed);
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  }
  atomic_init(&v->refs, 1);
  v->sealed = sealed;
  v->n_sealed = n;
  v->growing = gs;
  cairn_status st = CAIRN_OK;
  for (size_t i = 0; i < c->n_chans; i++)
    pthread_mutex_lock(&c->chans[i].mu);
  for (size_t i = 0; st == CAIRN_OK && i < c->n_chans; i++) {
    qn_chan *ch = &c->chans[i];
    st = move_channel_nolock(c, ch, covered_of(r, ch->name), initial, err);
    if (st == CAIRN_OK) {
      qn_growing_ref(ch->g);
      gs[v->n_growing++] = ch->g;
    }
  }
  qn_view *old = NULL;
  if (st == CAIRN_OK) {
    pthread_mutex_lock(&c->mu);
    old = c->view;
    c->view = v;
    pthread_mutex_unlock(&c->mu);
  }
  for (size_t i = c->n_chans; i-- > 0;)
    pthread_mutex_unlock(&c->chans[i].mu);
  qn_view_unref(st == CAIRN_OK ? old : v);
  return st;
}

static cairn_status list_segments(cairn_querynode *qn, qn_coll *c, cairn_arena *a,
                                  Cairn__Internal__ListSegmentsResponse **r,
                                  cairn_error *err) {
  Cairn__Internal__ListSegmentsRequest req = CAIRN__INTERNAL__LIST_SEGMENTS_REQUEST__INIT;
  req.collection_id = c->id;
  cairn_status st = cairn_rpc_call(qn->opts.coord, COORD("ListSegments"), &req.base,
                                   &cairn__internal__list_segments_response__descriptor,
                                   NULL, a, (ProtobufCMessage **)r, err);
  return st == CAIRN_OK ? qn_pb_status((*r)->status, "ListSegments", err) : st;
}

/* Phases 2-3 (initial) or a refresh; refresh_mu held. */
static cairn_status sync_segments_nolock(qn_coll *c, bool initial, cairn_error *err) {
  cairn_arena *a = cairn_arena_new();
  if (a == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  Cairn__Internal__ListSegmentsResponse *r = NULL;
  cairn_status st = list_segments(c->qn, c, a, &r, err);
  qn_view *old = st == CAIRN_OK ? qn_coll_view(c) : NULL;
  qn_sealed **sealed = NULL;
  if (st == CAIRN_OK && (sealed = calloc(r->n_segments + 1, sizeof *sealed)) == NULL)
    st = cairn_error_set(err, CAIRN_NOMEM, NULL);
  if (st == CAIRN_OK)
    st = load_sealed(c, old, r->segments, r->n_segments, initial, sealed, err);
  qn_view_unref(old);
  if (st == CAIRN_OK) {
    st = publish_view(c, r, sealed, r->n_segments, initial, err);
  } else if (sealed != NULL) {
    for (size_t i = 0; i < r->n_segments; i++)
      qn_sealed_unref(sealed[i]);
    free(sealed);
  }
  cairn_arena_free(a);
  return st;
}

/* ---- loader thread ------------------------------------------------------ */

/* Phase 4: wait for the consumers to reach the targets. */
static cairn_status catch_up(qn_coll *c, cairn_error *err) {
  int64_t total = 0;
  for (size_t i = 0; i < c->n_chans; i++)
    total += c->chans[i].target - c->chans[i].skip_below;
  for (;;) {
    int64_t left = 0;
    for (size_t i = 0; i < c->n_chans; i++) {
      qn_chan *ch = &c->chans[i];
      pthread_mutex_lock(&ch->mu);
      if (ch->failed != CAIRN_OK) {
        cairn_status st = cairn_error_set(err, ch->failed, "channel %s: %s",
                                          ch->name, ch->failed_msg);
        pthread_mutex_unlock(&ch->mu);
        return st;
      }
      if (ch->consumed < ch->target)
        left += ch->target - ch->consumed;
      pthread_mutex_unlock(&ch->mu);
    }
    if (left <= 0)
      return CAIRN_OK;
    if (atomic_load(&c->stop))
      return cairn_error_set(err, CAIRN_NOT_READY, "collection released");
    set_progress(c, LOAD_SEGMENTS_PCT +
                        (int)((total - left) * (99 - LOAD_SEGMENTS_PCT) / (total ? total : 1)));
    usleep(2000);
  }
}

static cairn_status start_consumers(qn_coll *c, cairn_error *err) {
  for (size_t i = 0; i < c->n_chans; i++) {
    cairn_status st = qn_consumer_start(&c->chans[i], err);
    if (st != CAIRN_OK)
      return st;
  }
  return CAIRN_OK;
}

static void *load_main(void *arg) {
  qn_coll *c = arg;
  cairn_error err = {0};
  pthread_mutex_lock(&c->refresh_mu);
  cairn_status st = sync_segments_nolock(c, true, &err);
  if (st == CAIRN_OK)
    st = start_consumers(c, &err);
  pthread_mutex_unlock(&c->refresh_mu);
  if (st == CAIRN_OK)
    st = catch_up(c, &err);
  pthread_mutex_lock(&c->mu);
  c->state = st == CAIRN_OK ? QN_LOADED : QN_FAILED;
  c->progress = st == CAIRN_OK ? 100 : -1;
  c->load_err = err;
  pthread_mutex_unlock(&c->mu);
  if (st != CAIRN_OK)
    cairn_log_error("querynode: loading collection %" PRId64 " failed: %s", c->id,
                    err.message);
  return NULL;
}

/* ---- registry ----------------------------------------------------------- */

static qn_coll *find_nolock(cairn_querynode *qn, int64_t id, size_t *at) {
  for (size_t i = 0; i < qn->n_colls; i++)
    if (qn->colls[i]->id == id) {
      if (at != NULL)
        *at = i;
      return qn->colls[i];
    }
  return NULL;
}

/* Stops a collection taken out of the registry and drops its reference. */
static void coll_stop(qn_coll *c) {
  atomic_store(&c->stop, true);
  if (c->loader_started)
    pthread_join(c->loader, NULL);
  for (size_t i = 0; i < c->n_chans; i++)
    qn_consumer_join(&c->chans[i]);
  qn_coll_unref(c);
}

static qn_coll *take_out(cairn_querynode *qn, int64_t id) {
  pthread_mutex_lock(&qn->mu);
  size_t at = 0;
  qn_coll *c = find_nolock(qn, id, &at);
  if (c != NULL)
    qn->colls[at] = qn->colls[--qn->n_colls];
  pthread_mutex_unlock(&qn->mu);
  return c;
}

static cairn_status add_nolock(cairn_querynode *qn, qn_coll *c, cairn_error *err) {
  if (qn->n_colls == qn->cap_colls) {
    size_t cap = qn->cap_colls ? qn->cap_colls * 2 : 8;
    qn_coll **t = realloc(qn->colls, cap * sizeof *t);
    if (t == NULL)
      return cairn_error_set(err, CAIRN_NOMEM, NULL);
    qn->colls = t;
    qn->cap_colls = cap;
  }
  qn->colls[qn->n_colls++] = c;
  return CAIRN_OK;
}

cairn_status cairn_querynode_open(const cairn_querynode_options *opts,
                                  cairn_querynode **out, cairn_error *err) {
  *out = NULL;
  if (opts == NULL || opts->mq == NULL || opts->objstore == NULL || opts->coord == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "querynode needs a log, an object store and a coordinator");
  cairn_querynode *qn = calloc(1, sizeof *qn);
  if (qn == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  qn->opts = *opts;
  if (qn->opts.strong_timeout_ms <= 0)
    qn->opts.strong_timeout_ms = STRONG_TIMEOUT_DEFAULT_MS;
  int threads = opts->search_threads;
  if (threads <= 0)
    threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
  pthread_mutex_init(&qn->mu, NULL);
  /* The caller of a search works too: threads - 1 helpers. */
  cairn_status st = qn_pool_new(threads > 1 ? threads - 1 : 0, &qn->pool, err);
  if (st != CAIRN_OK) {
    pthread_mutex_destroy(&qn->mu);
    free(qn);
    return st;
  }
  *out = qn;
  return CAIRN_OK;
}

void cairn_querynode_close(cairn_querynode *qn) {
  if (qn == NULL)
    return;
  for (;;) {
    pthread_mutex_lock(&qn->mu);
    qn_coll *c = qn->n_colls ? qn->colls[--qn->n_colls] : NULL;
    pthread_mutex_unlock(&qn->mu);
    if (c == NULL)
      break;
    coll_stop(c);
  }
  qn_pool_free(qn->pool);
  pthread_mutex_destroy(&qn->mu);
  free(qn->colls);
  free(qn);
}

cairn_status cairn_querynode_load(cairn_querynode *qn, int64_t collection_id,
                                  cairn_error *err) {
  pthread_mutex_lock(&qn->mu);
  qn_coll *c = find_nolock(qn, collection_id, NULL);
  bool failed = false;
  if (c != NULL) {
    pthread_mutex_lock(&c->mu);
    failed = c->state == QN_FAILED;
    pthread_mutex_unlock(&c->mu);
  }
  pthread_mutex_unlock(&qn->mu);
  if (c != NULL && !failed)
    return CAIRN_OK;
  if (failed) /* a failed load is retried from scratch */
    cairn_querynode_release(qn, collection_id, NULL);
  cairn_status st = coll_new(qn, collection_id, &c, err);
  if (st != CAIRN_OK)
    return st;
  pthread_mutex_lock(&qn->mu);
  if (find_nolock(qn, collection_id, NULL) != NULL) { /* a racing load won */
    pthread_mutex_unlock(&qn->mu);
    coll_free(c);
    return CAIRN_OK;
  }
  st = add_nolock(qn, c, err);
  if (st == CAIRN_OK && pthread_create(&c->loader, NULL, load_main, c) == 0)
    c->loader_started = true;
  else if (st == CAIRN_OK)
    st = cairn_error_set(err, CAIRN_INTERNAL, "cannot start the loader thread");
  pthread_mutex_unlock(&qn->mu);
  if (st != CAIRN_OK) {
    if (take_out(qn, collection_id) == NULL)
      coll_free(c);
    else
      coll_stop(c);
  }
  return st;
}

int cairn_querynode_progress(cairn_querynode *qn, int64_t collection_id,
                             cairn_error *err) {
  pthread_mutex_lock(&qn->mu);
  qn_coll *c = find_nolock(qn, collection_id, NULL);
  int pct = -1;
  if (c != NULL) {
    pthread_mutex_lock(&c->mu);
    pct = c->state == QN_FAILED ? -1 : c->progress;
    if (c->state == QN_FAILED && err != NULL)
      *err = c->load_err;
    pthread_mutex_unlock(&c->mu);
  }
  pthread_mutex_unlock(&qn->mu);
  return pct;
}

cairn_status cairn_querynode_release(cairn_querynode *qn, int64_t collection_id,
                                     cairn_error *err) {
  (void)err;
  qn_coll *c = take_out(qn, collection_id);
  if (c != NULL)
    coll_stop(c);
  return CAIRN_OK; /* releasing what is not loaded is fine, as in Milvus */
}

cairn_status qn_coll_get_loaded(cairn_querynode *qn, int64_t id, qn_coll **out,
                                cairn_error *err) {
  *out = NULL;
  pthread_mutex_lock(&qn->mu);
  qn_coll *c = find_nolock(qn, id, NULL);
  cairn_status st = CAIRN_OK;
  if (c == NULL) {
    st = cairn_error_set(err, CAIRN_COLLECTION_NOT_LOADED,
                         "collection not loaded[collection=%" PRId64 "]", id);
  } else {
    pthread_mutex_lock(&c->mu);
    if (c->state == QN_LOADING)
      st = cairn_error_set(err, CAIRN_COLLECTION_NOT_LOADED,
                           "collection not loaded[collection=%" PRId64 "]: loading "
                           "(%d%%)", id, c->progress);
    else if (c->state == QN_FAILED)
      st = cairn_error_set(err, CAIRN_COLLECTION_NOT_LOADED,
                           "collection not loaded[collection=%" PRId64 "]: %s", id,
                           c->load_err.message);
    pthread_mutex_unlock(&c->mu);
    if (st == CAIRN_OK) {
      atomic_fetch_add(&c->refs, 1);
      *out = c;
    }
  }
  pthread_mutex_unlock(&qn->mu);
  return st;
}

cairn_status cairn_querynode_refresh(cairn_querynode *qn, int64_t collection_id,
                                     cairn_error *err) {
  qn_coll *c = NULL;
  cairn_status st = qn_coll_get_loaded(qn, collection_id, &c, err);
  if (st != CAIRN_OK)
    return st;
  pthread_mutex_lock(&c->refresh_mu);
  st = sync_segments_nolock(c, false, err);
  pthread_mutex_unlock(&c->refresh_mu);
  qn_coll_unref(c);
  return st;
}

cairn_status qn_read_begin(qn_coll *c, bool strong, bool with_growing,
                           qn_view **view, qn_segview **sv, size_t *n,
                           cairn_error *err) {
  *view = NULL;
  *sv = NULL;
  *n = 0;
  if (strong) {
    cairn_status st = qn_wait_strong(c, c->qn->opts.strong_timeout_ms, err);
    if (st != CAIRN_OK)
      return st;
  }
  qn_view *v = qn_coll_view(c);
  if (v == NULL)
    return cairn_error_set(err, CAIRN_COLLECTION_NOT_LOADED, "collection not loaded");
  cairn_status st = qn_segviews_make(v, with_growing, sv, n, err);
  if (st != CAIRN_OK) {
    qn_view_unref(v);
    return st;
  }
  *view = v;
  return CAIRN_OK;
}
