/*
 * dn_buffer.c — the datanode's growing buffers: log entries decoded into
 * per-(channel, partition) columns and a per-channel delete buffer.
 *
 * A log message is one protobuf-packed cairn.data.LogEntry (cairn_data.proto):
 *   InsertEntry: num_rows rows of one partition at one timestamp; its
 *     fields_data are decoded with cairn_fielddata_decode in upsert mode
 *     with duplicate pks allowed (the proxy validated them and filled auto_id
 *     keys), giving one column per schema field; the rows are appended to
 *     the partition's columns and the entry's timestamp to its timestamp
 *     column (one value per row).
 *   DeleteEntry: primary keys deleted at one timestamp; appended to the
 *     channel's delete buffer (pk column of the pk type + timestamps).
 * Anything else — bytes that do not unpack, an entry of another collection,
 * columns that do not fit the schema, pks of the wrong type — is logged and
 * skipped: the position still counts as consumed, so a bad message never
 * stops the channel. XXX a skipped message is lost for the datanode (the
 * querynode applies the same rule, so both sides agree).
 *
 * Accounting for the seal rule: rows (inserted rows), bytes (packed entry
 * sizes, a close stand-in for the columns' payload) and the monotonic time
 * of the first entry since the last cut.
 *
 * XXX a DeleteEntry's partition_id is not kept: the delta log holds (pk,
 * ts) only, so a delete aimed at one partition also hides an equal pk with
 * an older timestamp in another partition. Primary keys are meant to be
 * unique per collection, so this only matters for misuse.
 *
 * Threading: only the collection's consumer thread calls these.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dn_internal.h"
#include "fielddata.h"
#include "log.h"

typedef Cairn__Data__InsertEntry insert_entry;
typedef Cairn__Data__DeleteEntry delete_entry;

/* ---- partition buffers ------------------------------------------------ */

static dn_part *part_get(dn_coll *coll, dn_channel *ch, int64_t partition_id,
                         cairn_error *err) {
  for (size_t i = 0; i < ch->n_parts; i++)
    if (ch->parts[i].partition_id == partition_id)
      return &ch->parts[i];
  if (ch->n_parts == ch->cap_parts) {
    size_t cap = ch->cap_parts ? ch->cap_parts * 2 : 4;
    dn_part *p = realloc(ch->parts, cap * sizeof *p);
    if (p == NULL) {
      cairn_error_set(err, CAIRN_NOMEM, NULL);
      return NULL;
    }
    ch->parts = p;
    ch->cap_parts = cap;
  }
  dn_part *p = &ch->parts[ch->n_parts];
  memset(p, 0, sizeof *p);
  p->partition_id = partition_id;
  p->cols = calloc(coll->schema->n_fields, sizeof *p->cols);
  cairn_column_type tt = {.field_id = DN_TIMESTAMP_FIELD_ID,
                          .type = CAIRN_TYPE_INT64};
  if (p->cols == NULL || cairn_column_new(&tt, &p->ts, err) != CAIRN_OK) {
    free(p->cols);
    cairn_error_set(err, CAIRN_NOMEM, NULL);
    return NULL;
  }
  ch->n_parts++;
  return p;
}

static void part_free(const dn_coll *coll, dn_part *p) {
  for (size_t f = 0; p->cols != NULL && f < coll->schema->n_fields; f++)
    cairn_column_free(p->cols[f]);
  free(p->cols);
  cairn_column_free(p->ts);
  memset(p, 0, sizeof *p);
}

/* Appends every row of src to dst: a plain copy for fixed-width and dense
 * vector columns without nulls, a row gather otherwise. */
static cairn_status append_column(cairn_column *dst, cairn_column *src,
                                  cairn_error *err) {
  cairn_colview v;
  cairn_column_snapshot(src, &v);
  if (v.n_rows == 0)
    return CAIRN_OK;
  bool fixed = cairn_type_width(v.type.type) != 0 ||
               cairn_vector_row_bytes(v.type.type, v.type.dim) != 0;
  cairn_status st;
  if (fixed && v.col.validity == NULL) {
    st = cairn_column_append_fixed(dst, v.col.values, NULL, v.n_rows, err);
  } else {
    int64_t *rows = malloc(v.n_rows * sizeof *rows);
    if (rows == NULL)
      return cairn_error_set(err, CAIRN_NOMEM, NULL);
    for (size_t i = 0; i < v.n_rows; i++)
      rows[i] = (int64_t)i;
    st = cairn_column_append_rows(dst, &v, rows, v.n_rows, err);
    free(rows);
  }
  /* The consumer thread is the only reader of its buffers, so buffers
   * retired by growth can go at once (column.h: reclaim). */
  cairn_column_reclaim(dst);
  return st;
}

/* Moves the batch's rows into the partition: the batch's columns are
 * adopted as they are when the partition is empty, else appended. */
