/*
 * in_build.c — one index build, in phases:
 *   1. read the vector field's insert binlog: mapped from the object's
 *      local file when the store has one (cairn_objstore_local_path), else
 *      fetched whole (cairn_objstore_get) and validated in memory;
 *   2. create the index (cairn_index_new: type, metric, field type, dim,
 *      the definition's params JSON); IVF types train first on the rows, or
 *      on a strided sample of IN_TRAIN_MAX rows for bigger segments;
 *   3. add every row; ids are the row offsets 0..n-1 (ids NULL = positions),
 *      which is what the querynode maps back to the segment's rows;
 *   4. serialize (index/index_io.c format) and put the object at
 *      [root/]index_files/{index id}/1/{segment id}/index;
 *   5. SaveSegmentIndex. When the catalogue no longer has the segment
 *      (dropped meanwhile) the object is removed again.
 * Sparse rows are converted from the column layout (interleaved (index,
 * value) pairs) to the library's cairn_sparse_row records.
 *
 * Memory: the binlog (mapped), the index and its serialized copy are alive
 * at once at phase 4 — about twice the index size plus the vectors.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binlog.h"
#include "in_internal.h"
#include "milvus_util.h"
#include "index.h"

void in_job_free(in_job *job) {
  if (job == NULL)
    return;
  free(job->index_type);
  free(job->metric);
  free(job->params_json);
  free(job->binlog_key);
  free(job);
}

/* The vectors to index: a binlog view, or converted sparse rows. */
typedef struct in_rows {
  cairn_binlog *binlog;
  void *fetched;            /* object bytes when not mapped from a file */
  cairn_colview view;
  const void *vectors;      /* what cairn_index_add takes */
  cairn_sparse_row *sparse; /* owned, sparse only */
  uint32_t *sparse_idx;
  float *sparse_val;
} in_rows;

static void rows_free(in_rows *r) {
  cairn_binlog_close(r->binlog);
  free(r->fetched);
  free(r->sparse);
  free(r->sparse_idx);
  free(r->sparse_val);
}

static cairn_status open_binlog(cairn_indexnode *in, const char *key,
                                in_rows *r, cairn_error *err) {
  char path[4096];
  if (cairn_objstore_local_path(in->opts.objstore, key, path, sizeof path))
    return cairn_binlog_open_file(path, &r->binlog, err);
  size_t len = 0;
  cairn_status st = cairn_objstore_get(in->opts.objstore, key, 0, UINT64_MAX,
                                       &r->fetched, &len, err);
  return st == CAIRN_OK ? cairn_binlog_open_buffer(r->fetched, len, &r->binlog, err)
                        : st;
}

static cairn_status sparse_rows(in_rows *r, cairn_error *err) {
  size_t n = r->view.n_rows;
  const uint64_t *off = r->view.col.offsets;
  const cairn_sparse_pair *pairs = r->view.col.values;
  size_t m = off[n];
  r->sparse = malloc((n + 1) * sizeof *r->sparse);
  r->sparse_idx = malloc((m + 1) * sizeof *r->sparse_idx);
  r->sparse_val = malloc((m + 1) * sizeof *r->sparse_val);
  if (!r->sparse || !r->sparse_idx || !r->sparse_val)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  for (size_t i = 0; i < m; i++) {
    r->sparse_idx[i] = pairs[i].index;
    r->sparse_val[i] = pairs[i].value;
  }
  for (size_t i = 0; i < n; i++)
    r->sparse[i] = (cairn_sparse_row){.nnz = (uint32_t)(off[i + 1] - off[i]),
                                      .idx = r->sparse_idx + off[i],
                                      .val = r->sparse_val + off[i]};
  r->vectors = r->sparse;
  return CAIRN_OK;
}

