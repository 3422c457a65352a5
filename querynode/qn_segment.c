/*
 * qn_segment.c — the querynode's segments and segment sets.
 *
 * Sealed segments are read only through what their catalogue record
 * (SegmentInfo) names: one insert binlog per schema field (plus field 1,
 * the row timestamps), the index files, the delta log (read by the loader
 * into the collection's delete map, querynode.c). A binlog is mapped
 * straight from the object store's local file when the backend has one
 * (cairn_objstore_local_path + cairn_binlog_open_file: no copy, the page
 * cache holds it) and read into memory otherwise. An index file of a vector
 * field is loaded when present (the newest one per field, by built_ts);
 * without one the field is scanned exactly (qn_scan.c). The mapped vector
 * binlog of a field with an index is then dropped from the process's
 * resident set (release_indexed_vectors): the index holds the vectors.
 *
 * Growing segments hold the log entries at or after the channel checkpoint
 * in cairn_columns (one per schema field, plus row timestamps and row
 * partitions). Publication rule: every column is appended first, then
 * n_rows is stored with release order; readers load n_rows (acquire) and
 * read rows below it only, so all columns agree on the rows a reader sees.
 * Trimming (refresh) copies the kept tail into a new growing segment; the
 * old one is never modified again and dies with its last reader. Buffers a
 * column retires when it grows are freed once no reader can hold them
 * (readers count, qn_internal.h), so a growing segment holds its rows once,
 * not up to twice.
 *
 * Deleted rows of a sealed segment are cached as a bitmap tagged with the
 * delete map's version and rebuilt when the map changed (O(rows) lookups;
 * XXX an incremental update from the new deletes alone, through a pk ->
 * row index, would make frequent deletes on big segments cheaper). Growing
 * segments look deletes up per search, for the rows the filter kept.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "qn_internal.h"

#define QN_PATH_MAX 4096

/* ---- sealed ------------------------------------------------------------- */

/* Opens one binlog object: mapped from its local file, else read whole. */
static cairn_status open_binlog(cairn_objstore *os, const char *key,
                                cairn_binlog **log, void **buf,
                                cairn_error *err) {
  char path[QN_PATH_MAX];
  *log = NULL;
  *buf = NULL;
  const char *p = cairn_objstore_local_path(os, key, path, sizeof path);
  if (p != NULL && cairn_binlog_open_file(p, log, NULL) == CAIRN_OK)
    return CAIRN_OK;
  size_t got = 0;
  cairn_error e = {0};
  cairn_status st = cairn_objstore_get(os, key, 0, UINT64_MAX, buf, &got, &e);
  if (st == CAIRN_OK && (st = cairn_binlog_open_buffer(*buf, got, log, &e)) != CAIRN_OK) {
    free(*buf);
    *buf = NULL;
  }
  if (st != CAIRN_OK)
    cairn_error_set(err, st, "binlog %s: %s", key, e.message);
  return st;
}

static cairn_status open_index(cairn_objstore *os, const char *key,
                               cairn_index **out, cairn_error *err) {
  char path[QN_PATH_MAX];
  const char *p = cairn_objstore_local_path(os, key, path, sizeof path);
  if (p != NULL && cairn_index_load(p, out, NULL) == CAIRN_OK)
    return CAIRN_OK;
  void *buf = NULL;
  size_t got = 0;
  cairn_status st = cairn_objstore_get(os, key, 0, UINT64_MAX, &buf, &got, err);
  if (st == CAIRN_OK)
    st = cairn_index_deserialize(buf, got, out, err);
  free(buf);
  return st;
}

static const Cairn__Data__FieldBinlog *
find_binlog(const Cairn__Data__SegmentInfo *info, int64_t field_id) {
  for (size_t i = 0; i < info->n_binlogs; i++)
    if (info->binlogs[i]->field_id == field_id)
      return info->binlogs[i];
  return NULL;
}

/* Opens the binlog of a field into slot s->logs[s->n_logs] and checks it
 * holds n_rows rows of `type`. */
