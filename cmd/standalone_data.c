/*
 * standalone_data.c — wires the data roles of `cairn standalone` together:
 * the embedded log (dataDir/wal) and local object store (dataDir/objects),
 * one datanode, one indexnode and one querynode, all in-process. Implements
 * the proxy's cairn_dataplane_ops with direct calls, and the events between
 * roles: a recorded flush schedules index builds and refreshes the
 * querynode; a built index refreshes the querynode.
 *
 * Start-up resumes the catalogue: every collection is watched by the
 * datanode, every collection the catalogue says is loaded is loaded again
 * (DESIGN: "loaded collections loaded again" after kill -9), and missing
 * index files are scheduled.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datanode.h"
#include "indexnode.h"
#include "log.h"
#include "milvus.pb-c.h"
#include "mq_kafka.h"
#include "objstore_s3.h"
#include "querynode.h"
#include "standalone_data.h"

struct standalone_data {
  cairn_mq *mq;
  cairn_objstore *objstore;
  cairn_datanode *dn;
  cairn_indexnode *in;
  cairn_querynode *qn;
  cairn_rpc_client *coord; /* borrowed */
};

/* ---- events between roles ---- */

static void on_flushed(void *user, int64_t collection_id) {
  standalone_data *d = user;
  cairn_error err = {0};
  if (cairn_indexnode_schedule(d->in, collection_id, &err) != CAIRN_OK)
    cairn_log_warn("index builds for collection %" PRId64 ": %s", collection_id,
                   err.message);
  if (cairn_querynode_progress(d->qn, collection_id, &err) >= 0 &&
      cairn_querynode_refresh(d->qn, collection_id, &err) != CAIRN_OK)
    cairn_log_warn("refresh of collection %" PRId64 ": %s", collection_id,
                   err.message);
}

static void on_built(void *user, int64_t collection_id) {
  standalone_data *d = user;
  cairn_error err = {0};
  if (cairn_querynode_progress(d->qn, collection_id, &err) >= 0 &&
      cairn_querynode_refresh(d->qn, collection_id, &err) != CAIRN_OK)
    cairn_log_warn("refresh of collection %" PRId64 ": %s", collection_id,
                   err.message);
}

/* ---- cairn_dataplane_ops ---- */

static cairn_status op_created(void *ctx, int64_t id, cairn_error *err) {
  return cairn_datanode_watch(((standalone_data *)ctx)->dn, id, err);
}

static cairn_status op_dropped(void *ctx, int64_t id, cairn_error *err) {
  standalone_data *d = ctx;
  cairn_error ignored = {0};
  cairn_querynode_release(d->qn, id, &ignored);
  return cairn_datanode_drop(d->dn, id, err);
}

/* The querynode refreshes first: a partially loaded collection drops the
 * partition's rows before their files go. */
static cairn_status op_partition_dropped(void *ctx, int64_t id, int64_t partition,
                                         cairn_error *err) {
  standalone_data *d = ctx;
  cairn_error ignored = {0}; /* not loaded: nothing to refresh */
  cairn_querynode_refresh(d->qn, id, &ignored);
  return cairn_datanode_drop_partition(d->dn, id, partition, err);
}

static cairn_status op_index_created(void *ctx, int64_t id, cairn_error *err) {
  return cairn_indexnode_schedule(((standalone_data *)ctx)->in, id, err);
}

static cairn_status op_load(void *ctx, int64_t id, cairn_error *err) {
  return cairn_querynode_load(((standalone_data *)ctx)->qn, id, err);
}

static int op_progress(void *ctx, int64_t id, cairn_error *err) {
  return cairn_querynode_progress(((standalone_data *)ctx)->qn, id, err);
}

static cairn_status op_release(void *ctx, int64_t id, cairn_error *err) {
  return cairn_querynode_release(((standalone_data *)ctx)->qn, id, err);
}

static cairn_status op_flush(void *ctx, int64_t id, int64_t **segs, size_t *n,
                             cairn_error *err) {
  return cairn_datanode_flush(((standalone_data *)ctx)->dn, id, segs, n, err);
}

static uint64_t op_growing(void *ctx, int64_t id) {
  return cairn_datanode_growing_rows(((standalone_data *)ctx)->dn, id);
}