static cairn_status part_append(dn_coll *coll, dn_part *p,
                                cairn_insert_batch *b, cairn_error *err) {
  cairn_status st = CAIRN_OK;
  for (size_t f = 0; st == CAIRN_OK && f < coll->schema->n_fields; f++) {
    if (p->cols[f] == NULL) {
      p->cols[f] = b->columns[f];
      b->columns[f] = NULL;
    } else {
      st = append_column(p->cols[f], b->columns[f], err);
    }
  }
  return st;
}

static cairn_status append_timestamps(dn_part *p, uint64_t ts, size_t n,
                                      cairn_error *err) {
  int64_t *v = malloc(n * sizeof *v);
  if (v == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  for (size_t i = 0; i < n; i++)
    v[i] = (int64_t)ts;
  cairn_status st = cairn_column_append_fixed(p->ts, v, NULL, n, err);
  cairn_column_reclaim(p->ts);
  free(v);
  return st;
}

/* ---- entries ---------------------------------------------------------- */

static void note_entry(dn_coll *coll, dn_channel *ch, uint64_t ts,
                       uint64_t rows, size_t len) {
  if (ts > ch->range_max_ts)
    ch->range_max_ts = ts;
  if (ch->oldest_ms == 0)
    ch->oldest_ms = dn_now_ms();
  ch->rows += rows;
  ch->bytes += len;
  atomic_fetch_add(&coll->growing_rows, rows);
}

/* Decodes an insert entry into a batch; returns a status for the log. */
static cairn_status decode_insert(dn_coll *coll, const insert_entry *e,
                                  cairn_insert_batch **batch, cairn_error *err) {
  cairn_fielddata_opts opts = {.upsert = true, .allow_duplicate_pks = true};
  cairn_status st = cairn_fielddata_decode(
      coll->schema, (cairn_pb_field_data *const *)e->fields_data,
      e->n_fields_data, (size_t)e->num_rows, &opts, batch, err);
  for (size_t f = 0; st == CAIRN_OK && f < coll->schema->n_fields; f++)
    if ((*batch)->columns[f] == NULL)
      st = cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "field %s has no column",
                           coll->schema->fields[f].name);
  if (st != CAIRN_OK) {
    cairn_insert_batch_free(*batch);
    *batch = NULL;
  }
  return st;
}

static cairn_status buffer_insert(dn_coll *coll, dn_channel *ch,
                                  const insert_entry *e, size_t len,
                                  cairn_error *err) {
  if (e->num_rows == 0)
    return CAIRN_OK;
  cairn_insert_batch *batch = NULL;
  cairn_status st = decode_insert(coll, e, &batch, err);
  if (st != CAIRN_OK)
    return st;
  dn_part *p = part_get(coll, ch, e->partition_id, err);
  st = p == NULL ? CAIRN_NOMEM : part_append(coll, p, batch, err);
  if (st == CAIRN_OK)
    st = append_timestamps(p, e->timestamp, (size_t)e->num_rows, err);
  cairn_insert_batch_free(batch);
  if (st != CAIRN_OK) {
    char why[sizeof err->message];
    snprintf(why, sizeof why, "%s", err->message);
    return cairn_error_set(err, st == CAIRN_NOMEM ? st : CAIRN_INTERNAL,
                           "append: %s", why);
  }
  if (p->n_rows == 0 || e->timestamp < p->min_ts)
    p->min_ts = e->timestamp;
  if (e->timestamp > p->max_ts)
    p->max_ts = e->timestamp;
  p->n_rows += (size_t)e->num_rows;
  note_entry(coll, ch, e->timestamp, e->num_rows, len);
  return CAIRN_OK;
}

static cairn_status append_delete_pks(dn_coll *coll, dn_channel *ch,
                                      const delete_entry *e, size_t *n,
                                      cairn_error *err) {
  const cairn_field *pk = &coll->schema->fields[coll->pk_index];
  const Milvus__Proto__Schema__IDs *ids = e->primary_keys;
  if (ch->del_pks == NULL) {
    cairn_column_type t = cairn_column_type_of(pk);
    t.nullable = false;
    if (cairn_column_new(&t, &ch->del_pks, err) != CAIRN_OK)
      return err->status;
  }
  if (pk->type == CAIRN_TYPE_INT64 && ids != NULL &&
      ids->id_field_case == MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_INT_ID) {
    *n = ids->int_id->n_data;
    return cairn_column_append_fixed(ch->del_pks, ids->int_id->data, NULL, *n,
                                     err);
  }
  if (pk->type == CAIRN_TYPE_VARCHAR && ids != NULL &&
      ids->id_field_case == MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_STR_ID) {
    *n = ids->str_id->n_data;
    size_t *lens = malloc((*n + 1) * sizeof *lens);
    if (lens == NULL)
      return cairn_error_set(err, CAIRN_NOMEM, NULL);
    for (size_t i = 0; i < *n; i++)
      lens[i] = strlen(ids->str_id->data[i]);
    cairn_status st = cairn_column_append_strings(
        ch->del_pks, (const char *const *)ids->str_id->data, lens, NULL, *n,
        err);
    free(lens);
    return st;
  }
  return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                         "delete keys do not match the %s primary key %s",
                         cairn_type_name(pk->type), pk->name);
}

