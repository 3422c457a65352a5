/*
 * coord_load.c — load state: load/release a collection or partitions, load
 * state and progress.
 *
 * Loading needs an index on every vector field (Milvus's rule). The
 * catalogue holds no segments yet, so a load has nothing to wait for and is
 * Loaded at once; the data path makes it real. A collection is either loaded
 * whole (load_state) or by partitions (loaded_partitions).
 */
#include <string.h>

#include "coord_internal.h"

typedef Milvus__Proto__Common__LoadState load_state;
#define STATE_NOT_EXIST MILVUS__PROTO__COMMON__LOAD_STATE__LoadStateNotExist
#define STATE_NOT_LOAD MILVUS__PROTO__COMMON__LOAD_STATE__LoadStateNotLoad
#define STATE_LOADED MILVUS__PROTO__COMMON__LOAD_STATE__LoadStateLoaded

static bool field_indexed(const cat_coll *c, int64_t field_id) {
  for (size_t i = 0; i < c->n_indexes; i++)
    if (c->indexes[i]->field_id == field_id)
      return true;
  return false;
}

static cairn_status check_indexed(const cat_coll *c, cairn_error *err) {
  for (size_t i = 0; i < c->schema->n_fields; i++) {
    const Milvus__Proto__Schema__FieldSchema *f = c->schema->fields[i];
    if (coord_is_vector_type(f->data_type) && !field_indexed(c, f->fieldid))
      return cairn_error_set(err, CAIRN_INDEX_NOT_FOUND,
                             "there is no vector index on field: [%s], please "
                             "create index firstly: collection=%s",
                             f->name, c->name);
  }
  return CAIRN_OK;
}

static bool has_partition(const cat_coll *c, const char *name) {
  for (size_t i = 0; i < c->n_partitions; i++)
    if (strcmp(c->partitions[i]->name, name) == 0)
      return true;
  return false;
}

static bool in_list(char *const *list, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(list[i], name) == 0)
      return true;
  return false;
}

static cairn_status check_partitions(const cat_coll *c, char *const *names,
                                     size_t n, cairn_error *err) {
  if (n == 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "partition names should not be empty");
  for (size_t i = 0; i < n; i++)
    if (!has_partition(c, names[i]))
      return cairn_error_set(err, CAIRN_PARTITION_NOT_FOUND,
                             "partition not found[collection=%s]"
                             "[partition=%s]",
                             c->name, names[i]);
  return CAIRN_OK;
}

/* Load (or release with load=false) the whole collection or partitions. */
static cairn_status set_load(cairn_rpc_ctx *ctx, const char *db_field,
                             const char *collection, char *const *parts,
                             size_t n_parts, bool whole, bool load,
                             int32_t replicas, cairn_error *err) {
  cat_db *db = NULL;
  cat_coll *c = NULL;
  cairn_status st = coord_collection(ctx, db_field, collection, &db, &c, err);
  if (st == CAIRN_OK && load)
    st = check_indexed(c, err);
  if (st == CAIRN_OK && !whole)
    st = check_partitions(c, parts, n_parts, err);
  if (st != CAIRN_OK)
    return st;
  if (whole) {
    c->load_state = load ? STATE_LOADED : STATE_NOT_LOAD;
    c->n_loaded_partitions = 0;
  } else if (load) {
    char **all = CAIRN_ARENA_NEW(ctx->arena, char *, c->n_loaded_partitions + n_parts);
    size_t k = c->n_loaded_partitions;
    if (k)
      memcpy(all, c->loaded_partitions, k * sizeof *all);
    for (size_t i = 0; i < n_parts; i++)
      if (!in_list(all, k, parts[i]))
        all[k++] = parts[i];
    c->loaded_partitions = all;
    c->n_loaded_partitions = k;
  } else {
    size_t k = 0;
    for (size_t i = 0; i < c->n_loaded_partitions; i++)
      if (!in_list(parts, n_parts, c->loaded_partitions[i]))
        c->loaded_partitions[k++] = c->loaded_partitions[i];
    c->n_loaded_partitions = k;
    if (c->load_state == STATE_LOADED && n_parts > 0)
      c->load_state = STATE_NOT_LOAD; /* partial release of a whole load */
  }
  if (load)
    c->replica_number = replicas > 0 ? replicas : 1;
  st = cairn_catalog_put_collection(coord_of(ctx)->cat, c, err);
  if (st == CAIRN_OK)
    coord_publish_event(coord_of(ctx), c->id);
  return st;
}

static COORD_HANDLER(h_load_collection) {
  const Milvus__Proto__Milvus__LoadCollectionRequest *req =
      (const Milvus__Proto__Milvus__LoadCollectionRequest *)msg;
  cairn_error err = {0};
  cairn_catalog_lock(coord_of(ctx)->cat);
  set_load(ctx, req->db_name, req->collection_name, NULL, 0, true, true,
           req->replica_number, &err);
  cairn_catalog_unlock(coord_of(ctx)->cat);
  return coord_reply_status(ctx, &err, reply);
}

