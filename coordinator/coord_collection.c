/*
 * coord_collection.c — collection DDL: create, drop, has, describe, show,
 * alter (properties), rename, statistics.
 *
 * A new collection gets: field IDs from 100 (and "$meta" when dynamic), one
 * partition "_default" (or num_partitions "_default_N" partitions when it has
 * a partition key), shards_num virtual channels, and the load state NotLoad.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "coord_internal.h"

#define DEFAULT_PARTITION "_default"
#define DEFAULT_KEY_PARTITIONS 16

typedef Milvus__Proto__Schema__CollectionSchema pb_schema;

static bool has_partition_key(const pb_schema *s) {
  for (size_t i = 0; i < s->n_fields; i++)
    if (s->fields[i]->is_partition_key)
      return true;
  return false;
}

cairn_status coord_add_partition(cairn_coord *coord, cairn_arena *arena,
                                  cat_coll *c, const char *name, uint64_t ts,
                                  cairn_error *err) {
  cat_part **parts = CAIRN_ARENA_NEW(arena, cat_part *, c->n_partitions + 1);
  cat_part *p = CAIRN_ARENA_NEW(arena, cat_part, 1);
  if (parts == NULL || p == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  cairn__catalog__partition_info__init(p);
  cairn_status st = coord_new_id(coord, &p->id, err);
  if (st != CAIRN_OK)
    return st;
  p->name = cairn_arena_strdup(arena, name);
  p->created_ts = ts;
  p->created_utc_ms = cairn_ts_physical_ms(ts);
  if (c->n_partitions)
    memcpy(parts, c->partitions, c->n_partitions * sizeof *parts);
  parts[c->n_partitions++] = p;
  c->partitions = parts;
  return CAIRN_OK;
}

static cairn_status create_partitions(cairn_coord *coord, cairn_arena *arena,
                                      cat_coll *c, int64_t num_partitions,
                                      cairn_error *err) {
  if (!has_partition_key(c->schema)) {
    if (num_partitions > 0)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "num_partitions can only be set on a collection "
                             "with a partition key field");
    return coord_add_partition(coord, arena, c, DEFAULT_PARTITION, c->created_ts, err);
  }
  if (num_partitions <= 0)
    num_partitions = DEFAULT_KEY_PARTITIONS;
  if (num_partitions > coord->opts.max_partitions)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "num_partitions must be at most %d, got %" PRId64,
                           coord->opts.max_partitions, num_partitions);
  c->num_partitions = num_partitions;
  for (int64_t i = 0; i < num_partitions; i++) {
    char name[64];
    snprintf(name, sizeof name, DEFAULT_PARTITION "_%" PRId64, i);
    cairn_status st = coord_add_partition(coord, arena, c, name, c->created_ts, err);
    if (st != CAIRN_OK)
      return st;
  }
  return CAIRN_OK;
}

static cairn_status make_channels(cairn_arena *arena, cat_coll *c,
                                  cairn_error *err) {
  c->virtual_channels = CAIRN_ARENA_NEW(arena, char *, (size_t)c->shards_num);
  if (c->virtual_channels == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  for (int i = 0; i < c->shards_num; i++)
    c->virtual_channels[i] = cairn_arena_printf(
        arena, "cairn-dml_%d_%" PRId64 "v%d", i, c->id, i);
  c->n_virtual_channels = (size_t)c->shards_num;
  return CAIRN_OK;
}

static cairn_status check_property(const mpb_kv *kv, cairn_error *err) {
  if (strcmp(kv->key, "collection.ttl.seconds") == 0) {
    char *end = NULL;
    long long v = strtoll(kv->value, &end, 10);
    if (end == kv->value || *end != '\0' || v < 0)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "collection.ttl.seconds must be a non-negative "
                             "integer, got '%s'",
                             kv->value);
  }
  if (strcmp(kv->key, "mmap.enabled") == 0 &&
      strcasecmp(kv->value, "true") != 0 && strcasecmp(kv->value, "false") != 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "mmap.enabled must be true or false, got '%s'",
                           kv->value);
  return CAIRN_OK;
}

static cairn_status check_create(cairn_rpc_ctx *ctx,
                                 const Milvus__Proto__Milvus__CreateCollectionRequest *req,
                                 cat_db *db, cairn_error *err) {
  cairn_coord *coord = coord_of(ctx);
  cairn_status st = coord_check_name("collection", req->collection_name, err);
  if (st != CAIRN_OK)
    return st;
  cat_alias *alias = NULL;
  st = cairn_catalog_find_alias(coord->cat, ctx->arena, db->id,
                                req->collection_name, &alias, err);
  if (st == CAIRN_OK && alias != NULL)
    return cairn_error_set(err, CAIRN_ALIAS_CONFLICT,
                           "collection name [%s] conflicts with an existing "
                           "alias",
                           req->collection_name);
  if (req->shards_num > coord->opts.max_shards)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "shards_num must be at most %d, got %d",
                           coord->opts.max_shards, req->shards_num);
  if (req->consistency_level < 0 || req->consistency_level > 4)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "invalid consistency level %d",
                           (int)req->consistency_level);
  for (size_t i = 0; st == CAIRN_OK && i < req->n_properties; i++)
    st = check_property(req->properties[i], err);
  return st;
}

/* Existing collection with the same name: the same schema is a no-op
 * (Milvus is idempotent here), anything else an error. */
