/*
 * coord.c — coordinator life cycle, the CoordService table, and the helpers
 * every handler file shares (request resolution, names, time and IDs).
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_internal.pb-c.h"
#include "coord_internal.h"

#define MAX_NAME_LEN 255

void cairn_coord_options_default(cairn_coord_options *o) {
  o->max_databases = 64;
  o->max_collections = 65536;
  o->max_fields = 64;
  o->max_vector_fields = 4;
  o->max_shards = 16;
  o->max_partitions = 1024;
  o->max_dim = 32768;
}

/* ---- shared helpers ---- */

cairn_grpc_code coord_reply_status(cairn_rpc_ctx *ctx, const cairn_error *err,
                                   ProtobufCMessage **reply) {
  mpb_status *s = cairn_pb_status_err(ctx->arena, err);
  if (s == NULL)
    return CAIRN_GRPC_RESOURCE_EXHAUSTED;
  *reply = &s->base;
  return CAIRN_GRPC_OK;
}

cairn_status coord_db(cairn_rpc_ctx *ctx, const char *db_field, cat_db **out,
                      cairn_error *err) {
  const char *name = cairn_pb_db_name(db_field, ctx->dbname);
  return cairn_catalog_get_db(coord_of(ctx)->cat, ctx->arena, name, out, err);
}

cairn_status coord_collection(cairn_rpc_ctx *ctx, const char *db_field,
                              const char *name, cat_db **db, cat_coll **out,
                              cairn_error *err) {
  *out = NULL;
  cairn_status st = coord_db(ctx, db_field, db, err);
  if (st != CAIRN_OK)
    return st;
  if (name == NULL || name[0] == '\0')
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "collection name should not be empty");
  return cairn_catalog_get_collection(coord_of(ctx)->cat, ctx->arena, *db,
                                      name, out, err);
}

/* The database holding a collection found by id. */
static cairn_status db_by_id(cairn_rpc_ctx *ctx, int64_t id, cat_db **out,
                             cairn_error *err) {
  cat_db **dbs = NULL;
  size_t n = 0;
  *out = NULL;
  cairn_status st =
      cairn_catalog_list_dbs(coord_of(ctx)->cat, ctx->arena, &dbs, &n, err);
  for (size_t i = 0; st == CAIRN_OK && i < n; i++)
    if (dbs[i]->id == id)
      *out = dbs[i];
  if (st == CAIRN_OK && *out == NULL)
    st = cairn_error_set(err, CAIRN_DATABASE_NOT_FOUND,
                         "database of collection not found[dbID=%" PRId64 "]", id);
  return st;
}

cairn_status coord_collection_or_id(cairn_rpc_ctx *ctx, const char *db_field,
                                    const char *name, int64_t id, cat_db **db,
                                    cat_coll **out, cairn_error *err) {
  if ((name != NULL && name[0] != '\0') || id == 0)
    return coord_collection(ctx, db_field, name, db, out, err);
  *db = NULL;
  cairn_status st = cairn_catalog_get_collection_by_id(coord_of(ctx)->cat,
                                                       ctx->arena, id, out, err);
  if (st == CAIRN_OK)
    st = db_by_id(ctx, (*out)->db_id, db, err);
  return st;
}

cairn_status coord_check_name(const char *what, const char *name,
                              cairn_error *err) {
  if (name == NULL || name[0] == '\0')
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "%s name should not be empty", what);
  size_t len = strlen(name);
  if (len > MAX_NAME_LEN)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "the length of %s name must be at most %d "
                           "characters, got %zu",
                           what, MAX_NAME_LEN, len);
  unsigned char first = (unsigned char)name[0];
  if (!(isalpha(first) || first == '_'))
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "invalid %s name '%s': the first character must be "
                           "an underscore or a letter",
                           what, name);
  for (size_t i = 1; i < len; i++) {
    unsigned char c = (unsigned char)name[i];
    if (!(isalnum(c) || c == '_'))
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "invalid %s name '%s': it can only contain "
                             "numbers, letters and underscores",
                             what, name);
  }
  return CAIRN_OK;
}

cairn_status coord_now(cairn_coord *coord, uint64_t *ts, cairn_error *err) {
  return cairn_tso_alloc(coord->tso, 1, ts, err);
}

