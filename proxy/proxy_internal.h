/*
 * proxy_internal.h — what the proxy's handler files share: the proxy
 * struct, calls to the coordinator, and the resolved view of a collection a
 * data request addresses. Not for use outside proxy/.
 */
#ifndef CAIRN_PROXY_INTERNAL_H
#define CAIRN_PROXY_INTERNAL_H

#include <stdatomic.h>

#include "milvus.pb-c.h"
#include "milvus_util.h"
#include "proxy.h"
#include "schema.h"

typedef struct proxy_cache proxy_cache;
typedef struct proxy_cached proxy_cached;

struct cairn_proxy {
  cairn_rpc_client *coord;         /* borrowed */
  /* Catalogue version (cairn_proxy_options); NULL: no cache. */
  uint64_t (*catalog_version)(void *ctx);
  void *catalog_version_ctx;
  bool catalog_version_lags;       /* row writes do not use the cache */
  proxy_cache *cache;              /* owned; NULL without a version */
  cairn_rpc_service *service;
  const char *deploy_mode;
  cairn_mq *mq;                    /* borrowed; NULL: no data path */
  const cairn_dataplane_ops *data; /* NULL: no data path */
  void *data_ctx;
  _Atomic int64_t next_identifier; /* Connect identifiers, never 0 */
};

#define PROXY_HANDLER(fn)                                                      \
  cairn_grpc_code fn(cairn_rpc_ctx *ctx, const ProtobufCMessage *msg,          \
                     ProtobufCMessage **reply)

static inline cairn_proxy *proxy_of(cairn_rpc_ctx *ctx) {
  return (cairn_proxy *)ctx->user;
}

/* Call CoordService.<method> with req; *reply of type reply_desc in the
 * arena. A transport failure or a non-success Status in the reply becomes
 * the returned status and err (the coordinator's message kept). */
cairn_status proxy_coord_call(cairn_rpc_ctx *ctx, const char *method,
                              const ProtobufCMessage *req,
                              const ProtobufCMessageDescriptor *reply_desc,
                              ProtobufCMessage **reply, cairn_error *err);
/* A reply of type desc carrying only an error status (or NULL on OOM). */
ProtobufCMessage *proxy_error_reply(cairn_arena *arena,
                                    const ProtobufCMessageDescriptor *desc,
                                    const cairn_error *err);
/* Forward the request unchanged to the coordinator method of the same name. */
cairn_grpc_code proxy_forward(cairn_rpc_ctx *ctx, const ProtobufCMessage *msg,
                              ProtobufCMessage **reply);
/* The status of a forwarded reply (its `status` field, or itself). */
const mpb_status *proxy_reply_status(const ProtobufCMessage *reply);

/* A collection as a data request sees it. Fetched, its pointers are in
 * the request's arena and the schema is its own; from the cache, they
 * point into the cache entry, which the request's arena keeps alive. Read
 * only either way. */
typedef struct proxy_coll {
  const char *db;
  Milvus__Proto__Milvus__DescribeCollectionResponse *desc;
  cairn_schema *schema;    /* owned unless cached: proxy_coll_release */
  int64_t id;
  size_t n_partitions;
  char **partition_names;
  int64_t *partition_ids;
  int64_t *partition_in_memory; /* loaded percentage of each: 0 or 100 */
  const proxy_cached *cached; /* NULL: fetched for this request */
} proxy_coll;

/* Resolve a collection by name (or alias) in the request's database, with
 * its partitions. */
cairn_status proxy_coll_open(cairn_rpc_ctx *ctx, const char *db_field,
                             const char *name, proxy_coll *out,
                             cairn_error *err);
/* The same for a request that writes rows: from the cache only where its
 * version is exact (cairn_proxy_options.catalog_version_lags). */
cairn_status proxy_coll_open_for_write(cairn_rpc_ctx *ctx, const char *db_field,
                                       const char *name, proxy_coll *out,
                                       cairn_error *err);
