/*
 * indexnode.c — the indexnode's worker pool and scheduling (design:
 * indexnode.h; structures: in_internal.h).
 *
 * cairn_indexnode_schedule(collection), in phases:
 *   1. DescribeCollection by id (name, database, schema: field types and
 *      dims), DescribeIndex (every index definition: IndexDescription
 *      params index_type, metric_type, params JSON; indexID; field_name),
 *      ListSegments;
 *   2. for every vector index and every segment with rows that has no
 *      index_files entry for that index id and that this indexnode has not
 *      queued, built or failed before (the `known` table): queue a job.
 * Scalar index definitions (INVERTED, STL_SORT, Trie, BITMAP — anything
 * the vector index library does not know) are skipped: the querynode scans
 * scalar columns. XXX they are therefore never "built", which DescribeIndex
 * reports as pending rows for that index until scalar indexes exist.
 *
 * Workers pop jobs FIFO and run in_build. A failed build is logged with
 * its error and marked failed in `known`, so later schedules do not retry
 * it in a loop (a restarted indexnode tries once more).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "in_internal.h"
#include "index.h"
#include "log.h"
#include "milvus_util.h"

typedef Milvus__Proto__Milvus__IndexDescription index_desc;
typedef Cairn__Data__SegmentInfo seg_info;

/* ---- the known table (in->mu held) ------------------------------------- */

static in_known *known_find_nolock(cairn_indexnode *in, int64_t seg,
                                   int64_t index) {
  for (size_t i = 0; i < in->n_known; i++)
    if (in->known[i].segment_id == seg && in->known[i].index_id == index)
      return &in->known[i];
  return NULL;
}

static bool known_add_nolock(cairn_indexnode *in, int64_t seg, int64_t index) {
  if (in->n_known == in->cap_known) {
    size_t cap = in->cap_known ? in->cap_known * 2 : 64;
    in_known *k = realloc(in->known, cap * sizeof *k);
    if (k == NULL)
      return false;
    in->known = k;
    in->cap_known = cap;
  }
  in->known[in->n_known++] = (in_known){seg, index, IN_QUEUED};
  return true;
}

static void set_state(cairn_indexnode *in, const in_job *job, in_state s) {
  pthread_mutex_lock(&in->mu);
  in_known *k = known_find_nolock(in, job->segment_id, job->index_id);
  if (k != NULL)
    k->state = s;
  pthread_mutex_unlock(&in->mu);
}

/* ---- workers ------------------------------------------------------------ */

static in_job *pop(cairn_indexnode *in) {
  pthread_mutex_lock(&in->mu);
  while (!in->stop && in->head == NULL)
    pthread_cond_wait(&in->work, &in->mu);
  in_job *job = NULL;
  if (!in->stop) {
    job = in->head;
    in->head = job->next;
    if (in->head == NULL)
      in->tail = NULL;
    in->running++;
  }
  pthread_mutex_unlock(&in->mu);
  return job;
}

static void finish(cairn_indexnode *in, in_job *job, cairn_status st,
                   const cairn_error *err) {
  if (st != CAIRN_OK)
    cairn_log_error("indexnode: index %" PRId64 " (%s) of segment %" PRId64
                    " failed, not retried: %s", job->index_id, job->index_type,
                    job->segment_id, err->message);
  set_state(in, job, st == CAIRN_OK ? IN_DONE : IN_FAILED);
  if (st == CAIRN_OK && in->opts.on_built != NULL)
    in->opts.on_built(in->opts.on_built_user, job->collection_id);
  pthread_mutex_lock(&in->mu);
  in->running--;
  if (in->running == 0 && in->head == NULL)
    pthread_cond_broadcast(&in->idle);
  pthread_mutex_unlock(&in->mu);
}

static void *worker_main(void *arg) {
  cairn_indexnode *in = arg;
  in_job *job;
  while ((job = pop(in)) != NULL) {
    set_state(in, job, IN_RUNNING);
    cairn_error err = {0};
    cairn_status st = in_build(in, job, &err);
    if (st == CAIRN_OK)
      cairn_log_info("indexnode: built %s index %" PRId64 " of segment %" PRId64
                     " (%" PRIu64 " rows)", job->index_type, job->index_id,
                     job->segment_id, job->num_rows);
    finish(in, job, st, &err);
    in_job_free(job);
  }
  return NULL;
}

