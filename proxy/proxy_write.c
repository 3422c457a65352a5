/*
 * proxy_write.c — Insert, Upsert, Delete, Flush, GetFlushState.
 *
 * A write is: resolve the collection, validate and decode the rows
 * (core/rpc/fielddata.h), fill auto_id keys from the coordinator's ID
 * allocator, take one timestamp from the TSO, route every row to its shard
 * channel by a hash of its primary key (and to its partition by the
 * partition key's hash when the collection has one), and produce one
 * LogEntry per (channel, partition) to the log (core/mq.h). The reply is
 * sent only after every produce returned, i.e. once the rows are durable
 * (DESIGN §1: "an insert is acknowledged only once it is durable in the
 * log").
 *
 * Routing hashes (stable, part of the data layout: never change them):
 * Int64 keys: the splitmix64 finaliser of the value; VarChar keys: 64-bit
 * FNV-1a of the bytes; shard = hash % shards, partition = hash % partitions.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_data.pb-c.h"
#include "cairn_internal.pb-c.h"
#include "fielddata.h"
#include "proxy_internal.h"

typedef Milvus__Proto__Milvus__MutationResult mutation_result;

static uint64_t hash_int(int64_t v) {
  uint64_t x = (uint64_t)v + 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static uint64_t hash_bytes(const char *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (uint8_t)p[i]) * 0x100000001b3ull;
  return h;
}

static uint64_t hash_row(const cairn_colview *v, size_t row) {
  if (v->type.type == CAIRN_TYPE_INT64)
    return hash_int(((const int64_t *)v->col.values)[row]);
  size_t len = 0;
  const char *s = cairn_colview_string(v, row, &len);
  return hash_bytes(s, len);
}

static int field_index(const cairn_schema *s, const cairn_field *f) {
  return (int)(f - s->fields);
}

/* ---- coordinator helpers ---- */

static cairn_status alloc_ts(cairn_rpc_ctx *ctx, uint64_t *ts, cairn_error *err) {
  Milvus__Proto__Milvus__AllocTimestampRequest req =
      MILVUS__PROTO__MILVUS__ALLOC_TIMESTAMP_REQUEST__INIT;
  ProtobufCMessage *out = NULL;
  cairn_status st = proxy_coord_call(
      ctx, "AllocTimestamp", &req.pb_base,
      &milvus__proto__milvus__alloc_timestamp_response__descriptor, &out, err);
  if (st == CAIRN_OK)
    *ts = ((Milvus__Proto__Milvus__AllocTimestampResponse *)out)->timestamp;
  return st;
}

static cairn_status alloc_ids(cairn_rpc_ctx *ctx, size_t n, int64_t *first,
                              cairn_error *err) {
  Cairn__Internal__AllocIDRequest req = CAIRN__INTERNAL__ALLOC_IDREQUEST__INIT;
  req.count = (uint32_t)n;
  ProtobufCMessage *out = NULL;
  cairn_status st =
      proxy_coord_call(ctx, "AllocID", &req.base,
                       &cairn__internal__alloc_idresponse__descriptor, &out, err);
  if (st == CAIRN_OK)
    *first = ((Cairn__Internal__AllocIDResponse *)out)->id;
  return st;
}