static cairn_status load_column(cairn_objstore *os, qn_sealed *s,
                                const char *key, cairn_data_type type,
                                cairn_colview *out, cairn_error *err) {
  size_t i = s->n_logs;
  cairn_status st = open_binlog(os, key, &s->logs[i], &s->bufs[i], err);
  if (st != CAIRN_OK)
    return st;
  s->n_logs++;
  if ((st = cairn_binlog_view(s->logs[i], out, err)) != CAIRN_OK)
    return st;
  if (out->n_rows != s->n_rows || out->type.type != type)
    return cairn_error_set(err, CAIRN_CORRUPT,
                           "segment %" PRId64 ": binlog %s holds %zu rows of %s, "
                           "the record says %zu rows of %s", s->id, key,
                           out->n_rows, cairn_type_name(out->type.type),
                           s->n_rows, cairn_type_name(type));
  return CAIRN_OK;
}

static cairn_status load_columns(qn_coll *c, qn_sealed *s,
                                 const Cairn__Data__SegmentInfo *info,
                                 cairn_error *err) {
  cairn_objstore *os = c->qn->opts.objstore;
  const cairn_schema *sc = c->schema;
  for (size_t f = 0; f < sc->n_fields; f++) {
    s->cols[f].type = cairn_column_type_of(&sc->fields[f]);
    s->cols[f].col.field_id = sc->fields[f].id;
    if (s->n_rows == 0)
      continue;
    const Cairn__Data__FieldBinlog *b = find_binlog(info, sc->fields[f].id);
    if (b == NULL)
      return cairn_error_set(err, CAIRN_CORRUPT,
                             "segment %" PRId64 " has no binlog for field %s",
                             s->id, sc->fields[f].name);
    cairn_status st = load_column(os, s, b->key, sc->fields[f].type, &s->cols[f], err);
    if (st != CAIRN_OK)
      return st;
    s->mapped[f] = s->bufs[s->n_logs - 1] == NULL;
  }
  const Cairn__Data__FieldBinlog *tb = find_binlog(info, QN_TS_FIELD_ID);
  if (tb == NULL || s->n_rows == 0)
    return CAIRN_OK; /* every row at fallback_ts */
  cairn_colview tv;
  cairn_status st = load_column(os, s, tb->key, CAIRN_TYPE_INT64, &tv, err);
  if (st == CAIRN_OK)
    s->ts = tv.col.values;
  return st;
}

/* The newest index file of each vector field. */
static cairn_status load_indexes(qn_coll *c, qn_sealed *s,
                                 const Cairn__Data__SegmentInfo *info,
                                 cairn_error *err) {
  const cairn_schema *sc = c->schema;
  for (size_t f = 0; f < sc->n_fields; f++) {
    if (!cairn_type_is_vector(sc->fields[f].type))
      continue;
    const Cairn__Data__SegmentIndexFile *best = NULL;
    for (size_t i = 0; i < info->n_index_files; i++) {
      const Cairn__Data__SegmentIndexFile *x = info->index_files[i];
      if (x->field_id == sc->fields[f].id && (best == NULL || x->built_ts > best->built_ts))
        best = x;
    }
    if (best == NULL || s->n_rows == 0)
      continue;
    cairn_index *ix = NULL;
    cairn_status st = open_index(c->qn->opts.objstore, best->key, &ix, err);
    if (st != CAIRN_OK)
      return st;
    if (cairn_index_count(ix) != s->n_rows) {
      cairn_log_warn("segment %" PRId64 ": index %s has %zu rows, segment %zu; "
                     "scanning exactly", s->id, best->key, cairn_index_count(ix),
                     s->n_rows);
      cairn_index_free(ix);
      continue;
    }
    s->vix[s->n_vix++] = (qn_vindex){.field_id = sc->fields[f].id, .index = ix};
  }
  return CAIRN_OK;
}

char *qn_index_sig(const Cairn__Data__SegmentInfo *info) {
  size_t len = 1;
  for (size_t i = 0; i < info->n_index_files; i++)
    len += strlen(info->index_files[i]->key) + 32;
  char *sig = malloc(len);
  if (sig == NULL)
    return NULL;
  size_t at = 0;
  sig[0] = '\0';
  for (size_t i = 0; i < info->n_index_files; i++)
    at += (size_t)snprintf(sig + at, len - at, "%s@%" PRIu64 ";",
                           info->index_files[i]->key, info->index_files[i]->built_ts);
  return sig;
}

