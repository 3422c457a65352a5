/* coord_alias.c — aliases: create, drop, alter, describe, list. An alias
 * names a collection of the same database; it may not equal a collection
 * name, and a collection with aliases cannot be dropped. */
#include <string.h>

#include "coord_internal.h"

/* The target collection by exact name (aliases of aliases are refused). */
static cairn_status target(cairn_rpc_ctx *ctx, const cat_db *db,
                           const char *name, cat_coll **out, cairn_error *err) {
  cairn_status st = cairn_catalog_find_collection(coord_of(ctx)->cat,
                                                  ctx->arena, db->id,
                                                  name ? name : "", out, err);
  if (st == CAIRN_OK && *out == NULL)
    return cairn_error_set(err, CAIRN_COLLECTION_NOT_FOUND,
                           "collection not found[database=%s][collection=%s]",
                           db->name, name ? name : "");
  return st;
}

static cairn_status put_alias(cairn_rpc_ctx *ctx, const char *db_field,
                              const char *alias, const char *collection,
                              bool must_exist, cairn_error *err) {
  cairn_coord *coord = coord_of(ctx);
  cat_db *db = NULL;
  cat_coll *c = NULL, *clash = NULL;
  cat_alias *old = NULL;
  cairn_status st = coord_db(ctx, db_field, &db, err);
  if (st == CAIRN_OK)
    st = coord_check_name("alias", alias, err);
  if (st == CAIRN_OK)
    st = target(ctx, db, collection, &c, err);
  if (st == CAIRN_OK)
    st = cairn_catalog_find_collection(coord->cat, ctx->arena, db->id, alias,
                                       &clash, err);
  if (st == CAIRN_OK)
    st = cairn_catalog_find_alias(coord->cat, ctx->arena, db->id, alias, &old,
                                  err);
  if (st != CAIRN_OK)
    return st;
  if (clash != NULL)
    return cairn_error_set(err, CAIRN_ALIAS_CONFLICT,
                           "alias '%s' conflicts with an existing collection "
                           "name",
                           alias);
  if (must_exist && old == NULL)
    return cairn_error_set(err, CAIRN_ALIAS_NOT_FOUND,
                           "alias not found[database=%s][alias=%s]", db->name,
                           alias);
  if (!must_exist && old != NULL && old->collection_id != c->id)
    return cairn_error_set(err, CAIRN_ALIAS_EXISTS,
                           "alias '%s' already exists and points to another "
                           "collection; use AlterAlias to move it",
                           alias);
  cat_alias a = CAIRN__CATALOG__ALIAS_INFO__INIT;
  a.name = (char *)alias;
  a.collection_id = c->id;
  st = coord_now(coord, &a.created_ts, err);
  if (st == CAIRN_OK)
    st = cairn_catalog_put_alias(coord->cat, db->id, &a, err);
  return st;
}

static COORD_HANDLER(h_create_alias) {
  const Milvus__Proto__Milvus__CreateAliasRequest *req =
      (const Milvus__Proto__Milvus__CreateAliasRequest *)msg;
  cairn_error err = {0};
  cairn_catalog_lock(coord_of(ctx)->cat);
  put_alias(ctx, req->db_name, req->alias, req->collection_name, false, &err);
  cairn_catalog_unlock(coord_of(ctx)->cat);
  return coord_reply_status(ctx, &err, reply);
}

static COORD_HANDLER(h_alter_alias) {
  const Milvus__Proto__Milvus__AlterAliasRequest *req =
      (const Milvus__Proto__Milvus__AlterAliasRequest *)msg;
  cairn_error err = {0};
  cairn_catalog_lock(coord_of(ctx)->cat);
  put_alias(ctx, req->db_name, req->alias, req->collection_name, true, &err);
  cairn_catalog_unlock(coord_of(ctx)->cat);
  return coord_reply_status(ctx, &err, reply);
}