static COORD_HANDLER(h_release_collection) {
  const Milvus__Proto__Milvus__ReleaseCollectionRequest *req =
      (const Milvus__Proto__Milvus__ReleaseCollectionRequest *)msg;
  cairn_error err = {0};
  cairn_catalog_lock(coord_of(ctx)->cat);
  set_load(ctx, req->db_name, req->collection_name, NULL, 0, true, false, 0,
           &err);
  cairn_catalog_unlock(coord_of(ctx)->cat);
  return coord_reply_status(ctx, &err, reply);
}

static COORD_HANDLER(h_load_partitions) {
  const Milvus__Proto__Milvus__LoadPartitionsRequest *req =
      (const Milvus__Proto__Milvus__LoadPartitionsRequest *)msg;
  cairn_error err = {0};
  cairn_catalog_lock(coord_of(ctx)->cat);
  set_load(ctx, req->db_name, req->collection_name, req->partition_names,
           req->n_partition_names, false, true, req->replica_number, &err);
  cairn_catalog_unlock(coord_of(ctx)->cat);
  return coord_reply_status(ctx, &err, reply);
}

static COORD_HANDLER(h_release_partitions) {
  const Milvus__Proto__Milvus__ReleasePartitionsRequest *req =
      (const Milvus__Proto__Milvus__ReleasePartitionsRequest *)msg;
  cairn_error err = {0};
  cairn_catalog_lock(coord_of(ctx)->cat);
  set_load(ctx, req->db_name, req->collection_name, req->partition_names,
           req->n_partition_names, false, false, 0, &err);
  cairn_catalog_unlock(coord_of(ctx)->cat);
  return coord_reply_status(ctx, &err, reply);
}

/* State of the collection, or of the named partitions (all must be loaded). */
static load_state state_of(const cat_coll *c, char *const *parts, size_t n) {
  if (c->load_state == STATE_LOADED)
    return STATE_LOADED;
  if (n == 0)
    return c->n_loaded_partitions > 0 ? STATE_LOADED : STATE_NOT_LOAD;
  for (size_t i = 0; i < n; i++)
    if (!in_list(c->loaded_partitions, c->n_loaded_partitions, parts[i]))
      return STATE_NOT_LOAD;
  return STATE_LOADED;
}

static COORD_HANDLER(h_load_state) {
  const Milvus__Proto__Milvus__GetLoadStateRequest *req =
      (const Milvus__Proto__Milvus__GetLoadStateRequest *)msg;
  cairn_error err = {0};
  Milvus__Proto__Milvus__GetLoadStateResponse *r = CAIRN_ARENA_NEW(
      ctx->arena, Milvus__Proto__Milvus__GetLoadStateResponse, 1);
  milvus__proto__milvus__get_load_state_response__init(r);
  cat_db *db = NULL;
  cat_coll *c = NULL;
  cairn_status st = coord_collection(ctx, req->db_name, req->collection_name,
                                     &db, &c, &err);
  if (st == CAIRN_OK && req->n_partition_names > 0)
    st = check_partitions(c, req->partition_names, req->n_partition_names, &err);
  r->state = st == CAIRN_OK
                 ? state_of(c, req->partition_names, req->n_partition_names)
                 : STATE_NOT_EXIST;
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

static COORD_HANDLER(h_loading_progress) {
  const Milvus__Proto__Milvus__GetLoadingProgressRequest *req =
      (const Milvus__Proto__Milvus__GetLoadingProgressRequest *)msg;
  cairn_error err = {0};
  Milvus__Proto__Milvus__GetLoadingProgressResponse *r = CAIRN_ARENA_NEW(
      ctx->arena, Milvus__Proto__Milvus__GetLoadingProgressResponse, 1);
  milvus__proto__milvus__get_loading_progress_response__init(r);
  cat_db *db = NULL;
  cat_coll *c = NULL;
  cairn_status st = coord_collection(ctx, req->db_name, req->collection_name,
                                     &db, &c, &err);
  if (st == CAIRN_OK && req->n_partition_names > 0)
    st = check_partitions(c, req->partition_names, req->n_partition_names, &err);
  /* A collection that is not loaded answers an error rather than 0 %: the
   * Node SDK polls progress without a timeout (PROTOCOL.md §5). */
  if (st == CAIRN_OK &&
      state_of(c, req->partition_names, req->n_partition_names) != STATE_LOADED)
    cairn_error_set(&err, CAIRN_COLLECTION_NOT_LOADED,
                    "collection not loaded[collection=%s]", c->name);
  else if (st == CAIRN_OK)
    r->progress = r->refresh_progress = 100;
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

const cairn_rpc_method coord_load_methods[] = {
    {"LoadCollection", h_load_collection},
    {"ReleaseCollection", h_release_collection},
    {"LoadPartitions", h_load_partitions},
    {"ReleasePartitions", h_release_partitions},
    {"GetLoadState", h_load_state},
    {"GetLoadingProgress", h_loading_progress},
    {NULL, NULL},
};