static int chan_index(const qn_coll *c, const char *name) {
  for (size_t i = 0; i < c->n_chans; i++)
    if (strcmp(c->chans[i].name, name) == 0)
      return (int)i;
  return -1;
}

static qn_sealed *sealed_alloc(const qn_coll *c, const Cairn__Data__SegmentInfo *info) {
  qn_sealed *s = calloc(1, sizeof *s);
  if (s == NULL)
    return NULL;
  atomic_init(&s->refs, 1);
  pthread_mutex_init(&s->del_mu, NULL);
  s->id = info->id;
  s->partition_id = info->partition_id;
  s->chan = chan_index(c, info->channel);
  s->start_pos = info->start_position;
  s->n_rows = (size_t)info->num_rows;
  s->n_fields = c->schema->n_fields;
  s->fallback_ts = info->max_timestamp;
  s->cols = calloc(s->n_fields + 1, sizeof *s->cols);
  s->logs = calloc(s->n_fields + 2, sizeof *s->logs);
  s->bufs = calloc(s->n_fields + 2, sizeof *s->bufs);
  s->vix = calloc(s->n_fields + 1, sizeof *s->vix);
  s->mapped = calloc(s->n_fields + 1, sizeof *s->mapped);
  s->index_sig = qn_index_sig(info);
  if (s->cols == NULL || s->logs == NULL || s->bufs == NULL || s->vix == NULL ||
      s->mapped == NULL || s->index_sig == NULL) {
    qn_sealed_unref(s);
    return NULL;
  }
  return s;
}

/* The vector binlog of a field that a loaded index serves is read only for
 * output fields and exact scans (another metric, range search without the
 * index), yet opening it touched every page (the CRC check), and the index
 * holds the same vectors: 2x the vectors resident. When the column is a
 * read-only file mapping, its pages are dropped from this process here
 * (MADV_DONTNEED); a later read faults the rows it touches back in from the
 * file, so nothing changes for readers. A column read into a malloc'd
 * buffer (an object store without local files) stays as it is: there
 * DONTNEED would zero it. XXX that case keeps 2x the vectors. */