static cairn_status buffer_delete(dn_coll *coll, dn_channel *ch,
                                  const delete_entry *e, size_t len,
                                  cairn_error *err) {
  size_t n = 0;
  cairn_status st = append_delete_pks(coll, ch, e, &n, err);
  if (st != CAIRN_OK || n == 0)
    return st;
  if (ch->n_del + n > ch->cap_del) {
    size_t cap = ch->cap_del ? ch->cap_del : 256;
    while (cap < ch->n_del + n)
      cap *= 2;
    uint64_t *ts = realloc(ch->del_ts, cap * sizeof *ts);
    if (ts == NULL)
      return cairn_error_set(err, CAIRN_NOMEM, NULL);
    ch->del_ts = ts;
    ch->cap_del = cap;
  }
  for (size_t i = 0; i < n; i++)
    ch->del_ts[ch->n_del++] = e->timestamp;
  note_entry(coll, ch, e->timestamp, 0, len);
  return CAIRN_OK;
}

/* Whether a failed entry left the buffers inconsistent (a column append
 * failed after others succeeded): only out-of-memory and append failures. */
static bool fatal(cairn_status st) {
  return st == CAIRN_NOMEM || st == CAIRN_INTERNAL;
}

cairn_status dn_buffer_message(dn_coll *coll, dn_channel *ch,
                               const uint8_t *payload, size_t len,
                               cairn_error *err) {
  cairn_error e_err = {0};
  cairn_status st = CAIRN_OK;
  Cairn__Data__LogEntry *e = cairn__data__log_entry__unpack(NULL, len, payload);
  if (e == NULL)
    st = cairn_error_set(&e_err, CAIRN_CORRUPT, "not a LogEntry (%zu bytes)",
                         len);
  else if (e->body_case == CAIRN__DATA__LOG_ENTRY__BODY_INSERT)
    st = e->insert->collection_id != coll->id
             ? cairn_error_set(&e_err, CAIRN_INVALID_ARGUMENT,
                               "insert for collection %lld",
                               (long long)e->insert->collection_id)
             : buffer_insert(coll, ch, e->insert, len, &e_err);
  else if (e->body_case == CAIRN__DATA__LOG_ENTRY__BODY_DELETE)
    st = e->delete_->collection_id != coll->id
             ? cairn_error_set(&e_err, CAIRN_INVALID_ARGUMENT,
                               "delete for collection %lld",
                               (long long)e->delete_->collection_id)
             : buffer_delete(coll, ch, e->delete_, len, &e_err);
  else
    st = cairn_error_set(&e_err, CAIRN_CORRUPT, "empty LogEntry");
  if (e != NULL)
    cairn__data__log_entry__free_unpacked(e, NULL);
  if (st == CAIRN_OK)
    return CAIRN_OK;
  if (fatal(st))
    return cairn_error_set(err, st, "channel %s position %lld: %s", ch->name,
                           (long long)ch->next, e_err.message);
  cairn_log_warn("datanode: collection %lld channel %s position %lld: "
                 "skipped message: %s",
                 (long long)coll->id, ch->name, (long long)ch->next,
                 e_err.message);
  return CAIRN_OK;
}

void dn_buffer_forget_part(dn_coll *coll, dn_channel *ch, size_t i) {
  uint64_t rows = ch->parts[i].n_rows;
  part_free(coll, &ch->parts[i]);
  memmove(&ch->parts[i], &ch->parts[i + 1],
          (ch->n_parts - i - 1) * sizeof *ch->parts);
  ch->n_parts--;
  ch->rows -= rows;
  atomic_fetch_sub(&coll->growing_rows, rows);
}

void dn_buffer_reset(dn_coll *coll, dn_channel *ch) {
  for (size_t i = 0; i < ch->n_parts; i++)
    part_free(coll, &ch->parts[i]);
  ch->n_parts = 0;
  cairn_column_free(ch->del_pks);
  ch->del_pks = NULL;
  ch->n_del = 0;
  atomic_fetch_sub(&coll->growing_rows, ch->rows);
  ch->rows = ch->bytes = 0;
  ch->oldest_ms = 0;
  ch->range_max_ts = 0;
}

void dn_buffer_free(dn_coll *coll, dn_channel *ch) {
  dn_buffer_reset(coll, ch);
  free(ch->parts);
  ch->parts = NULL;
  ch->cap_parts = 0;
  free(ch->del_ts);
  ch->del_ts = NULL;
  ch->cap_del = 0;
}