void proxy_coll_release(proxy_coll *c);
/* Always from the coordinator: the collection without its partitions; its
 * partitions; the load state (cf. proxy_check_loaded); the metric of the
 * field's vector index (else an error naming the field). */
cairn_status proxy_coll_fetch(cairn_rpc_ctx *ctx, const char *db_field,
                              const char *name, proxy_coll *out,
                              cairn_error *err);
cairn_status proxy_partitions_fetch(
    cairn_rpc_ctx *ctx, const proxy_coll *c,
    Milvus__Proto__Milvus__ShowPartitionsResponse **out, cairn_error *err);
cairn_status proxy_check_loaded_fetch(cairn_rpc_ctx *ctx, const proxy_coll *c,
                                      char *const *partitions, size_t n,
                                      cairn_error *err);
cairn_status proxy_index_metric_fetch(cairn_rpc_ctx *ctx, const proxy_coll *c,
                                      const cairn_field *f, const char **metric,
                                      cairn_error *err);
/* The same through the cache when c came from it. */
cairn_status proxy_index_metric(cairn_rpc_ctx *ctx, const proxy_coll *c,
                                const cairn_field *f, const char **metric,
                                cairn_error *err);

/* The collection cache (proxy_cache.c). */
cairn_status proxy_cache_new(proxy_cache **out, cairn_error *err);
void proxy_cache_free(proxy_cache *cache);
/* Forget every entry: called after each catalogue write this proxy
 * forwarded (whatever its outcome), so that its own client's next request
 * sees the change even before the catalogue's version moves. */
void proxy_cache_forget(proxy_cache *cache);
/* proxy_coll_open through the cache (partitions included). */
cairn_status proxy_cache_open(cairn_rpc_ctx *ctx, const char *db_field,
                              const char *name, proxy_coll *out,
                              cairn_error *err);
bool proxy_cached_loaded(const proxy_cached *e);
cairn_status proxy_cached_metric(const proxy_cached *e, const cairn_field *f,
                                 const char **metric, cairn_error *err);
/* Partition id by name, or -1. */
int64_t proxy_partition_id(const proxy_coll *c, const char *name);
/* The partitions a read covers (c's partitions loaded): those named, each
 * of which must exist, or with none named every loaded partition, so rows
 * of a dropped partition or of one not loaded are never read. *ids is in
 * the request's arena. */
cairn_status proxy_read_scope(cairn_rpc_ctx *ctx, const proxy_coll *c,
                              char *const *names, size_t n, int64_t **ids,
                              size_t *n_ids, cairn_error *err);
/* The data path is configured, else a clear error. */
cairn_status proxy_need_data(cairn_rpc_ctx *ctx, cairn_error *err);
/* Whether the collection is loaded (whole, or all partitions named). */
cairn_status proxy_check_loaded(cairn_rpc_ctx *ctx, const proxy_coll *c,
                                char *const *partitions, size_t n,
                                cairn_error *err);

/* Handlers by file. */
PROXY_HANDLER(proxy_insert);
PROXY_HANDLER(proxy_upsert);
PROXY_HANDLER(proxy_delete);
PROXY_HANDLER(proxy_flush);
PROXY_HANDLER(proxy_flush_state);
PROXY_HANDLER(proxy_search);
PROXY_HANDLER(proxy_hybrid_search);
PROXY_HANDLER(proxy_query);
/* Catalogue calls with data-path side effects (proxy_hooks.c). */
PROXY_HANDLER(proxy_create_collection);
PROXY_HANDLER(proxy_drop_collection);
PROXY_HANDLER(proxy_drop_partition);
PROXY_HANDLER(proxy_load_collection);
PROXY_HANDLER(proxy_load_partitions);
PROXY_HANDLER(proxy_release_collection);
PROXY_HANDLER(proxy_loading_progress);
PROXY_HANDLER(proxy_load_state);
PROXY_HANDLER(proxy_create_index);
PROXY_HANDLER(proxy_collection_statistics);

#endif