/* Fill the auto_id primary key column with fresh IDs. */
static cairn_status fill_auto_ids(cairn_rpc_ctx *ctx, const proxy_coll *c,
                                  cairn_insert_batch *b, cairn_error *err) {
  const cairn_field *pk = cairn_schema_primary(c->schema);
  int k = field_index(c->schema, pk);
  if (b->columns[k] != NULL || b->n_rows == 0)
    return CAIRN_OK;
  int64_t first = 0;
  cairn_status st = alloc_ids(ctx, b->n_rows, &first, err);
  if (st == CAIRN_OK)
    st = cairn_column_new_field(pk, &b->columns[k], err);
  if (st != CAIRN_OK)
    return st;
  int64_t *ids = CAIRN_ARENA_NEW(ctx->arena, int64_t, b->n_rows);
  for (size_t i = 0; i < b->n_rows; i++)
    ids[i] = first + (int64_t)i;
  if (pk->type == CAIRN_TYPE_INT64)
    return cairn_column_append_fixed(b->columns[k], ids, NULL, b->n_rows, err);
  const char **ptrs = CAIRN_ARENA_NEW(ctx->arena, const char *, b->n_rows);
  size_t *lens = CAIRN_ARENA_NEW(ctx->arena, size_t, b->n_rows);
  for (size_t i = 0; i < b->n_rows; i++) {
    ptrs[i] = cairn_arena_printf(ctx->arena, "%" PRId64, ids[i]);
    lens[i] = strlen(ptrs[i]);
  }
  return cairn_column_append_strings(b->columns[k], ptrs, lens, NULL, b->n_rows,
                                     err);
}

/* ---- routing ---- */

typedef struct route {
  int shard;
  int64_t partition_id;
  int64_t *rows; /* in the arena */
  size_t n;
} route;

/* The partition of every row: the named one, or by partition key. */
static cairn_status partition_of_rows(cairn_rpc_ctx *ctx, const proxy_coll *c,
                                      const char *partition_name,
                                      const cairn_insert_batch *b,
                                      int64_t *part, cairn_error *err) {
  const cairn_field *key = NULL;
  for (size_t i = 0; i < c->schema->n_fields; i++)
    if (c->schema->fields[i].is_partition_key)
      key = &c->schema->fields[i];
  bool named = partition_name != NULL && partition_name[0] != '\0';
  if (key != NULL && named)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "not support manually specifying the partition "
                           "names if partition key mode is used");
  if (key == NULL) {
    const char *name = named ? partition_name : "_default";
    int64_t id = proxy_partition_id(c, name);
    if (id < 0)
      return cairn_error_set(err, CAIRN_PARTITION_NOT_FOUND,
                             "partition not found[partition=%s]", name);
    for (size_t r = 0; r < b->n_rows; r++)
      part[r] = id;
    return CAIRN_OK;
  }
  cairn_colview v;
  cairn_column_snapshot(b->columns[field_index(c->schema, key)], &v);
  int64_t n_parts = c->desc->num_partitions > 0 ? c->desc->num_partitions : 1;
  for (size_t r = 0; r < b->n_rows; r++) {
    char name[64];
    snprintf(name, sizeof name, "_default_%" PRIu64, hash_row(&v, r) % (uint64_t)n_parts);
    part[r] = proxy_partition_id(c, name);
    if (part[r] < 0)
      return cairn_error_set(err, CAIRN_PARTITION_NOT_FOUND,
                             "partition-key partition %s is missing", name);
  }
  (void)ctx;
  return CAIRN_OK;
}

/* Group rows by (shard, partition). */
static cairn_status route_rows(cairn_rpc_ctx *ctx, const proxy_coll *c,
                               const cairn_insert_batch *b, const int64_t *part,
                               route **out, size_t *n_out, cairn_error *err) {
  size_t shards = c->desc->n_virtual_channel_names;
  if (shards == 0)
    return cairn_error_set(err, CAIRN_INTERNAL, "collection has no channels");
  cairn_colview pk;
  cairn_column_snapshot(b->columns[field_index(c->schema, cairn_schema_primary(c->schema))], &pk);
  route *routes = CAIRN_ARENA_NEW(ctx->arena, route, b->n_rows + 1);
  size_t n = 0;
  for (size_t r = 0; r < b->n_rows; r++) {
    int shard = (int)(hash_row(&pk, r) % shards);
    size_t k = 0;
    while (k < n && !(routes[k].shard == shard && routes[k].partition_id == part[r]))
      k++;
    if (k == n) {
      routes[n].shard = shard;
      routes[n].partition_id = part[r];
      routes[n].rows = CAIRN_ARENA_NEW(ctx->arena, int64_t, b->n_rows);
      n++;
    }
    routes[k].rows[routes[k].n++] = (int64_t)r;
  }
  *out = routes;
  *n_out = n;
  return CAIRN_OK;
}