static cairn_status check_existing(cat_coll *existing, pb_schema *schema,
                                   cairn_error *err) {
  size_t a = protobuf_c_message_get_packed_size(&existing->schema->base);
  size_t b = protobuf_c_message_get_packed_size(&schema->base);
  bool same = a == b;
  if (same) {
    uint8_t *x = malloc(a + 1), *y = malloc(b + 1);
    same = x && y;
    if (same) {
      protobuf_c_message_pack(&existing->schema->base, x);
      protobuf_c_message_pack(&schema->base, y);
      same = memcmp(x, y, a) == 0;
    }
    free(x);
    free(y);
  }
  if (same)
    return CAIRN_OK;
  return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                         "create duplicate collection with different "
                         "parameters[collection=%s]",
                         existing->name);
}

static cairn_status create_collection(cairn_rpc_ctx *ctx,
                                      const Milvus__Proto__Milvus__CreateCollectionRequest *req,
                                      cairn_error *err) {
  cairn_coord *coord = coord_of(ctx);
  cat_db *db = NULL;
  cairn_status st = coord_db(ctx, req->db_name, &db, err);
  if (st == CAIRN_OK)
    st = check_create(ctx, req, db, err);
  if (st != CAIRN_OK)
    return st;
  pb_schema *schema = milvus__proto__schema__collection_schema__unpack(
      cairn_arena_protobuf(ctx->arena), req->schema.len, req->schema.data);
  if (schema == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "the schema of collection '%s' is not a valid "
                           "serialized CollectionSchema",
                           req->collection_name);
  st = coord_check_schema(coord, ctx->arena, schema, req->collection_name, err);
  if (st != CAIRN_OK)
    return st;
  cat_coll *existing = NULL;
  st = cairn_catalog_find_collection(coord->cat, ctx->arena, db->id,
                                     req->collection_name, &existing, err);
  if (st != CAIRN_OK || existing != NULL)
    return st != CAIRN_OK ? st : check_existing(existing, schema, err);

  cat_coll c = CAIRN__CATALOG__COLLECTION_INFO__INIT;
  c.db_id = db->id;
  c.name = req->collection_name;
  c.schema = schema;
  c.shards_num = req->shards_num > 0 ? req->shards_num : 1;
  c.consistency_level = req->consistency_level;
  c.n_properties = req->n_properties;
  c.properties = req->properties;
  c.load_state = MILVUS__PROTO__COMMON__LOAD_STATE__LoadStateNotLoad;
  st = coord_new_id(coord, &c.id, err);
  if (st == CAIRN_OK)
    st = coord_now(coord, &c.created_ts, err);
  c.created_utc_ms = cairn_ts_physical_ms(c.created_ts);
  c.update_ts = c.created_ts;
  if (st == CAIRN_OK)
    st = create_partitions(coord, ctx->arena, &c, req->num_partitions, err);
  if (st == CAIRN_OK)
    st = make_channels(ctx->arena, &c, err);
  if (st == CAIRN_OK)
    st = cairn_catalog_put_collection(coord->cat, &c, err);
  if (st == CAIRN_OK)
    coord_publish_event(coord, c.id);
  return st;
}

COORD_DDL_HANDLER(h_create_collection, create_collection, Milvus__Proto__Milvus__CreateCollectionRequest)

/* Aliases that point at collection id. */
cairn_status coord_aliases_of(cairn_coord *coord, cairn_arena *arena,
                               int64_t db_id, int64_t coll_id, char ***names,
                               size_t *n, cairn_error *err) {
  cat_alias **all = NULL;
  size_t count = 0;
  *n = 0;
  cairn_status st =
      cairn_catalog_list_aliases(coord->cat, arena, db_id, &all, &count, err);
  *names = CAIRN_ARENA_NEW(arena, char *, count + 1);
  for (size_t i = 0; st == CAIRN_OK && i < count; i++)
    if (all[i]->collection_id == coll_id)
      (*names)[(*n)++] = all[i]->name;
  return st;
}

