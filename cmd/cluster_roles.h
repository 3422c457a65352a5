/*
 * cluster_roles.h — the parts of a role process that exist only in a cluster
 * (cluster_roles.c, cluster_proxy.c): the coordinator's election and assignment
 * loop, the datanode / indexnode / querynode processes following their
 * assignments, and the proxy's data path over gRPC.
 *
 * Every cluster process has a session in the meta store (etcd) and a live
 * cluster view (core/cluster.h); the coordinator client of every role
 * resolves the active coordinator through the view, so a failover needs no
 * configuration change.
 *
 * Life cycle of each: open (before the gRPC server starts: builds what the
 * server serves), register (after it started: the bound address goes into
 * the session), close (after the server stopped).
 */
#ifndef CAIRN_CLUSTER_ROLES_H
#define CAIRN_CLUSTER_ROLES_H

#include "config.h"
#include "meta.h"
#include "proxy.h"
#include "rpc.h"
#include "status.h"

/* The address this process advertises: node.advertiseAddress, else
 * grpc.host (or the hostname for a wildcard host) with the bound port.
 * Writes into buf. */
void cluster_advertise_address(const cairn_config *cfg, int port, char *buf,
                               size_t len);

/* ---- coordinator ---- */

typedef struct cluster_coord cluster_coord;

cairn_status cluster_coord_open(const cairn_config *cfg, cairn_meta *meta,
                                cluster_coord **out, cairn_error *err);
/* The CoordService as served: UNAVAILABLE ("standby") until this process
 * wins the election, then the coordinator's own. */
cairn_rpc_service *cluster_coord_service(cluster_coord *c);
/* Register the session and campaign in the background. */
cairn_status cluster_coord_register(cluster_coord *c, const char *address,
                                    cairn_error *err);
void cluster_coord_close(cluster_coord *c);

/* ---- datanode, indexnode, querynode ---- */

typedef enum cluster_node_role {
  CLUSTER_DATANODE,
  CLUSTER_INDEXNODE,
  CLUSTER_QUERYNODE,
} cluster_node_role;

typedef struct cluster_node cluster_node;

cairn_status cluster_node_open(cluster_node_role role, const cairn_config *cfg,
                               cairn_meta *meta, cluster_node **out,
                               cairn_error *err);
/* The node's gRPC service (NULL for the indexnode, which serves none). */
cairn_rpc_service *cluster_node_service(cluster_node *n);
/* Register the session and start following assignments and events. */
cairn_status cluster_node_register(cluster_node *n, const char *address,
                                   cairn_error *err);
void cluster_node_close(cluster_node *n);

/* ---- proxy ---- */

typedef struct cluster_proxy cluster_proxy;

cairn_status cluster_proxy_open(const cairn_config *cfg, cairn_meta *meta,
                                cluster_proxy **out, cairn_error *err);
/* The coordinator client (resolving), the log, and the data path the
 * proxy uses; all owned by the cluster_proxy. */
cairn_rpc_client *cluster_proxy_coord(cluster_proxy *p);
cairn_mq *cluster_proxy_mq(cluster_proxy *p);
/* The catalogue's version as a watch follows it (meta_version.h); p is the
 * cluster_proxy (cairn_proxy_options.catalog_version). */
uint64_t cluster_proxy_catalog_version(void *p);
const cairn_dataplane_ops *cluster_proxy_ops(void);
cairn_status cluster_proxy_register(cluster_proxy *p, const char *address,
                                    cairn_error *err);
void cluster_proxy_close(cluster_proxy *p);

/* Shared by the files above (cluster_roles.c). */
cairn_status cluster_open_mq(const cairn_config *cfg, cairn_mq **out,
                             cairn_error *err);
cairn_status cluster_open_objstore(const cairn_config *cfg,
                                   cairn_objstore **out, cairn_error *err);
/* A client for the active coordinator, resolved through view. */
struct cairn_cluster_view;
cairn_status cluster_coord_client(const cairn_config *cfg,
                                  struct cairn_cluster_view *view,
                                  cairn_rpc_client **out, cairn_error *err);

#endif