static COORD_HANDLER(h_drop_alias) {
  const Milvus__Proto__Milvus__DropAliasRequest *req =
      (const Milvus__Proto__Milvus__DropAliasRequest *)msg;
  cairn_error err = {0};
  cat_db *db = NULL;
  cairn_catalog_lock(coord_of(ctx)->cat);
  if (coord_db(ctx, req->db_name, &db, &err) == CAIRN_OK &&
      coord_check_name("alias", req->alias, &err) == CAIRN_OK)
    cairn_catalog_delete_alias(coord_of(ctx)->cat, db->id, req->alias, &err);
  cairn_catalog_unlock(coord_of(ctx)->cat);
  return coord_reply_status(ctx, &err, reply);
}

static COORD_HANDLER(h_describe_alias) {
  const Milvus__Proto__Milvus__DescribeAliasRequest *req =
      (const Milvus__Proto__Milvus__DescribeAliasRequest *)msg;
  cairn_error err = {0};
  Milvus__Proto__Milvus__DescribeAliasResponse *r = CAIRN_ARENA_NEW(
      ctx->arena, Milvus__Proto__Milvus__DescribeAliasResponse, 1);
  milvus__proto__milvus__describe_alias_response__init(r);
  cat_db *db = NULL;
  cat_alias *a = NULL;
  cat_coll *c = NULL;
  cairn_status st = coord_db(ctx, req->db_name, &db, &err);
  if (st == CAIRN_OK)
    st = coord_check_name("alias", req->alias, &err);
  if (st == CAIRN_OK)
    st = cairn_catalog_find_alias(coord_of(ctx)->cat, ctx->arena, db->id,
                                  req->alias, &a, &err);
  if (st == CAIRN_OK && a == NULL)
    st = cairn_error_set(&err, CAIRN_ALIAS_NOT_FOUND,
                         "alias not found[database=%s][alias=%s]", db->name,
                         req->alias);
  if (st == CAIRN_OK)
    st = cairn_catalog_get_collection_by_id(coord_of(ctx)->cat, ctx->arena,
                                            a->collection_id, &c, &err);
  if (st == CAIRN_OK) {
    r->db_name = db->name;
    r->alias = a->name;
    r->collection = c->name;
  }
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

static COORD_HANDLER(h_list_aliases) {
  const Milvus__Proto__Milvus__ListAliasesRequest *req =
      (const Milvus__Proto__Milvus__ListAliasesRequest *)msg;
  cairn_error err = {0};
  Milvus__Proto__Milvus__ListAliasesResponse *r = CAIRN_ARENA_NEW(
      ctx->arena, Milvus__Proto__Milvus__ListAliasesResponse, 1);
  milvus__proto__milvus__list_aliases_response__init(r);
  cat_db *db = NULL;
  cairn_status st = coord_db(ctx, req->db_name, &db, &err);
  if (st == CAIRN_OK && req->collection_name && req->collection_name[0]) {
    cat_coll *c = NULL;
    st = target(ctx, db, req->collection_name, &c, &err);
    if (st == CAIRN_OK)
      st = coord_aliases_of(coord_of(ctx), ctx->arena, db->id, c->id,
                            &r->aliases, &r->n_aliases, &err);
    r->collection_name = req->collection_name;
  } else if (st == CAIRN_OK) {
    cat_alias **all = NULL;
    size_t n = 0;
    st = cairn_catalog_list_aliases(coord_of(ctx)->cat, ctx->arena, db->id,
                                    &all, &n, &err);
    r->aliases = CAIRN_ARENA_NEW(ctx->arena, char *, n + 1);
    for (size_t i = 0; st == CAIRN_OK && i < n; i++)
      r->aliases[r->n_aliases++] = all[i]->name;
  }
  if (st == CAIRN_OK)
    r->db_name = db->name;
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

const cairn_rpc_method coord_alias_methods[] = {
    {"CreateAlias", h_create_alias},
    {"DropAlias", h_drop_alias},
    {"AlterAlias", h_alter_alias},
    {"DescribeAlias", h_describe_alias},
    {"ListAliases", h_list_aliases},
    {NULL, NULL},
};