static cairn_status drop_collection(cairn_rpc_ctx *ctx,
                                    const Milvus__Proto__Milvus__DropCollectionRequest *req,
                                    cairn_error *err) {
  cairn_coord *coord = coord_of(ctx);
  cat_db *db = NULL;
  cairn_status st = coord_db(ctx, req->db_name, &db, err);
  if (st == CAIRN_OK)
    st = coord_check_name("collection", req->collection_name, err);
  cat_coll *c = NULL;
  if (st == CAIRN_OK)
    st = cairn_catalog_find_collection(coord->cat, ctx->arena, db->id,
                                       req->collection_name, &c, err);
  if (st == CAIRN_OK && c == NULL) {
    cat_alias *alias = NULL;
    st = cairn_catalog_find_alias(coord->cat, ctx->arena, db->id,
                                  req->collection_name, &alias, err);
    if (st == CAIRN_OK && alias != NULL)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "cannot drop the collection via alias = %s; drop "
                             "the alias or use the collection's name",
                             req->collection_name);
  }
  if (st != CAIRN_OK || c == NULL) /* dropping is idempotent */
    return st;
  char **aliases = NULL;
  size_t n = 0;
  st = coord_aliases_of(coord, ctx->arena, db->id, c->id, &aliases, &n, err);
  if (st != CAIRN_OK)
    return st;
  if (n > 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "unable to drop the collection [%s] because it has "
                           "aliases (such as '%s'); drop the aliases first",
                           c->name, aliases[0]);
  st = cairn_catalog_delete_collection(coord->cat, c, err);
  if (st == CAIRN_OK)
    st = coord_drop_collection_data(coord, c, err);
  if (st == CAIRN_OK)
    coord_publish_event(coord, c->id);
  return st;
}

COORD_DDL_HANDLER(h_drop_collection, drop_collection, Milvus__Proto__Milvus__DropCollectionRequest)

