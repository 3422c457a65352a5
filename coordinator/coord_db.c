/* coord_db.c — database DDL: create, drop, list, alter, describe. */
#include <stdio.h>
#include <string.h>

#include "coord_internal.h"

void coord_merge_properties(cairn_arena *arena, mpb_kv ***props, size_t *n,
                             mpb_kv *const *set, size_t n_set,
                             char *const *delete_keys, size_t n_delete) {
  mpb_kv **out = CAIRN_ARENA_NEW(arena, mpb_kv *, *n + n_set + 1);
  size_t k = 0;
  for (size_t i = 0; i < *n; i++) {
    bool drop = cairn_pb_kv_get(set, n_set, (*props)[i]->key) != NULL;
    for (size_t j = 0; j < n_delete && !drop; j++)
      drop = strcmp((*props)[i]->key, delete_keys[j]) == 0;
    if (!drop)
      out[k++] = (*props)[i];
  }
  for (size_t i = 0; i < n_set; i++)
    out[k++] = cairn_pb_kv_new(arena, set[i]->key, set[i]->value);
  *props = out;
  *n = k;
}

static cairn_status create_database(cairn_rpc_ctx *ctx,
                                    const Milvus__Proto__Milvus__CreateDatabaseRequest *req,
                                    cairn_error *err) {
  cairn_coord *coord = coord_of(ctx);
  cairn_status st = coord_check_name("database", req->db_name, err);
  if (st != CAIRN_OK)
    return st;
  cat_db **dbs = NULL, *existing = NULL;
  size_t n = 0;
  st = cairn_catalog_list_dbs(coord->cat, ctx->arena, &dbs, &n, err);
  for (size_t i = 0; st == CAIRN_OK && i < n; i++)
    if (strcmp(dbs[i]->name, req->db_name) == 0)
      existing = dbs[i];
  if (st != CAIRN_OK)
    return st;
  if (existing != NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "database already exists[database=%s]",
                           req->db_name);
  if ((int)n >= coord->opts.max_databases)
    return cairn_error_set(err, CAIRN_DATABASE_LIMIT,
                           "exceeded the limit number of databases[limit=%d]",
                           coord->opts.max_databases);
  cat_db db = CAIRN__CATALOG__DATABASE_INFO__INIT;
  db.name = req->db_name;
  db.n_properties = req->n_properties;
  db.properties = req->properties;
  st = coord_new_id(coord, &db.id, err);
  if (st == CAIRN_OK)
    st = coord_now(coord, &db.created_ts, err);
  if (st == CAIRN_OK)
    st = cairn_catalog_put_db(coord->cat, &db, err);
  return st;
}

COORD_DDL_HANDLER(h_create_database, create_database, Milvus__Proto__Milvus__CreateDatabaseRequest)

static cairn_status drop_database(cairn_rpc_ctx *ctx,
                                  const Milvus__Proto__Milvus__DropDatabaseRequest *req,
                                  cairn_error *err) {
  cairn_coord *coord = coord_of(ctx);
  if (req->db_name == NULL || req->db_name[0] == '\0')
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "database name should not be empty");
  if (strcmp(req->db_name, "default") == 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "can not drop default database");
  cat_db *db = NULL;
  cairn_status st = cairn_catalog_get_db(coord->cat, ctx->arena, req->db_name,
                                         &db, err);
  if (st == CAIRN_DATABASE_NOT_FOUND) { /* dropping is idempotent */
    cairn_error_clear(err);
    return CAIRN_OK;
  }
  if (st != CAIRN_OK)
    return st;
  cat_coll **colls = NULL;
  size_t n = 0;
  st = cairn_catalog_list_collections(coord->cat, ctx->arena, db->id, &colls,
                                      &n, err);
  if (st != CAIRN_OK)
    return st;
  if (n > 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "database:%s not empty, must drop all collections "
                           "before drop database (it holds %zu)",
                           req->db_name, n);
  return cairn_catalog_delete_db(coord->cat, db, err);
}

COORD_DDL_HANDLER(h_drop_database, drop_database, Milvus__Proto__Milvus__DropDatabaseRequest)

static COORD_HANDLER(h_list_databases) {
  (void)msg;
  cairn_error err = {0};
  Milvus__Proto__Milvus__ListDatabasesResponse *r =
      CAIRN_ARENA_NEW(ctx->arena, Milvus__Proto__Milvus__ListDatabasesResponse, 1);
  milvus__proto__milvus__list_databases_response__init(r);
  cat_db **dbs = NULL;
  size_t n = 0;
  if (cairn_catalog_list_dbs(coord_of(ctx)->cat, ctx->arena, &dbs, &n, &err) ==
      CAIRN_OK) {
    r->db_names = CAIRN_ARENA_NEW(ctx->arena, char *, n + 1);
    r->created_timestamp = CAIRN_ARENA_NEW(ctx->arena, uint64_t, n + 1);
    r->db_ids = CAIRN_ARENA_NEW(ctx->arena, int64_t, n + 1);
    for (size_t i = 0; i < n; i++) {
      r->db_names[i] = dbs[i]->name;
      r->created_timestamp[i] = dbs[i]->created_ts;
      r->db_ids[i] = dbs[i]->id;
    }
    r->n_db_names = r->n_created_timestamp = r->n_db_ids = n;
  }
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

static cairn_status alter_database(cairn_rpc_ctx *ctx,
                                   const Milvus__Proto__Milvus__AlterDatabaseRequest *req,
                                   cairn_error *err) {
  cairn_coord *coord = coord_of(ctx);
  cat_db *db = NULL;
  cairn_status st = cairn_catalog_get_db(
      coord->cat, ctx->arena, cairn_pb_db_name(req->db_name, ctx->dbname), &db,
      err);
  if (st != CAIRN_OK)
    return st;
  if (req->n_properties == 0 && req->n_delete_keys == 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "alter database needs properties to set or keys "
                           "to delete");
  coord_merge_properties(ctx->arena, &db->properties, &db->n_properties,
                   req->properties, req->n_properties, req->delete_keys,
                   req->n_delete_keys);
  return cairn_catalog_put_db(coord->cat, db, err);
}

COORD_DDL_HANDLER(h_alter_database, alter_database, Milvus__Proto__Milvus__AlterDatabaseRequest)

static COORD_HANDLER(h_describe_database) {
  const Milvus__Proto__Milvus__DescribeDatabaseRequest *req =
      (const Milvus__Proto__Milvus__DescribeDatabaseRequest *)msg;
  cairn_error err = {0};
  Milvus__Proto__Milvus__DescribeDatabaseResponse *r = CAIRN_ARENA_NEW(
      ctx->arena, Milvus__Proto__Milvus__DescribeDatabaseResponse, 1);
  milvus__proto__milvus__describe_database_response__init(r);
  cat_db *db = NULL;
  if (coord_db(ctx, req->db_name, &db, &err) == CAIRN_OK) {
    r->db_name = db->name;
    r->dbid = db->id;
    r->created_timestamp = db->created_ts;
    r->n_properties = db->n_properties;
    r->properties = db->properties;
  }
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

const cairn_rpc_method coord_db_methods[] = {
    {"CreateDatabase", h_create_database},
    {"DropDatabase", h_drop_database},
    {"ListDatabases", h_list_databases},
    {"AlterDatabase", h_alter_database},
    {"DescribeDatabase", h_describe_database},
    {NULL, NULL},
};