/* ---- life cycle ------------------------------------------------------------- */

static void free_queue_nolock(cairn_indexnode *in) {
  while (in->head != NULL) {
    in_job *j = in->head;
    in->head = j->next;
    in_job_free(j);
  }
  in->tail = NULL;
}

void cairn_indexnode_close(cairn_indexnode *in) {
  if (in == NULL)
    return;
  pthread_mutex_lock(&in->mu);
  in->stop = true;
  free_queue_nolock(in);
  pthread_cond_broadcast(&in->work);
  pthread_mutex_unlock(&in->mu);
  for (int i = 0; i < in->n_threads; i++)
    pthread_join(in->threads[i], NULL);
  pthread_mutex_lock(&in->mu);
  pthread_cond_broadcast(&in->idle); /* wake any wait_idle */
  pthread_mutex_unlock(&in->mu);
  free(in->threads);
  free(in->known);
  free(in->root_buf);
  pthread_mutex_destroy(&in->mu);
  pthread_cond_destroy(&in->work);
  pthread_cond_destroy(&in->idle);
  free(in);
}

cairn_status cairn_indexnode_open(const cairn_indexnode_options *opts,
                                  cairn_indexnode **out, cairn_error *err) {
  *out = NULL;
  if (opts == NULL || opts->objstore == NULL || opts->coord == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "indexnode needs an object store and a coordinator "
                           "client");
  cairn_indexnode *in = calloc(1, sizeof *in);
  if (in == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  in->opts = *opts;
  in->root_buf = strdup(opts->root ? opts->root : "");
  int n = opts->workers > 0 ? opts->workers : 1;
  in->threads = calloc((size_t)n, sizeof *in->threads);
  pthread_mutex_init(&in->mu, NULL);
  pthread_cond_init(&in->work, NULL);
  pthread_cond_init(&in->idle, NULL);
  if (in->root_buf == NULL || in->threads == NULL) {
    cairn_indexnode_close(in);
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  }
  size_t len = strlen(in->root_buf);
  while (len > 0 && in->root_buf[len - 1] == '/')
    in->root_buf[--len] = '\0';
  in->opts.root = in->root_buf;
  for (int i = 0; i < n; i++) {
    if (pthread_create(&in->threads[i], NULL, worker_main, in) != 0) {
      cairn_indexnode_close(in);
      return cairn_error_set(err, CAIRN_INTERNAL, "cannot start index workers");
    }
    in->n_threads++;
  }
  *out = in;
  return CAIRN_OK;
}

void cairn_indexnode_wait_idle(cairn_indexnode *in) {
  pthread_mutex_lock(&in->mu);
  while (!in->stop && (in->head != NULL || in->running > 0))
    pthread_cond_wait(&in->idle, &in->mu);
  pthread_mutex_unlock(&in->mu);
}

/* ---- scheduling ----------------------------------------------------------------- */

static bool has_file(const seg_info *s, int64_t index_id) {
  for (size_t i = 0; i < s->n_index_files; i++)
    if (s->index_files[i]->index_id == index_id)
      return true;
  return false;
}

static const char *binlog_key(const seg_info *s, int64_t field_id) {
  for (size_t i = 0; i < s->n_binlogs; i++)
    if (s->binlogs[i]->field_id == field_id)
      return s->binlogs[i]->key;
  return NULL;
}

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

static in_job *job_new(int64_t coll, const seg_info *s, const index_desc *d,
                       const cairn_field *f, const char *key) {
  in_job *j = calloc(1, sizeof *j);
  if (j == NULL)
    return NULL;
  j->collection_id = coll;
  j->segment_id = s->id;
  j->index_id = d->indexid;
  j->field_id = f->id;
  j->field_type = f->type;
  j->dim = f->dim;
  j->num_rows = s->num_rows;
  j->index_type = dup_or_empty(cairn_pb_kv_get(d->params, d->n_params, "index_type"));
  j->metric = dup_or_empty(cairn_pb_kv_get(d->params, d->n_params, "metric_type"));
  j->params_json = dup_or_empty(cairn_pb_kv_get(d->params, d->n_params, "params"));
  j->binlog_key = strdup(key);
  if (!j->index_type || !j->metric || !j->params_json || !j->binlog_key) {
    in_job_free(j);
    return NULL;
  }
  return j;
}

/* Queues the job unless the pair is known; takes the job either way. */
static cairn_status enqueue(cairn_indexnode *in, in_job *j, size_t *queued,
                            cairn_error *err) {
  if (j == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  pthread_mutex_lock(&in->mu);
  bool take = !in->stop && known_find_nolock(in, j->segment_id, j->index_id) == NULL &&
              known_add_nolock(in, j->segment_id, j->index_id);
  if (take) {
    if (in->tail)
      in->tail->next = j;
    else
      in->head = j;
    in->tail = j;
    (*queued)++;
    pthread_cond_signal(&in->work);
  }
  pthread_mutex_unlock(&in->mu);
  if (!take)
    in_job_free(j);
  return CAIRN_OK;
}

/* The field a definition indexes when it is a vector index, else NULL. */
static const cairn_field *vector_field(const cairn_schema *schema,
                                       const index_desc *d) {
  const cairn_field *f = cairn_schema_field(schema, d->field_name);
  const char *type = cairn_pb_kv_get(d->params, d->n_params, "index_type");
  if (f == NULL || !cairn_type_is_vector(f->type) || type == NULL ||
      cairn_index_type_from_name(type) == CAIRN_INDEX_NONE) {
    cairn_log_debug("indexnode: index %s on %s is not a vector index: skipped",
                    d->index_name, d->field_name);
    return NULL;
  }
  return f;
}

static cairn_status schedule_index(cairn_indexnode *in, int64_t coll,
                                   const cairn_schema *schema,
                                   const index_desc *d, seg_info **segs,
                                   size_t n_segs, size_t *queued,
                                   cairn_error *err) {
  const cairn_field *f = vector_field(schema, d);
  cairn_status st = CAIRN_OK;
  for (size_t i = 0; f != NULL && st == CAIRN_OK && i < n_segs; i++) {
    if (segs[i]->num_rows == 0 || has_file(segs[i], d->indexid))
      continue;
    const char *key = binlog_key(segs[i], f->id);
    if (key == NULL) {
      cairn_log_error("indexnode: segment %" PRId64 " has no binlog for field "
                      "%s: index %" PRId64 " not built", segs[i]->id, f->name,
                      d->indexid);
      continue;
    }
    st = enqueue(in, job_new(coll, segs[i], d, f, key), queued, err);
  }
  return st;
}

cairn_status cairn_indexnode_schedule(cairn_indexnode *in, int64_t collection_id,
                                      cairn_error *err) {
  cairn_arena *arena = cairn_arena_new();
  if (arena == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  const char *db = NULL, *name = NULL;
  cairn_schema *schema = NULL;
  index_desc **descs = NULL;
  seg_info **segs = NULL;
  size_t n_descs = 0, n_segs = 0, queued = 0;
  cairn_status st = in_coord_collection(in, arena, collection_id, &db, &name,
                                        &schema, err);
  if (st == CAIRN_OK)
    st = in_coord_indexes(in, arena, db, name, &descs, &n_descs, err);
  if (st == CAIRN_OK && n_descs > 0)
    st = in_coord_segments(in, arena, collection_id, &segs, &n_segs, err);
  for (size_t i = 0; st == CAIRN_OK && i < n_descs; i++)
    st = schedule_index(in, collection_id, schema, descs[i], segs, n_segs,
                        &queued, err);
  if (queued > 0)
    cairn_log_info("indexnode: collection %" PRId64 ": %zu builds queued",
                   collection_id, queued);
  cairn_schema_free(schema);
  cairn_arena_free(arena);
  return st;
}