static cairn_status op_search(void *ctx, const cairn_qn_search *req,
                              cairn_arena *arena,
                              Milvus__Proto__Schema__SearchResultData **out,
                              cairn_error *err) {
  return cairn_querynode_search(((standalone_data *)ctx)->qn, req, arena, out, err);
}

static cairn_status op_query(void *ctx, const cairn_qn_query *req,
                             cairn_arena *arena,
                             Milvus__Proto__Schema__FieldData ***fields,
                             size_t *n_fields, size_t *n_rows, cairn_error *err) {
  return cairn_querynode_query(((standalone_data *)ctx)->qn, req, arena, fields,
                               n_fields, n_rows, err);
}

static cairn_status op_count(void *ctx, int64_t id, bool strong, uint64_t *rows,
                             cairn_error *err) {
  return cairn_querynode_count(((standalone_data *)ctx)->qn, id, strong, rows, err);
}

static const cairn_dataplane_ops ops = {
    .collection_created = op_created,
    .collection_dropped = op_dropped,
    .partition_dropped = op_partition_dropped,
    .index_created = op_index_created,
    .load = op_load,
    .load_progress = op_progress,
    .release = op_release,
    .flush = op_flush,
    .growing_rows = op_growing,
    .search = op_search,
    .query = op_query,
    .count = op_count,
};

const cairn_dataplane_ops *standalone_data_ops(void) { return &ops; }
cairn_mq *standalone_data_mq(standalone_data *d) { return d->mq; }

/* ---- start-up ---- */

static cairn_status call(standalone_data *d, cairn_arena *arena,
                         const char *method, const ProtobufCMessage *req,
                         const ProtobufCMessageDescriptor *out_desc,
                         ProtobufCMessage **out, const char *db,
                         cairn_error *err) {
  char path[128];
  snprintf(path, sizeof path, "/cairn.internal.CoordService/%s", method);
  cairn_rpc_call_opts opts = {.dbname = db};
  return cairn_rpc_call(d->coord, path, req, out_desc, &opts, arena, out, err);
}

/* Resume one database's collections. */
static cairn_status resume_db(standalone_data *d, cairn_arena *arena,
                              const char *db, cairn_error *err) {
  Milvus__Proto__Milvus__ShowCollectionsRequest req =
      MILVUS__PROTO__MILVUS__SHOW_COLLECTIONS_REQUEST__INIT;
  req.db_name = (char *)db;
  ProtobufCMessage *out = NULL;
  cairn_status st =
      call(d, arena, "ShowCollections", &req.pb_base,
           &milvus__proto__milvus__show_collections_response__descriptor, &out,
           db, err);
  if (st != CAIRN_OK)
    return st;
  Milvus__Proto__Milvus__ShowCollectionsResponse *r =
      (Milvus__Proto__Milvus__ShowCollectionsResponse *)out;
  for (size_t i = 0; st == CAIRN_OK && i < r->n_collection_ids; i++) {
    int64_t id = r->collection_ids[i];
    st = cairn_datanode_watch(d->dn, id, err);
    if (st == CAIRN_OK)
      st = cairn_indexnode_schedule(d->in, id, err);
    if (st == CAIRN_OK && i < r->n_inmemory_percentages &&
        r->inmemory_percentages[i] > 0)
      st = cairn_querynode_load(d->qn, id, err);
  }
  return st;
}

static cairn_status resume(standalone_data *d, cairn_error *err) {
  cairn_arena *arena = cairn_arena_new();
  Milvus__Proto__Milvus__ListDatabasesRequest req =
      MILVUS__PROTO__MILVUS__LIST_DATABASES_REQUEST__INIT;
  ProtobufCMessage *out = NULL;
  cairn_status st =
      call(d, arena, "ListDatabases", &req.pb_base,
           &milvus__proto__milvus__list_databases_response__descriptor, &out,
           NULL, err);
  if (st == CAIRN_OK) {
    Milvus__Proto__Milvus__ListDatabasesResponse *r =
        (Milvus__Proto__Milvus__ListDatabasesResponse *)out;
    for (size_t i = 0; st == CAIRN_OK && i < r->n_db_names; i++)
      st = resume_db(d, arena, r->db_names[i], err);
  }
  cairn_arena_free(arena);
  return st;
}

