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

#include "rpc.h"
#include "status.h"

typedef struct cairn_proxy cairn_proxy;

typedef struct cairn_proxy_options {
  const char *deploy_mode; /* "STANDALONE" or "CLUSTER" */
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