static COORD_HANDLER(h_has_collection) {
  const Milvus__Proto__Milvus__HasCollectionRequest *req =
      (const Milvus__Proto__Milvus__HasCollectionRequest *)msg;
  cairn_error err = {0};
  Milvus__Proto__Milvus__BoolResponse *r =
      CAIRN_ARENA_NEW(ctx->arena, Milvus__Proto__Milvus__BoolResponse, 1);
  milvus__proto__milvus__bool_response__init(r);
  cat_db *db = NULL;
  cat_coll *c = NULL;
  cairn_status st = coord_collection(ctx, req->db_name, req->collection_name,
                                     &db, &c, &err);
  if (st == CAIRN_COLLECTION_NOT_FOUND)
    cairn_error_clear(&err);
  r->value = st == CAIRN_OK;
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

static void fill_describe(cairn_rpc_ctx *ctx, const cat_db *db,
                          const cat_coll *c,
                          Milvus__Proto__Milvus__DescribeCollectionResponse *r,
                          cairn_error *err) {
  r->schema = coord_public_schema(ctx->arena, c->schema);
  r->collectionid = c->id;
  r->virtual_channel_names = c->virtual_channels;
  r->n_virtual_channel_names = c->n_virtual_channels;
  r->created_timestamp = c->created_ts;
  r->created_utc_timestamp = c->created_utc_ms;
  r->shards_num = c->shards_num;
  r->consistency_level = c->consistency_level;
  r->collection_name = c->name;
  r->properties = c->properties;
  r->n_properties = c->n_properties;
  r->db_name = db->name;
  r->db_id = db->id;
  r->num_partitions = c->num_partitions;
  r->update_timestamp = c->update_ts;
  r->update_timestamp_str =
      cairn_arena_printf(ctx->arena, "%" PRIu64, c->update_ts);
  coord_aliases_of(coord_of(ctx), ctx->arena, db->id, c->id, &r->aliases,
             &r->n_aliases, err);
}

static COORD_HANDLER(h_describe_collection) {
  const Milvus__Proto__Milvus__DescribeCollectionRequest *req =
      (const Milvus__Proto__Milvus__DescribeCollectionRequest *)msg;
  cairn_error err = {0};
  Milvus__Proto__Milvus__DescribeCollectionResponse *r = CAIRN_ARENA_NEW(
      ctx->arena, Milvus__Proto__Milvus__DescribeCollectionResponse, 1);
  milvus__proto__milvus__describe_collection_response__init(r);
  cat_db *db = NULL;
  cat_coll *c = NULL;
  cairn_status st = coord_collection_or_id(ctx, req->db_name, req->collection_name,
                                           req->collectionid, &db, &c, &err);
  if (st == CAIRN_OK)
    fill_describe(ctx, db, c, r, &err);
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

static bool name_requested(const Milvus__Proto__Milvus__ShowCollectionsRequest *req,
                           const char *name) {
  if (req->n_collection_names == 0)
    return true;
  for (size_t i = 0; i < req->n_collection_names; i++)
    if (strcmp(req->collection_names[i], name) == 0)
      return true;
  return false;
}

static void fill_show(cairn_arena *arena,
                      const Milvus__Proto__Milvus__ShowCollectionsRequest *req,
                      cat_coll **colls, size_t n,
                      Milvus__Proto__Milvus__ShowCollectionsResponse *r) {
  r->collection_names = CAIRN_ARENA_NEW(arena, char *, n + 1);
  r->collection_ids = CAIRN_ARENA_NEW(arena, int64_t, n + 1);
  r->created_timestamps = CAIRN_ARENA_NEW(arena, uint64_t, n + 1);
  r->created_utc_timestamps = CAIRN_ARENA_NEW(arena, uint64_t, n + 1);
  r->inmemory_percentages = CAIRN_ARENA_NEW(arena, int64_t, n + 1);
  r->query_service_available = CAIRN_ARENA_NEW(arena, protobuf_c_boolean, n + 1);
  r->shards_num = CAIRN_ARENA_NEW(arena, int32_t, n + 1);
  size_t k = 0;
  bool in_memory_only =
      req->type == MILVUS__PROTO__MILVUS__SHOW_TYPE__InMemory;
  for (size_t i = 0; i < n; i++) {
    cat_coll *c = colls[i];
    bool loaded = c->load_state == MILVUS__PROTO__COMMON__LOAD_STATE__LoadStateLoaded;
    if (!name_requested(req, c->name) || (in_memory_only && !loaded))
      continue;
    r->collection_names[k] = c->name;
    r->collection_ids[k] = c->id;
    r->created_timestamps[k] = c->created_ts;
    r->created_utc_timestamps[k] = c->created_utc_ms;
    r->inmemory_percentages[k] = loaded ? 100 : 0;
    r->query_service_available[k] = loaded;
    r->shards_num[k] = c->shards_num;
    k++;
  }
  r->n_collection_names = r->n_collection_ids = r->n_created_timestamps =
      r->n_created_utc_timestamps = r->n_inmemory_percentages =
          r->n_query_service_available = r->n_shards_num = k;
}

static COORD_HANDLER(h_show_collections) {
  const Milvus__Proto__Milvus__ShowCollectionsRequest *req =
      (const Milvus__Proto__Milvus__ShowCollectionsRequest *)msg;
  cairn_error err = {0};
  Milvus__Proto__Milvus__ShowCollectionsResponse *r = CAIRN_ARENA_NEW(
      ctx->arena, Milvus__Proto__Milvus__ShowCollectionsResponse, 1);
  milvus__proto__milvus__show_collections_response__init(r);
  cat_db *db = NULL;
  cat_coll **colls = NULL;
  size_t n = 0;
  if (coord_db(ctx, req->db_name, &db, &err) == CAIRN_OK &&
      cairn_catalog_list_collections(coord_of(ctx)->cat, ctx->arena, db->id,
                                     &colls, &n, &err) == CAIRN_OK)
    fill_show(ctx->arena, req, colls, n, r);
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

static cairn_status alter_collection(cairn_rpc_ctx *ctx,
                                     const Milvus__Proto__Milvus__AlterCollectionRequest *req,
                                     cairn_error *err) {
  cairn_coord *coord = coord_of(ctx);
  cat_db *db = NULL;
  cat_coll *c = NULL;
  cairn_status st = coord_collection(ctx, req->db_name, req->collection_name,
                                     &db, &c, err);
  if (st != CAIRN_OK)
    return st;
  if (req->n_properties == 0 && req->n_delete_keys == 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "alter collection needs properties to set or keys "
                           "to delete");
  for (size_t i = 0; i < req->n_properties; i++)
    if ((st = check_property(req->properties[i], err)) != CAIRN_OK)
      return st;
  coord_merge_properties(ctx->arena, &c->properties, &c->n_properties,
                         req->properties, req->n_properties, req->delete_keys,
                         req->n_delete_keys);
  st = coord_now(coord, &c->update_ts, err);
  if (st == CAIRN_OK)
    st = cairn_catalog_put_collection(coord->cat, c, err);
  return st;
}

COORD_DDL_HANDLER(h_alter_collection, alter_collection, Milvus__Proto__Milvus__AlterCollectionRequest)

static cairn_status check_rename_target(cairn_coord *coord, cairn_arena *arena,
                                        const cat_db *db, const char *name,
                                        cairn_error *err) {
  cairn_status st = coord_check_name("collection", name, err);
  cat_coll *clash = NULL;
  cat_alias *alias = NULL;
  if (st == CAIRN_OK)
    st = cairn_catalog_find_collection(coord->cat, arena, db->id, name, &clash,
                                       err);
  if (st == CAIRN_OK)
    st = cairn_catalog_find_alias(coord->cat, arena, db->id, name, &alias, err);
  if (st != CAIRN_OK)
    return st;
  if (clash != NULL || alias != NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "cannot rename to '%s': a collection or alias with "
                           "that name already exists in database '%s'",
                           name, db->name);
  return CAIRN_OK;
}

static cairn_status rename_collection(cairn_rpc_ctx *ctx,
                                      const Milvus__Proto__Milvus__RenameCollectionRequest *req,
                                      cairn_error *err) {
  cairn_coord *coord = coord_of(ctx);
  cat_db *db = NULL, *new_db = NULL;
  cat_coll *c = NULL;
  cairn_status st = coord_db(ctx, req->db_name, &db, err);
  if (st == CAIRN_OK)
    st = cairn_catalog_find_collection(coord->cat, ctx->arena, db->id,
                                       req->oldname ? req->oldname : "", &c, err);
  if (st == CAIRN_OK && c == NULL)
    st = cairn_error_set(err, CAIRN_COLLECTION_NOT_FOUND,
                         "collection not found[database=%s][collection=%s]",
                         db->name, req->oldname ? req->oldname : "");
  if (st == CAIRN_OK)
    st = req->newdbname && req->newdbname[0]
             ? cairn_catalog_get_db(coord->cat, ctx->arena, req->newdbname,
                                    &new_db, err)
             : (new_db = db, CAIRN_OK);
  if (st == CAIRN_OK)
    st = check_rename_target(coord, ctx->arena, new_db, req->newname, err);
  char **aliases = NULL;
  size_t n = 0;
  if (st == CAIRN_OK && new_db->id != db->id)
    st = coord_aliases_of(coord, ctx->arena, db->id, c->id, &aliases, &n, err);
  if (st == CAIRN_OK && n > 0)
    st = cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                         "cannot move collection '%s' to another database "
                         "while it has aliases; drop them first",
                         c->name);
  if (st != CAIRN_OK)
    return st;
  int64_t old_db = c->db_id;
  char *old_name = c->name;
  c->db_id = new_db->id;
  c->name = req->newname;
  c->schema->name = req->newname;
  st = coord_now(coord, &c->update_ts, err);
  if (st == CAIRN_OK)
    st = cairn_catalog_move_collection(coord->cat, old_db, old_name, c, err);
  return st;
}

COORD_DDL_HANDLER(h_rename_collection, rename_collection, Milvus__Proto__Milvus__RenameCollectionRequest)

static COORD_HANDLER(h_collection_statistics) {
  const Milvus__Proto__Milvus__GetCollectionStatisticsRequest *req =
      (const Milvus__Proto__Milvus__GetCollectionStatisticsRequest *)msg;
  cairn_error err = {0};
  Milvus__Proto__Milvus__GetCollectionStatisticsResponse *r = CAIRN_ARENA_NEW(
      ctx->arena, Milvus__Proto__Milvus__GetCollectionStatisticsResponse, 1);
  milvus__proto__milvus__get_collection_statistics_response__init(r);
  cat_db *db = NULL;
  cat_coll *c = NULL;
  if (coord_collection(ctx, req->db_name, req->collection_name, &db, &c,
                       &err) == CAIRN_OK) {
    /* The catalogue holds no rows: the data path reports real counts. */
    r->stats = CAIRN_ARENA_NEW(ctx->arena, mpb_kv *, 1);
    r->stats[0] = cairn_pb_kv_new(ctx->arena, "row_count", "0");
    r->n_stats = 1;
  }
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

const cairn_rpc_method coord_collection_methods[] = {
    {"CreateCollection", h_create_collection},
    {"DropCollection", h_drop_collection},
    {"HasCollection", h_has_collection},
    {"DescribeCollection", h_describe_collection},
    {"ShowCollections", h_show_collections},
    {"AlterCollection", h_alter_collection},
    {"RenameCollection", h_rename_collection},
    {"GetCollectionStatistics", h_collection_statistics},
    {NULL, NULL},
};