/* Location of a backend: a path under dataDir for the embedded ones, a
 * string built from the backend's config section for the distributed ones.
 * *owned (malloc'd) is set when the location had to be built. */
static cairn_status store_location(const cairn_config *cfg, const char *backend,
                                   const char *subdir, char *buf, size_t len,
                                   char **owned, cairn_error *err) {
  *owned = NULL;
  if (strcmp(backend, "kafka") == 0)
    return cairn_mq_kafka_location(cfg, owned, err);
  if (strcmp(backend, "s3") == 0)
    return cairn_objstore_s3_location_from_config(cfg, owned, err);
  snprintf(buf, len, "%s/%s", cairn_config_string(cfg, "dataDir"), subdir);
  return CAIRN_OK;
}

static cairn_status open_stores(standalone_data *d, const cairn_config *cfg,
                                cairn_error *err) {
  const char *mq = cairn_config_string(cfg, "mq.backend");
  const char *obj = cairn_config_string(cfg, "objstore.backend");
  char path[4096];
  char *owned = NULL;
  cairn_status st = store_location(cfg, mq, "wal", path, sizeof path, &owned, err);
  if (st == CAIRN_OK)
    st = cairn_mq_open(mq, owned ? owned : path, &d->mq, err);
  free(owned);
  owned = NULL;
  if (st == CAIRN_OK)
    st = store_location(cfg, obj, "objects", path, sizeof path, &owned, err);
  if (st == CAIRN_OK)
    st = cairn_objstore_open(obj, owned ? owned : path, &d->objstore, err);
  free(owned);
  return st;
}

static cairn_status open_roles(standalone_data *d, const cairn_config *cfg,
                               cairn_error *err) {
  const char *root = cairn_config_string(cfg, "objstore.rootPath");
  cairn_datanode_options dn = {
      .mq = d->mq, .objstore = d->objstore, .coord = d->coord, .root = root,
      .seal_rows = (uint64_t)cairn_config_int(cfg, "dataNode.sealRows"),
      .seal_bytes = (uint64_t)cairn_config_size(cfg, "dataNode.sealBytes"),
      .seal_age_ms = cairn_config_duration_ms(cfg, "dataNode.sealAge"),
      .on_flushed = on_flushed, .on_flushed_user = d};
  cairn_indexnode_options in = {
      .objstore = d->objstore, .coord = d->coord, .root = root,
      .workers = (int)cairn_config_int(cfg, "indexNode.workers"),
      .on_built = on_built, .on_built_user = d};
  cairn_querynode_options qn = {
      .mq = d->mq, .objstore = d->objstore, .coord = d->coord,
      .search_threads = (int)cairn_config_int(cfg, "queryNode.searchThreads")};
  cairn_status st = cairn_querynode_open(&qn, &d->qn, err);
  if (st == CAIRN_OK)
    st = cairn_indexnode_open(&in, &d->in, err);
  if (st == CAIRN_OK)
    st = cairn_datanode_open(&dn, &d->dn, err);
  return st;
}

cairn_status standalone_data_open(const cairn_config *cfg,
                                  cairn_rpc_client *coord,
                                  standalone_data **out, cairn_error *err) {
  *out = NULL;
  standalone_data *d = calloc(1, sizeof *d);
  if (d == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  d->coord = coord;
  cairn_status st = open_stores(d, cfg, err);
  if (st == CAIRN_OK)
    st = open_roles(d, cfg, err);
  if (st == CAIRN_OK)
    st = resume(d, err);
  if (st != CAIRN_OK) {
    standalone_data_close(d);
    return st;
  }
  *out = d;
  return CAIRN_OK;
}

void standalone_data_close(standalone_data *d) {
  if (d == NULL)
    return;
  /* Producers of events first: the datanode feeds the indexnode and the
   * querynode. */
  cairn_datanode_close(d->dn);
  cairn_indexnode_close(d->in);
  cairn_querynode_close(d->qn);
  cairn_objstore_close(d->objstore);
  cairn_mq_close(d->mq);
  free(d);
}