cairn_status coord_new_id(cairn_coord *coord, int64_t *id, cairn_error *err) {
  return cairn_tso_alloc_ids(coord->tso, 1, id, err);
}

/* ---- time and ids ---- */

static COORD_HANDLER(alloc_timestamp) {
  (void)msg;
  cairn_error err = {0};
  Milvus__Proto__Milvus__AllocTimestampResponse *r =
      CAIRN_ARENA_NEW(ctx->arena, Milvus__Proto__Milvus__AllocTimestampResponse, 1);
  milvus__proto__milvus__alloc_timestamp_response__init(r);
  coord_now(coord_of(ctx), &r->timestamp, &err);
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

static COORD_HANDLER(alloc_id) {
  const Cairn__Internal__AllocIDRequest *req =
      (const Cairn__Internal__AllocIDRequest *)msg;
  cairn_error err = {0};
  Cairn__Internal__AllocIDResponse *r =
      CAIRN_ARENA_NEW(ctx->arena, Cairn__Internal__AllocIDResponse, 1);
  cairn__internal__alloc_idresponse__init(r);
  uint32_t count = req->count ? req->count : 1;
  if (cairn_tso_alloc_ids(coord_of(ctx)->tso, count, &r->id, &err) == CAIRN_OK)
    r->count = count;
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

static const cairn_rpc_method coord_time_methods[] = {
    {"AllocTimestamp", alloc_timestamp},
    {"AllocID", alloc_id},
    {NULL, NULL},
};

/* ---- life cycle ---- */

static size_t count_methods(const cairn_rpc_method *m) {
  size_t n = 0;
  while (m[n].name != NULL)
    n++;
  return n;
}

static cairn_status build_service(cairn_coord *coord, cairn_error *err) {
  const cairn_rpc_method *tables[] = {
      coord_time_methods,      coord_db_methods,    coord_collection_methods,
      coord_partition_methods, coord_alias_methods, coord_index_methods,
      coord_load_methods,      coord_segment_methods,
  };
  size_t n_tables = sizeof tables / sizeof tables[0], total = 0;
  for (size_t i = 0; i < n_tables; i++)
    total += count_methods(tables[i]);
  cairn_rpc_method *all = calloc(total + 1, sizeof *all);
  if (all == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  size_t k = 0;
  for (size_t i = 0; i < n_tables; i++)
    for (const cairn_rpc_method *m = tables[i]; m->name != NULL; m++)
      all[k++] = *m;
  cairn_status st = cairn_rpc_service_new(
      &cairn__internal__coord_service__descriptor, all, coord, &coord->service,
      err);
  free(all);
  return st;
}

cairn_status cairn_coord_open(cairn_meta *meta, const cairn_coord_options *opts,
                              cairn_coord **out, cairn_error *err) {
  *out = NULL;
  cairn_coord *coord = calloc(1, sizeof *coord);
  if (coord == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  coord->meta = meta;
  if (opts != NULL)
    coord->opts = *opts;
  else
    cairn_coord_options_default(&coord->opts);
  uint64_t ts = 0;
  int64_t db_id = 0;
  cairn_status st = cairn_tso_open(meta, &coord->tso, err);
  if (st == CAIRN_OK)
    st = coord_now(coord, &ts, err);
  if (st == CAIRN_OK)
    st = coord_new_id(coord, &db_id, err);
  if (st == CAIRN_OK)
    st = cairn_catalog_open(meta, db_id, ts, &coord->cat, err);
  if (st == CAIRN_OK)
    st = build_service(coord, err);
  if (st != CAIRN_OK) {
    cairn_coord_close(coord);
    return st;
  }
  *out = coord;
  return CAIRN_OK;
}

void cairn_coord_close(cairn_coord *coord) {
  if (coord == NULL)
    return;
  cairn_rpc_service_free(coord->service);
  cairn_catalog_close(coord->cat);
  cairn_tso_close(coord->tso);
  free(coord);
}

cairn_rpc_service *cairn_coord_service(cairn_coord *coord) {
  return coord->service;
}

uint64_t cairn_coord_catalog_version(cairn_coord *coord) {
  return cairn_catalog_version(coord->cat);
}
