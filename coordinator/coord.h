/*
 * coord.h — the coordinator role: catalogue (databases, collections,
 * partitions, aliases, index definitions, load state), TSO and ID
 * allocation, served as cairn.internal.CoordService (DESIGN §1).
 *
 * The service's DDL methods take the public Milvus request messages, like
 * Milvus's root coordinator; the proxy forwards them after checking the
 * caller. In standalone the proxy calls this service through the direct
 * transport (no serialisation); in a cluster over gRPC.
 *
 * Ownership: the coordinator borrows the meta store (the caller opens and
 * closes it, and it must outlive the coordinator).
 */
#ifndef CAIRN_COORD_H
#define CAIRN_COORD_H

#include <stdbool.h>

#include "cluster.h"
#include "meta.h"
#include "rpc.h"
#include "status.h"

typedef struct cairn_coord cairn_coord;

typedef struct cairn_coord_options {
  int max_databases;           /* default 64 */
  int max_collections;         /* per cluster, default 65536 */
  int max_fields;              /* per collection, default 64 */
  int max_vector_fields;       /* per collection, default 4 */
  int max_shards;              /* default 16 */
  int max_partitions;          /* per collection, default 1024 */
  int64_t max_dim;             /* default 32768 */
  bool publish_events;         /* cluster: put cluster/event/{id} when a
                                  collection's segments, indexes or load
                                  state change (core/cluster.h) */
} cairn_coord_options;

/* Defaults for every option. */
void cairn_coord_options_default(cairn_coord_options *opts);
cairn_status cairn_coord_open(cairn_meta *meta, const cairn_coord_options *opts,
                              cairn_coord **out, cairn_error *err);
void cairn_coord_close(cairn_coord *coord);
/* The CoordService; owned by the coordinator. */
cairn_rpc_service *cairn_coord_service(cairn_coord *coord);
/* The catalogue version (cairn_catalog_version): moves after every
 * catalogue write of this coordinator. */
uint64_t cairn_coord_catalog_version(cairn_coord *coord);

/* ---- cluster: assignment of work to nodes (coord_assign.c) ---- */

typedef struct cairn_coord_assigner cairn_coord_assigner;

/* Start assigning channels to datanodes and loaded collections to
 * querynodes, as the leader whose leader key holds leader_value. The view
 * is borrowed. */
cairn_status cairn_coord_assign_start(cairn_coord *coord,
                                      cairn_cluster_view *view,
                                      const char *leader_value,
                                      cairn_coord_assigner **out,
                                      cairn_error *err);
/* Run a pass soon (the view changed). NULL is allowed. */
void cairn_coord_assign_kick(cairn_coord_assigner *a);
void cairn_coord_assign_stop(cairn_coord_assigner *a);

#endif
