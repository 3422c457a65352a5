/*
 * proxy.h — the proxy role: serves milvus.proto.milvus.MilvusService to the
 * SDKs (DESIGN §1, PROTOCOL.md).
 *
 * The proxy is stateless. Session calls (Connect, GetVersion, CheckHealth)
 * are answered here; catalogue calls are checked, given their database from
 * the "dbname" header, and forwarded to the coordinator's CoordService
 * through a cairn_rpc_client (direct in standalone, gRPC in a cluster).
 * Methods the proxy does not serve answer gRPC UNIMPLEMENTED.
 *
 * Ownership: the proxy borrows the coordinator client, which must outlive it.
 */
#ifndef CAIRN_PROXY_H
#define CAIRN_PROXY_H

#include "arena.h"
#include "mq.h"
#include "querynode.h"
#include "rpc.h"
#include "status.h"

typedef struct cairn_proxy cairn_proxy;

/*
 * The data roles as the proxy sees them. Standalone implements these with
 * direct calls into the in-process datanode, indexnode and querynode
 * (cmd/standalone_data.c); a cluster implements them with RPC clients. The
 * proxy only includes the querynode header for the request types; it links
 * no other role. Every function may be called from any thread.
 */
typedef struct cairn_dataplane_ops {
  /* A collection was created / dropped in the catalogue. */
  cairn_status (*collection_created)(void *ctx, int64_t collection_id,
                                     cairn_error *err);
  cairn_status (*collection_dropped)(void *ctx, int64_t collection_id,
                                     cairn_error *err);
  /* A partition was dropped in the catalogue (remove its rows' objects). */
  cairn_status (*partition_dropped)(void *ctx, int64_t collection_id,
                                    int64_t partition_id, cairn_error *err);
  /* An index definition was created (schedule builds). */
  cairn_status (*index_created)(void *ctx, int64_t collection_id,
                                cairn_error *err);
  /* Load / release a collection on the querynodes; progress 0..100, -1. */
  cairn_status (*load)(void *ctx, int64_t collection_id, cairn_error *err);
  int (*load_progress)(void *ctx, int64_t collection_id, cairn_error *err);
  cairn_status (*release)(void *ctx, int64_t collection_id, cairn_error *err);
  /* Seal and flush; *segment_ids (malloc'd, caller frees) are the
   * collection's sealed segments after the flush. */
  cairn_status (*flush)(void *ctx, int64_t collection_id, int64_t **segment_ids,
                        size_t *n, cairn_error *err);
  /* Rows consumed by datanodes but not yet in sealed segments. */
  uint64_t (*growing_rows)(void *ctx, int64_t collection_id);
  cairn_status (*search)(void *ctx, const cairn_qn_search *req,
                         cairn_arena *arena,
                         Milvus__Proto__Schema__SearchResultData **out,
                         cairn_error *err);
  cairn_status (*query)(void *ctx, const cairn_qn_query *req, cairn_arena *arena,
                        Milvus__Proto__Schema__FieldData ***fields,
                        size_t *n_fields, size_t *n_rows, cairn_error *err);
  cairn_status (*count)(void *ctx, int64_t collection_id, bool strong,
                        uint64_t *rows, cairn_error *err);
} cairn_dataplane_ops;

typedef struct cairn_proxy_options {
  const char *deploy_mode; /* "STANDALONE" or "CLUSTER" */
  cairn_mq *mq;            /* the log the proxy writes to; NULL: no data path */
  const cairn_dataplane_ops *data; /* NULL: no data path */
  void *data_ctx;
  /* The catalogue's version: the proxy keeps the collections it resolves
   * while it is unchanged (proxy_cache.c). NULL: every request asks the
   * coordinator. Exact where the coordinator in this process is the
   * catalogue's only writer (standalone: cairn_coord_catalog_version);
   * in a cluster it follows the catalogue through a watch
   * (cairn_meta_version), which learns of another process's write a moment
   * after it returned: set catalog_version_lags, and requests that write
   * rows (Insert, Upsert, Delete, Flush) then ask the coordinator every
   * time, so rows never go to a collection dropped through another proxy. */
  uint64_t (*catalog_version)(void *ctx);
  void *catalog_version_ctx;
  bool catalog_version_lags;
} cairn_proxy_options;

cairn_status cairn_proxy_new(cairn_rpc_client *coord,
                             const cairn_proxy_options *opts,
                             cairn_proxy **out, cairn_error *err);
void cairn_proxy_free(cairn_proxy *proxy);
/* The MilvusService; owned by the proxy. */
cairn_rpc_service *cairn_proxy_service(cairn_proxy *proxy);

/* The version the proxy reports in GetVersion: the Milvus protocol level it
 * speaks. Cairn's own version travels in ConnectResponse.server_info. */
#define CAIRN_MILVUS_COMPAT_VERSION "v2.5.0"

#endif