static void release_indexed_vectors(const qn_coll *c, qn_sealed *s) {
  long page = sysconf(_SC_PAGESIZE);
  for (size_t i = 0; page > 0 && i < s->n_vix; i++) {
    const cairn_field *fd = cairn_schema_field_by_id(c->schema, s->vix[i].field_id);
    size_t f = fd != NULL ? (size_t)(fd - c->schema->fields) : s->n_fields;
    if (f >= s->n_fields || !s->mapped[f])
      continue;
    const cairn_colview *v = &s->cols[f];
    size_t row = cairn_vector_row_bytes(v->type.type, v->type.dim);
    uintptr_t start = (uintptr_t)v->col.values, end = start + row * v->n_rows;
    start = (start + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    end &= ~((uintptr_t)page - 1);
    if (row > 0 && end > start && madvise((void *)start, end - start, MADV_DONTNEED) != 0)
      cairn_log_warn("segment %" PRId64 ": madvise of the vector binlog failed: %s",
                     s->id, strerror(errno));
  }
}

cairn_status qn_sealed_load(qn_coll *c, const Cairn__Data__SegmentInfo *info,
                            qn_sealed **out, cairn_error *err) {
  *out = NULL;
  qn_sealed *s = sealed_alloc(c, info);
  if (s == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, "out of memory loading a segment");
  cairn_status st = load_columns(c, s, info, err);
  if (st == CAIRN_OK)
    st = load_indexes(c, s, info, err);
  if (st != CAIRN_OK) {
    qn_sealed_unref(s);
    return st;
  }
  release_indexed_vectors(c, s);
  *out = s;
  return CAIRN_OK;
}

void qn_sealed_ref(qn_sealed *s) { atomic_fetch_add(&s->refs, 1); }

void qn_sealed_unref(qn_sealed *s) {
  if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
    return;
  for (size_t i = 0; i < s->n_vix; i++)
    cairn_index_free(s->vix[i].index);
  for (size_t i = 0; i < s->n_logs; i++) {
    cairn_binlog_close(s->logs[i]);
    free(s->bufs[i]);
  }
  pthread_mutex_destroy(&s->del_mu);
  free(s->deleted);
  free(s->vix);
  free(s->mapped);
  free(s->logs);
  free(s->bufs);
  free(s->cols);
  free(s->index_sig);
  free(s);
}

/* ---- growing ------------------------------------------------------------ */

static cairn_column *int64_column(cairn_error *err) {
  cairn_column_type t = {.field_id = QN_TS_FIELD_ID, .type = CAIRN_TYPE_INT64};
  cairn_column *col = NULL;
  cairn_column_new(&t, &col, err);
  return col;
}

cairn_status qn_growing_new(const cairn_schema *schema, int chan,
                            qn_growing **out, cairn_error *err) {
  qn_growing *g = calloc(1, sizeof *g);
  *out = NULL;
  if (g == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  atomic_init(&g->refs, 1);
  atomic_init(&g->n_rows, 0);
  atomic_init(&g->readers, 0);
  atomic_init(&g->retired, false);
  pthread_mutex_init(&g->grow_mu, NULL);
  g->chan = chan;
  g->n_fields = schema->n_fields;
  g->cols = calloc(schema->n_fields + 1, sizeof *g->cols);
  cairn_status st = g->cols ? CAIRN_OK : cairn_error_set(err, CAIRN_NOMEM, NULL);
  for (size_t f = 0; st == CAIRN_OK && f < schema->n_fields; f++)
    st = cairn_column_new_field(&schema->fields[f], &g->cols[f], err);
  if (st == CAIRN_OK && ((g->ts = int64_column(err)) == NULL ||
                         (g->part = int64_column(err)) == NULL))
    st = err ? err->status : CAIRN_NOMEM;
  if (st != CAIRN_OK) {
    qn_growing_unref(g);
    return st;
  }
  *out = g;
  return CAIRN_OK;
}

void qn_growing_ref(qn_growing *g) { atomic_fetch_add(&g->refs, 1); }

void qn_growing_unref(qn_growing *g) {
  if (g == NULL || atomic_fetch_sub(&g->refs, 1) != 1)
    return;
  for (size_t f = 0; g->cols != NULL && f < g->n_fields; f++)
    cairn_column_free(g->cols[f]);
  cairn_column_free(g->ts);
  cairn_column_free(g->part);
  pthread_mutex_destroy(&g->grow_mu);
  free(g->cols);
  free(g->entry_first);
  free(g->entry_pos);
  free(g);
}

static cairn_status add_entry(qn_growing *g, size_t first, int64_t pos,
                              cairn_error *err) {
  if (g->n_entries == g->cap_entries) {
    size_t cap = g->cap_entries ? g->cap_entries * 2 : 64;
    size_t *f = realloc(g->entry_first, cap * sizeof *f);
    if (f != NULL)
      g->entry_first = f;
    int64_t *p = realloc(g->entry_pos, cap * sizeof *p);
    if (p != NULL)
      g->entry_pos = p;
    if (f == NULL || p == NULL)
      return cairn_error_set(err, CAIRN_NOMEM, NULL);
    g->cap_entries = cap;
  }
  g->entry_first[g->n_entries] = first;
  g->entry_pos[g->n_entries++] = pos;
  return CAIRN_OK;
}

static cairn_status append_const(cairn_column *col, int64_t v, size_t n,
                                 cairn_error *err) {
  int64_t *vals = malloc((n ? n : 1) * sizeof *vals);
  if (vals == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  for (size_t i = 0; i < n; i++)
    vals[i] = v;
  cairn_status st = cairn_column_append_fixed(col, vals, NULL, n, err);
  free(vals);
  return st;
}

/* ---- reclaiming retired column buffers (see qn_internal.h) ---- */

static size_t retired_bytes_nolock(const qn_growing *g) {
  size_t n = cairn_column_retired_bytes(g->ts) + cairn_column_retired_bytes(g->part);
  for (size_t f = 0; f < g->n_fields; f++)
    n += cairn_column_retired_bytes(g->cols[f]);
  return n;
}

/* Frees every retired buffer if no reader is counted (g->grow_mu held). */
static void reclaim_if_unread_nolock(qn_growing *g) {
  if (retired_bytes_nolock(g) == 0)
    return;
  atomic_store(&g->retired, true);
  atomic_thread_fence(memory_order_seq_cst);
  if (atomic_load(&g->readers) != 0)
    return; /* the last reader out reclaims */
  for (size_t f = 0; f < g->n_fields; f++)
    cairn_column_reclaim(g->cols[f]);
  cairn_column_reclaim(g->ts);
  cairn_column_reclaim(g->part);
  atomic_store(&g->retired, false);
}

/* A reader counts itself before it loads any column pointer. */
static void growing_enter(qn_growing *g) {
  atomic_fetch_add(&g->readers, 1);
  atomic_thread_fence(memory_order_seq_cst);
}

static void growing_leave(qn_growing *g) {
  if (atomic_fetch_sub(&g->readers, 1) != 1)
    return;
  atomic_thread_fence(memory_order_seq_cst);
  if (!atomic_load(&g->retired))
    return;
  pthread_mutex_lock(&g->grow_mu);
  reclaim_if_unread_nolock(g);
  pthread_mutex_unlock(&g->grow_mu);
}

/* Adds p to the growing's partition set. Under grow_mu. */
static void note_partition_nolock(qn_growing *g, int64_t p) {
  size_t n = atomic_load_explicit(&g->n_part_ids, memory_order_relaxed);
  for (size_t i = 0; i < n; i++)
    if (g->part_ids[i] == p)
      return;
  if (n == QN_GROWING_PART_IDS) {
    atomic_store(&g->parts_many, true);
    return;
  }
  g->part_ids[n] = p;
  atomic_store_explicit(&g->n_part_ids, n + 1, memory_order_release);
}

/* Whether every partition with rows in g is one of parts. */
static bool growing_parts_wanted(const qn_growing *g, const int64_t *parts,
                                 size_t n_parts) {
  if (atomic_load(&g->parts_many))
    return false;
  size_t n = atomic_load_explicit(&g->n_part_ids, memory_order_acquire);
  for (size_t i = 0; i < n; i++) {
    bool found = false;
    for (size_t k = 0; k < n_parts && !found; k++)
      found = parts[k] == g->part_ids[i];
    if (!found)
      return false;
  }
  return true;
}

cairn_status qn_growing_append(qn_growing *g, const cairn_insert_batch *b,
                               uint64_t ts, int64_t partition,
                               int64_t position, cairn_error *err) {
  size_t n = b->n_rows, first = atomic_load(&g->n_rows);
  if (b->n_columns != g->n_fields)
    return cairn_error_set(err, CAIRN_INTERNAL, "batch has %zu columns, schema %zu",
                           b->n_columns, g->n_fields);
  int64_t *rows = malloc((n ? n : 1) * sizeof *rows);
  if (rows == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  for (size_t i = 0; i < n; i++)
    rows[i] = (int64_t)i;
  cairn_status st = CAIRN_OK;
  pthread_mutex_lock(&g->grow_mu);
  for (size_t f = 0; st == CAIRN_OK && f < g->n_fields; f++) {
    if (b->columns[f] == NULL) {
      st = cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "insert entry lacks field %zu", f);
      break;
    }
    cairn_colview v;
    cairn_column_snapshot(b->columns[f], &v);
    st = cairn_column_append_rows(g->cols[f], &v, rows, n, err);
  }
  free(rows);
  if (st == CAIRN_OK)
    st = append_const(g->ts, (int64_t)ts, n, err);
  if (st == CAIRN_OK)
    st = append_const(g->part, partition, n, err);
  if (st == CAIRN_OK)
    note_partition_nolock(g, partition);
  if (st == CAIRN_OK)
    st = add_entry(g, first, position, err);
  if (st == CAIRN_OK)
    atomic_store_explicit(&g->n_rows, first + n, memory_order_release);
  reclaim_if_unread_nolock(g);
  pthread_mutex_unlock(&g->grow_mu);
  return st;
}

/* Copies rows [from, n) of src into dst. */
static cairn_status copy_tail(cairn_column *dst, const cairn_column *src,
                              size_t from, size_t n, cairn_error *err) {
  if (from >= n)
    return CAIRN_OK;
  int64_t *rows = malloc((n - from) * sizeof *rows);
  if (rows == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  for (size_t i = from; i < n; i++)
    rows[i - from] = (int64_t)i;
  cairn_colview v;
  cairn_column_snapshot(src, &v);
  cairn_status st = cairn_column_append_rows(dst, &v, rows, n - from, err);
  free(rows);
  return st;
}

cairn_status qn_growing_trim(const qn_growing *g, const cairn_schema *schema,
                             int64_t keep_from, qn_growing **out,
                             cairn_error *err) {
  size_t n = atomic_load(&g->n_rows), e = 0;
  while (e < g->n_entries && g->entry_pos[e] < keep_from)
    e++;
  size_t from = e < g->n_entries ? g->entry_first[e] : n;
  qn_growing *t = NULL;
  cairn_status st = qn_growing_new(schema, g->chan, &t, err);
  for (size_t f = 0; st == CAIRN_OK && f < g->n_fields; f++)
    st = copy_tail(t->cols[f], g->cols[f], from, n, err);
  if (st == CAIRN_OK)
    st = copy_tail(t->ts, g->ts, from, n, err);
  if (st == CAIRN_OK)
    st = copy_tail(t->part, g->part, from, n, err);
  for (size_t i = e; st == CAIRN_OK && i < g->n_entries; i++)
    st = add_entry(t, g->entry_first[i] - from, g->entry_pos[i], err);
  if (st != CAIRN_OK) {
    qn_growing_unref(t);
    return st;
  }
  /* The tail's partitions are among g's (a superset is fine). */
  size_t n_parts = atomic_load(&g->n_part_ids);
  memcpy(t->part_ids, g->part_ids, n_parts * sizeof *t->part_ids);
  atomic_store(&t->n_part_ids, n_parts);
  atomic_store(&t->parts_many, atomic_load(&g->parts_many));
  reclaim_if_unread_nolock(t); /* not published yet: no reader */
  atomic_store_explicit(&t->n_rows, n - from, memory_order_release);
  *out = t;
  return CAIRN_OK;
}

/* ---- views -------------------------------------------------------------- */

void qn_view_ref(qn_view *v) { atomic_fetch_add(&v->refs, 1); }

void qn_view_unref(qn_view *v) {
  if (v == NULL || atomic_fetch_sub(&v->refs, 1) != 1)
    return;
  for (size_t i = 0; i < v->n_sealed; i++)
    qn_sealed_unref(v->sealed[i]);
  for (size_t i = 0; i < v->n_growing; i++)
    qn_growing_unref(v->growing[i]);
  free(v->sealed);
  free(v->growing);
  free(v);
}

/* ---- reader snapshots --------------------------------------------------- */

static cairn_status segview_alloc(qn_segview *sv, size_t n_fields,
                                  cairn_error *err) {
  sv->n_fields = n_fields;
  sv->cols = calloc(n_fields + 1, sizeof *sv->cols);
  sv->ecols = calloc(n_fields + 1, sizeof *sv->ecols);
  if (sv->cols == NULL || sv->ecols == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  return CAIRN_OK;
}

static cairn_status segview_sealed(qn_sealed *s, qn_segview *sv, cairn_error *err) {
  cairn_status st = segview_alloc(sv, s->n_fields, err);
  if (st != CAIRN_OK)
    return st;
  sv->sealed = s;
  sv->seg_id = s->id;
  sv->partition_id = s->partition_id;
  sv->n_rows = s->n_rows;
  memcpy(sv->cols, s->cols, s->n_fields * sizeof *sv->cols);
  for (size_t f = 0; f < s->n_fields; f++)
    sv->ecols[f] = sv->cols[f].col;
  sv->ts = s->ts;
  sv->fallback_ts = s->fallback_ts;
  return CAIRN_OK;
}

static cairn_status segview_growing(qn_growing *g, qn_segview *sv, cairn_error *err) {
  cairn_status st = segview_alloc(sv, g->n_fields, err);
  if (st != CAIRN_OK)
    return st;
  growing_enter(g);
  sv->growing = g;
  sv->seg_id = -1 - g->chan;
  sv->n_rows = atomic_load_explicit(&g->n_rows, memory_order_acquire);
  for (size_t f = 0; f < g->n_fields; f++) {
    cairn_column_snapshot(g->cols[f], &sv->cols[f]);
    sv->cols[f].n_rows = sv->n_rows;
    sv->ecols[f] = sv->cols[f].col;
  }
  cairn_colview t;
  cairn_column_snapshot(g->ts, &t);
  sv->ts = t.col.values;
  cairn_column_snapshot(g->part, &t);
  sv->part = t.col.values;
  return CAIRN_OK;
}

cairn_status qn_segviews_make(const qn_view *v, bool with_growing,
                              qn_segview **out, size_t *n, cairn_error *err) {
  size_t cap = v->n_sealed + v->n_growing, k = 0;
  qn_segview *sv = calloc(cap + 1, sizeof *sv);
  *out = NULL;
  *n = 0;
  if (sv == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  cairn_status st = CAIRN_OK;
  for (size_t i = 0; st == CAIRN_OK && i < v->n_sealed; i++)
    st = segview_sealed(v->sealed[i], &sv[k++], err);
  for (size_t i = 0; st == CAIRN_OK && with_growing && i < v->n_growing; i++)
    st = segview_growing(v->growing[i], &sv[k++], err);
  if (st != CAIRN_OK) {
    qn_segviews_free(sv, k);
    return st;
  }
  *out = sv;
  *n = k;
  return CAIRN_OK;
}

void qn_segviews_free(qn_segview *sv, size_t n) {
  for (size_t i = 0; sv != NULL && i < n; i++) {
    if (sv[i].growing != NULL)
      growing_leave(sv[i].growing);
    free(sv[i].cols);
    free(sv[i].ecols);
  }
  free(sv);
}

/* ---- allowed rows ------------------------------------------------------- */

static bool part_wanted(int64_t p, const int64_t *parts, size_t n_parts) {
  if (n_parts == 0)
    return true;
  for (size_t i = 0; i < n_parts; i++)
    if (parts[i] == p)
      return true;
  return false;
}

static inline uint64_t row_ts(const qn_segview *sv, size_t r) {
  return sv->ts ? (uint64_t)sv->ts[r] : sv->fallback_ts;
}

/* Whether row r of sv is deleted (delete map read-locked). */
static bool row_deleted(const qn_coll *c, const qn_segview *sv, size_t r) {
  const cairn_colview *pk = &sv->cols[c->pk_index];
  uint64_t dts;
  if (pk->type.type == CAIRN_TYPE_INT64) {
    dts = qn_delmap_get_int(&c->dels, ((const int64_t *)pk->col.values)[r]);
  } else {
    size_t len;
    const char *s = cairn_colview_string(pk, r, &len);
    dts = qn_delmap_get_str(&c->dels, s, len);
  }
  return dts > row_ts(sv, r);
}

/* Rebuilds the sealed segment's deleted-rows cache if the map changed
 * (s->del_mu held). */
static cairn_status refresh_deleted_nolock(qn_coll *c, qn_sealed *s,
                                           const qn_segview *sv, cairn_error *err) {
  size_t words = (s->n_rows + 63) / 64;
  if (s->deleted == NULL && (s->deleted = calloc(words + 1, 8)) == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  qn_delmap_rdlock(&c->dels);
  uint64_t ver = atomic_load(&c->dels.version);
  if (!s->del_valid || s->del_version != ver) {
    memset(s->deleted, 0, words * 8);
    s->n_deleted = 0;
    for (size_t r = 0; r < s->n_rows; r++)
      if (row_deleted(c, sv, r)) {
        s->deleted[r >> 6] |= 1ull << (r & 63);
        s->n_deleted++;
      }
    s->del_version = ver;
    s->del_valid = true;
  }
  qn_delmap_unlock(&c->dels);
  return CAIRN_OK;
}

static cairn_status clear_deleted(qn_coll *c, const qn_segview *sv,
                                  uint64_t *bits, cairn_error *err) {
  if (atomic_load(&c->dels.version) == 0)
    return CAIRN_OK; /* nothing was ever deleted */
  size_t words = (sv->n_rows + 63) / 64;
  if (sv->sealed != NULL) {
    qn_sealed *s = sv->sealed;
    pthread_mutex_lock(&s->del_mu);
    cairn_status st = refresh_deleted_nolock(c, s, sv, err);
    for (size_t w = 0; st == CAIRN_OK && w < words; w++)
      bits[w] &= ~s->deleted[w];
    pthread_mutex_unlock(&s->del_mu);
    return st;
  }
  qn_delmap_rdlock(&c->dels);
  for (size_t w = 0; w < words; w++)
    for (uint64_t m = bits[w]; m != 0; m &= m - 1) {
      size_t r = w * 64 + (size_t)__builtin_ctzll(m);
      if (row_deleted(c, sv, r))
        bits[w] &= ~(1ull << (r & 63));
    }
  qn_delmap_unlock(&c->dels);
  return CAIRN_OK;
}

static void set_all(uint64_t *bits, size_t n, bool on) {
  size_t words = (n + 63) / 64;
  memset(bits, on ? 0xff : 0, words * 8);
  if (on && (n & 63) != 0)
    bits[words - 1] = (1ull << (n & 63)) - 1;
}

/* Whether no row of sv is deleted, known without a pass over its rows:
 * nothing was ever deleted, or the sealed segment's cache counts none. */
static bool none_deleted(qn_coll *c, const qn_segview *sv) {
  if (atomic_load(&c->dels.version) == 0)
    return true;
  if (sv->sealed == NULL)
    return false;
  qn_sealed *s = sv->sealed;
  pthread_mutex_lock(&s->del_mu);
  bool none = refresh_deleted_nolock(c, s, sv, NULL) == CAIRN_OK && s->n_deleted == 0;
  pthread_mutex_unlock(&s->del_mu);
  return none;
}

bool qn_segview_all_allowed(qn_coll *c, const qn_segview *sv,
                            const int64_t *parts, size_t n_parts,
                            const cairn_expr *filter) {
  bool k;
  if (sv->n_rows == 0 || (filter != NULL && !(cairn_expr_is_constant(filter, &k) && k)))
    return false;
  if (sv->sealed != NULL ? !part_wanted(sv->partition_id, parts, n_parts)
                         : n_parts > 0 && !growing_parts_wanted(sv->growing, parts, n_parts))
    return false;
  return none_deleted(c, sv);
}

cairn_status qn_segview_allowed(qn_coll *c, const qn_segview *sv,
                                const int64_t *parts, size_t n_parts,
                                const cairn_expr *filter, uint64_t *bits,
                                size_t *n_set, cairn_error *err) {
  size_t n = sv->n_rows, words = (n + 63) / 64;
  *n_set = 0;
  bool k;
  if (n == 0 || (sv->sealed && !part_wanted(sv->partition_id, parts, n_parts)) ||
      (filter != NULL && cairn_expr_is_constant(filter, &k) && !k)) {
    set_all(bits, n, false);
    return CAIRN_OK;
  }
  if (filter != NULL && !cairn_expr_is_constant(filter, &k)) {
    cairn_expr_batch b = {.schema = c->schema, .n_rows = n,
                          .n_columns = sv->n_fields, .columns = sv->ecols};
    cairn_status st = cairn_expr_eval(filter, &b, bits, err);
    if (st != CAIRN_OK)
      return st;
  } else {
    set_all(bits, n, true);
  }
  if (sv->part != NULL && n_parts > 0)
    for (size_t r = 0; r < n; r++)
      if (!part_wanted(sv->part[r], parts, n_parts))
        bits[r >> 6] &= ~(1ull << (r & 63));
  cairn_status st = clear_deleted(c, sv, bits, err);
  for (size_t w = 0; st == CAIRN_OK && w < words; w++)
    *n_set += (size_t)__builtin_popcountll(bits[w]);
  return st;
}

/* ---- delta logs --------------------------------------------------------- */

cairn_status qn_load_deltalog(qn_coll *c, const char *key, cairn_error *err) {
  cairn_binlog *log = NULL;
  void *buf = NULL;
  cairn_status st = open_binlog(c->qn->opts.objstore, key, &log, &buf, err);
  if (st != CAIRN_OK)
    return st;
  cairn_delta d;
  if ((st = cairn_binlog_delta(log, &d, err)) == CAIRN_OK) {
    if (d.pk_type != c->schema->fields[c->pk_index].type)
      st = cairn_error_set(err, CAIRN_CORRUPT, "delta log %s holds %s keys, the "
                           "primary key is %s", key, cairn_type_name(d.pk_type),
                           cairn_type_name(c->schema->fields[c->pk_index].type));
    else
      st = qn_delmap_add_delta(&c->dels, &d, err);
  }
  cairn_binlog_close(log);
  free(buf);
  return st;
}