/* Pack and produce one LogEntry to a channel; returns when durable. */
static cairn_status produce_entry(cairn_rpc_ctx *ctx, const char *channel,
                                  Cairn__Data__LogEntry *entry, cairn_error *err) {
  size_t len = cairn__data__log_entry__get_packed_size(entry);
  uint8_t *buf = malloc(len ? len : 1);
  if (buf == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  cairn__data__log_entry__pack(entry, buf);
  cairn_status st = cairn_mq_produce(proxy_of(ctx)->mq, channel, buf, len, NULL, err);
  free(buf);
  return st;
}

static cairn_status produce_route(cairn_rpc_ctx *ctx, const proxy_coll *c,
                                  const cairn_insert_batch *b, const route *rt,
                                  uint64_t ts, cairn_error *err) {
  Cairn__Data__InsertEntry ins = CAIRN__DATA__INSERT_ENTRY__INIT;
  ins.collection_id = c->id;
  ins.partition_id = rt->partition_id;
  ins.timestamp = ts;
  ins.num_rows = rt->n;
  ins.schema_version = (int64_t)c->desc->update_timestamp;
  ins.fields_data = CAIRN_ARENA_NEW(ctx->arena, Milvus__Proto__Schema__FieldData *,
                                    c->schema->n_fields);
  for (size_t i = 0; i < c->schema->n_fields; i++) {
    cairn_colview v;
    cairn_column_snapshot(b->columns[i], &v);
    Milvus__Proto__Schema__FieldData *fd = NULL;
    cairn_status st = cairn_fielddata_build(ctx->arena, &c->schema->fields[i],
                                            &v, rt->rows, rt->n, NULL, 0, &fd, err);
    if (st != CAIRN_OK)
      return st;
    fd->field_id = c->schema->fields[i].id;
    ins.fields_data[ins.n_fields_data++] = fd;
  }
  Cairn__Data__LogEntry entry = CAIRN__DATA__LOG_ENTRY__INIT;
  entry.body_case = CAIRN__DATA__LOG_ENTRY__BODY_INSERT;
  entry.insert = &ins;
  return produce_entry(ctx, c->desc->virtual_channel_names[rt->shard], &entry, err);
}

static cairn_status check_schema_version(const proxy_coll *c, uint64_t sent,
                                         cairn_error *err) {
  if (sent != 0 && sent != c->desc->update_timestamp)
    return cairn_error_set(err, CAIRN_SCHEMA_MISMATCH,
                           "collection schema mismatch[collection=%s]: the "
                           "client's schema is outdated, describe it again",
                           c->desc->collection_name);
  return CAIRN_OK;
}

/* Decode, route and produce rows; the batch is returned for the reply. */
static cairn_status write_rows(cairn_rpc_ctx *ctx, const proxy_coll *c,
                               const char *partition_name,
                               Milvus__Proto__Schema__FieldData *const *fields,
                               size_t n_fields, size_t num_rows, bool upsert,
                               uint64_t ts, cairn_insert_batch **batch,
                               cairn_error *err) {
  cairn_fielddata_opts opts = {.upsert = upsert};
  cairn_status st = cairn_fielddata_decode(c->schema, fields, n_fields, num_rows,
                                           &opts, batch, err);
  if (st != CAIRN_OK)
    return st;
  cairn_insert_batch *b = *batch;
  if ((st = fill_auto_ids(ctx, c, b, err)) != CAIRN_OK)
    return st;
  int64_t *part = CAIRN_ARENA_NEW(ctx->arena, int64_t, b->n_rows + 1);
  route *routes = NULL;
  size_t n_routes = 0;
  st = partition_of_rows(ctx, c, partition_name, b, part, err);
  if (st == CAIRN_OK)
    st = route_rows(ctx, c, b, part, &routes, &n_routes, err);
  for (size_t i = 0; st == CAIRN_OK && i < n_routes; i++)
    st = produce_route(ctx, c, b, &routes[i], ts, err);
  return st;
}

/* The IDs of the reply: the primary keys of every row, in order. */
static cairn_status reply_ids(cairn_rpc_ctx *ctx, const proxy_coll *c,
                              const cairn_insert_batch *b, mutation_result *r,
                              cairn_error *err) {
  cairn_colview pk;
  cairn_column_snapshot(b->columns[field_index(c->schema, cairn_schema_primary(c->schema))], &pk);
  int64_t *rows = CAIRN_ARENA_NEW(ctx->arena, int64_t, b->n_rows + 1);
  r->succ_index = CAIRN_ARENA_NEW(ctx->arena, uint32_t, b->n_rows + 1);
  for (size_t i = 0; i < b->n_rows; i++) {
    rows[i] = (int64_t)i;
    r->succ_index[i] = (uint32_t)i;
  }
  r->n_succ_index = b->n_rows;
  return cairn_ids_from_column(ctx->arena, &pk, rows, b->n_rows, &r->ids, err);
}

static mutation_result *new_result(cairn_arena *arena) {
  mutation_result *r = CAIRN_ARENA_NEW(arena, mutation_result, 1);
  milvus__proto__milvus__mutation_result__init(r);
  return r;
}

PROXY_HANDLER(proxy_insert) {
  const Milvus__Proto__Milvus__InsertRequest *req =
      (const Milvus__Proto__Milvus__InsertRequest *)msg;
  cairn_error err = {0};
  mutation_result *r = new_result(ctx->arena);
  proxy_coll c;
  cairn_insert_batch *b = NULL;
  cairn_status st = proxy_coll_open_for_write(ctx, req->db_name, req->collection_name, &c, &err);
  if (st == CAIRN_OK) {
    st = check_schema_version(&c, req->schema_timestamp, &err);
    if (st == CAIRN_OK)
      st = alloc_ts(ctx, &r->timestamp, &err);
    if (st == CAIRN_OK)
      st = write_rows(ctx, &c, req->partition_name, req->fields_data,
                      req->n_fields_data, req->num_rows, false, r->timestamp,
                      &b, &err);
    if (st == CAIRN_OK)
      st = reply_ids(ctx, &c, b, r, &err);
    if (st == CAIRN_OK)
      r->insert_cnt = (int64_t)b->n_rows;
    cairn_insert_batch_free(b);
    proxy_coll_release(&c);
  }
  if (st != CAIRN_OK)
    r->timestamp = 0;
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

/* ---- deletes ---- */

/* Produce DeleteEntry messages for primary keys (rows of a pk view), one per
 * shard channel, all at timestamp ts. */
static cairn_status produce_deletes(cairn_rpc_ctx *ctx, const proxy_coll *c,
                                    const cairn_colview *pk, const int64_t *rows,
                                    size_t n, int64_t partition_id, uint64_t ts,
                                    cairn_error *err) {
  size_t shards = c->desc->n_virtual_channel_names;
  int64_t *sel = CAIRN_ARENA_NEW(ctx->arena, int64_t, n + 1);
  cairn_status st = CAIRN_OK;
  for (size_t s = 0; st == CAIRN_OK && s < shards; s++) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
      if (hash_row(pk, (size_t)rows[i]) % shards == s)
        sel[k++] = rows[i];
    if (k == 0)
      continue;
    Cairn__Data__DeleteEntry del = CAIRN__DATA__DELETE_ENTRY__INIT;
    del.collection_id = c->id;
    del.partition_id = partition_id;
    del.timestamp = ts;
    st = cairn_ids_from_column(ctx->arena, pk, sel, k, &del.primary_keys, err);
    Cairn__Data__LogEntry entry = CAIRN__DATA__LOG_ENTRY__INIT;
    entry.body_case = CAIRN__DATA__LOG_ENTRY__BODY_DELETE;
    entry.delete_ = &del;
    if (st == CAIRN_OK)
      st = produce_entry(ctx, c->desc->virtual_channel_names[s], &entry, err);
  }
  return st;
}

PROXY_HANDLER(proxy_upsert) {
  const Milvus__Proto__Milvus__UpsertRequest *req =
      (const Milvus__Proto__Milvus__UpsertRequest *)msg;
  cairn_error err = {0};
  mutation_result *r = new_result(ctx->arena);
  proxy_coll c;
  cairn_insert_batch *old = NULL;
  cairn_status st = proxy_coll_open_for_write(ctx, req->db_name, req->collection_name, &c, &err);
  if (st == CAIRN_OK) {
    const cairn_field *pk = cairn_schema_primary(c.schema);
    cairn_fielddata_opts opts = {.upsert = true};
    if (req->partial_update)
      st = cairn_error_set(&err, CAIRN_INVALID_ARGUMENT,
                           "partial_update upsert is not supported by Cairn yet");
    if (st == CAIRN_OK)
      st = check_schema_version(&c, req->schema_timestamp, &err);
    if (st == CAIRN_OK)
      st = alloc_ts(ctx, &r->timestamp, &err);
    /* The keys the client sent are deleted; the rows are inserted again at
     * the same timestamp (an auto_id key gets a fresh id, as in Milvus). */
    if (st == CAIRN_OK)
      st = cairn_fielddata_decode(c.schema, req->fields_data, req->n_fields_data,
                                  req->num_rows, &opts, &old, &err);
    if (st == CAIRN_OK) {
      cairn_colview pkv;
      cairn_column_snapshot(old->columns[field_index(c.schema, pk)], &pkv);
      int64_t *rows = CAIRN_ARENA_NEW(ctx->arena, int64_t, old->n_rows + 1);
      for (size_t i = 0; i < old->n_rows; i++)
        rows[i] = (int64_t)i;
      st = produce_deletes(ctx, &c, &pkv, rows, old->n_rows, -1, r->timestamp, &err);
    }
    if (st == CAIRN_OK && pk->auto_id) {
      /* Re-decode without the pk so fresh ids are allocated. */
      cairn_column_free(old->columns[field_index(c.schema, pk)]);
      old->columns[field_index(c.schema, pk)] = NULL;
      st = fill_auto_ids(ctx, &c, old, &err);
    }
    if (st == CAIRN_OK) {
      int64_t *part = CAIRN_ARENA_NEW(ctx->arena, int64_t, old->n_rows + 1);
      route *routes = NULL;
      size_t n_routes = 0;
      st = partition_of_rows(ctx, &c, req->partition_name, old, part, &err);
      if (st == CAIRN_OK)
        st = route_rows(ctx, &c, old, part, &routes, &n_routes, &err);
      for (size_t i = 0; st == CAIRN_OK && i < n_routes; i++)
        st = produce_route(ctx, &c, old, &routes[i], r->timestamp, &err);
    }
    if (st == CAIRN_OK)
      st = reply_ids(ctx, &c, old, r, &err);
    if (st == CAIRN_OK)
      r->upsert_cnt = (int64_t)old->n_rows;
    cairn_insert_batch_free(old);
    proxy_coll_release(&c);
  }
  if (st != CAIRN_OK)
    r->timestamp = 0;
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

/* The primary keys an expression selects, as FieldData (a query through
 * the querynode, strong consistency). */
static cairn_status keys_for_expr(cairn_rpc_ctx *ctx, const proxy_coll *c,
                                  const char *expr, int64_t partition_id,
                                  Milvus__Proto__Schema__FieldData **pk,
                                  size_t *n, cairn_error *err);

PROXY_HANDLER(proxy_delete) {
  const Milvus__Proto__Milvus__DeleteRequest *req =
      (const Milvus__Proto__Milvus__DeleteRequest *)msg;
  cairn_error err = {0};
  mutation_result *r = new_result(ctx->arena);
  proxy_coll c;
  cairn_status st = proxy_coll_open_for_write(ctx, req->db_name, req->collection_name, &c, &err);
  if (st == CAIRN_OK) {
    int64_t part = -1;
    if (req->partition_name && req->partition_name[0] &&
        (part = proxy_partition_id(&c, req->partition_name)) < 0)
      st = cairn_error_set(&err, CAIRN_PARTITION_NOT_FOUND,
                           "partition not found[partition=%s]", req->partition_name);
    Milvus__Proto__Schema__FieldData *pkfd = NULL;
    size_t n = 0;
    if (st == CAIRN_OK)
      st = keys_for_expr(ctx, &c, req->expr, part, &pkfd, &n, &err);
    cairn_insert_batch *b = NULL;
    if (st == CAIRN_OK && n > 0) {
      /* Decode the pk column alone to route and encode the keys. */
      cairn_schema one = {.name = c.schema->name, .n_fields = 1,
                          .fields = (cairn_field *)cairn_schema_primary(c.schema)};
      cairn_fielddata_opts opts = {.upsert = true, .allow_duplicate_pks = true};
      st = cairn_fielddata_decode(&one, &pkfd, 1, n, &opts, &b, &err);
      if (st == CAIRN_OK)
        st = alloc_ts(ctx, &r->timestamp, &err);
      if (st == CAIRN_OK) {
        cairn_colview pkv;
        cairn_column_snapshot(b->columns[0], &pkv);
        int64_t *rows = CAIRN_ARENA_NEW(ctx->arena, int64_t, n);
        for (size_t i = 0; i < n; i++)
          rows[i] = (int64_t)i;
        st = produce_deletes(ctx, &c, &pkv, rows, n, part, r->timestamp, &err);
        if (st == CAIRN_OK)
          st = cairn_ids_from_column(ctx->arena, &pkv, rows, n, &r->ids, &err);
      }
    }
    cairn_insert_batch_free(b);
    if (st == CAIRN_OK)
      r->delete_cnt = (int64_t)n;
    proxy_coll_release(&c);
  }
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

static cairn_status keys_for_expr(cairn_rpc_ctx *ctx, const proxy_coll *c,
                                  const char *expr, int64_t partition_id,
                                  Milvus__Proto__Schema__FieldData **pk,
                                  size_t *n, cairn_error *err) {
  *pk = NULL;
  *n = 0;
  if (expr == NULL || expr[0] == '\0')
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "delete needs a filter expression (use the primary "
                           "key, e.g. id in [1, 2])");
  cairn_status st = proxy_check_loaded(ctx, c, NULL, 0, err);
  if (st != CAIRN_OK)
    return st;
  cairn_expr *filter = NULL;
  st = cairn_expr_parse(c->schema, expr, NULL, &filter, err);
  if (st != CAIRN_OK)
    return st;
  int64_t pk_id = cairn_schema_primary(c->schema)->id;
  cairn_qn_query q = {.collection_id = c->id, .filter = filter, .limit = -1,
                      .strong = true,
                      .partition_ids = partition_id >= 0 ? &partition_id : NULL,
                      .n_partition_ids = partition_id >= 0 ? 1 : 0,
                      .output = {.field_ids = &pk_id, .n_fields = 1}};
  Milvus__Proto__Schema__FieldData **fields = NULL;
  size_t n_fields = 0;
  cairn_proxy *p = proxy_of(ctx);
  st = p->data->query(p->data_ctx, &q, ctx->arena, &fields, &n_fields, n, err);
  if (st == CAIRN_OK && n_fields > 0)
    *pk = fields[0];
  cairn_expr_free(filter);
  return st;
}

/* ---- flush ---- */

PROXY_HANDLER(proxy_flush) {
  const Milvus__Proto__Milvus__FlushRequest *req =
      (const Milvus__Proto__Milvus__FlushRequest *)msg;
  cairn_error err = {0};
  Milvus__Proto__Milvus__FlushResponse *r =
      CAIRN_ARENA_NEW(ctx->arena, Milvus__Proto__Milvus__FlushResponse, 1);
  milvus__proto__milvus__flush_response__init(r);
  size_t n = req->n_collection_names;
  r->db_name = (char *)cairn_pb_db_name(req->db_name, ctx->dbname);
  r->coll_segids = CAIRN_ARENA_NEW(ctx->arena, Milvus__Proto__Milvus__FlushResponse__CollSegIDsEntry *, n + 1);
  r->coll_flush_ts = CAIRN_ARENA_NEW(ctx->arena, Milvus__Proto__Milvus__FlushResponse__CollFlushTsEntry *, n + 1);
  cairn_status st = CAIRN_OK;
  for (size_t i = 0; st == CAIRN_OK && i < n; i++) {
    proxy_coll c;
    st = proxy_coll_open_for_write(ctx, req->db_name, req->collection_names[i], &c, &err);
    if (st != CAIRN_OK)
      break;
    int64_t *segs = NULL;
    size_t n_segs = 0;
    uint64_t ts = 0;
    cairn_proxy *p = proxy_of(ctx);
    st = alloc_ts(ctx, &ts, &err);
    if (st == CAIRN_OK)
      st = p->data->flush(p->data_ctx, c.id, &segs, &n_segs, &err);
    if (st == CAIRN_OK) {
      Milvus__Proto__Milvus__FlushResponse__CollSegIDsEntry *e = CAIRN_ARENA_NEW(
          ctx->arena, Milvus__Proto__Milvus__FlushResponse__CollSegIDsEntry, 1);
      milvus__proto__milvus__flush_response__coll_seg_ids_entry__init(e);
      e->key = req->collection_names[i];
      e->value = CAIRN_ARENA_NEW(ctx->arena, Milvus__Proto__Schema__LongArray, 1);
      milvus__proto__schema__long_array__init(e->value);
      e->value->data = CAIRN_ARENA_NEW(ctx->arena, int64_t, n_segs + 1);
      if (n_segs > 0)
        memcpy(e->value->data, segs, n_segs * sizeof *segs);
      e->value->n_data = n_segs;
      r->coll_segids[r->n_coll_segids++] = e;
      Milvus__Proto__Milvus__FlushResponse__CollFlushTsEntry *t = CAIRN_ARENA_NEW(
          ctx->arena, Milvus__Proto__Milvus__FlushResponse__CollFlushTsEntry, 1);
      milvus__proto__milvus__flush_response__coll_flush_ts_entry__init(t);
      t->key = req->collection_names[i];
      t->value = ts;
      r->coll_flush_ts[r->n_coll_flush_ts++] = t;
    }
    free(segs);
    proxy_coll_release(&c);
  }
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

/* Flush is synchronous (it returns once the segments are recorded), so a
 * flush state request only checks that the segments still exist. */
PROXY_HANDLER(proxy_flush_state) {
  const Milvus__Proto__Milvus__GetFlushStateRequest *req =
      (const Milvus__Proto__Milvus__GetFlushStateRequest *)msg;
  Milvus__Proto__Milvus__GetFlushStateResponse *r = CAIRN_ARENA_NEW(
      ctx->arena, Milvus__Proto__Milvus__GetFlushStateResponse, 1);
  milvus__proto__milvus__get_flush_state_response__init(r);
  (void)req;
  r->flushed = 1;
  r->status = cairn_pb_ok(ctx->arena);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}