/* Phase 1. */
static cairn_status read_rows(cairn_indexnode *in, const in_job *job,
                              in_rows *r, cairn_error *err) {
  cairn_status st = open_binlog(in, job->binlog_key, r, err);
  if (st == CAIRN_OK)
    st = cairn_binlog_view(r->binlog, &r->view, err);
  if (st != CAIRN_OK)
    return st;
  if (r->view.type.type != job->field_type || r->view.n_rows != job->num_rows)
    return cairn_error_set(err, CAIRN_CORRUPT,
                           "binlog %s holds %zu rows of type %d, the segment "
                           "record says %" PRIu64 " rows of type %d",
                           job->binlog_key, r->view.n_rows, r->view.type.type,
                           job->num_rows, job->field_type);
  if (job->field_type == CAIRN_TYPE_SPARSE_FLOAT_VECTOR)
    return sparse_rows(r, err);
  r->vectors = r->view.col.values;
  return CAIRN_OK;
}

static size_t row_bytes(const in_job *job) {
  return job->field_type == CAIRN_TYPE_SPARSE_FLOAT_VECTOR
             ? sizeof(cairn_sparse_row)
             : cairn_vector_row_bytes(job->field_type, job->dim);
}

/* Phase 2's training, for the IVF family only. */
static cairn_status train(cairn_index *ix, const in_job *job, const in_rows *r,
                          cairn_error *err) {
  cairn_index_type t = cairn_index_get_type(ix);
  if (t != CAIRN_INDEX_IVF_FLAT && t != CAIRN_INDEX_IVF_SQ8 &&
      t != CAIRN_INDEX_IVF_PQ && t != CAIRN_INDEX_BIN_IVF_FLAT)
    return CAIRN_OK;
  size_t n = r->view.n_rows, rb = row_bytes(job);
  if (n <= IN_TRAIN_MAX)
    return cairn_index_train(ix, n, r->vectors, err);
  uint8_t *sample = malloc(IN_TRAIN_MAX * rb);
  if (sample == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  for (size_t i = 0; i < IN_TRAIN_MAX; i++)
    memcpy(sample + i * rb,
           (const uint8_t *)r->vectors + (i * n / IN_TRAIN_MAX) * rb, rb);
  cairn_status st = cairn_index_train(ix, IN_TRAIN_MAX, sample, err);
  free(sample);
  return st;
}

/* Phases 4 and 5. */
static cairn_status store(cairn_indexnode *in, const in_job *job,
                          const cairn_index *ix, cairn_error *err) {
  char key[CAIRN_OBJ_MAX_KEY];
  snprintf(key, sizeof key, "%s%sindex_files/%" PRId64 "/1/%" PRId64 "/index",
           in->root_buf, in->root_buf[0] ? "/" : "", job->index_id,
           job->segment_id);
  uint8_t *buf = NULL;
  size_t len = 0;
  cairn_status st = cairn_index_serialize(ix, &buf, &len, err);
  if (st == CAIRN_OK)
    st = cairn_objstore_put(in->opts.objstore, key, buf, len, err);
  free(buf);
  Cairn__Data__SegmentIndexFile file = CAIRN__DATA__SEGMENT_INDEX_FILE__INIT;
  file.index_id = job->index_id;
  file.field_id = job->field_id;
  file.key = key;
  file.size = len;
  if (st == CAIRN_OK)
    st = cairn_coord_alloc_timestamp(in->opts.coord, &file.built_ts, err);
  if (st == CAIRN_OK)
    st = in_coord_save_index(in, job->collection_id, job->segment_id, &file, err);
  if (st == CAIRN_IO_NOT_FOUND)
    cairn_objstore_remove(in->opts.objstore, key, NULL);
  return st;
}

cairn_status in_build(cairn_indexnode *in, const in_job *job, cairn_error *err) {
  in_rows rows = {0};
  cairn_index *ix = NULL;
  cairn_status st = read_rows(in, job, &rows, err);
  if (st == CAIRN_OK)
    st = cairn_index_new(job->index_type, job->metric, job->field_type,
                         job->dim, job->params_json, &ix, err);
  if (st == CAIRN_OK)
    st = train(ix, job, &rows, err);
  if (st == CAIRN_OK)
    st = cairn_index_add(ix, rows.view.n_rows, rows.vectors, NULL, err);
  if (st == CAIRN_OK)
    st = store(in, job, ix, err);
  cairn_index_free(ix);
  rows_free(&rows);
  return st;
}
