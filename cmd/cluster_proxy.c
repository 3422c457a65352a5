/*
 * cluster_proxy.c — the proxy's data path in a cluster (cluster_roles.h):
 * cairn_dataplane_ops over gRPC to the nodes the coordinator assigned.
 *
 * Routing comes from the cluster view: cluster/assign/datanode/{coll} names
 * the datanode for Flush and growing-row counts, cluster/assign/querynode/
 * {coll}/{replica} the querynodes holding the collection; a node id maps to
 * an address through its session. Reads go to one replica, chosen round
 * robin, and fall over to the next replica when a node is unreachable or
 * no longer holds the collection; with none left the call fails with the
 * last reason. Calls that wait for the coordinator (a flush right after the
 * collection was created, a read right after a node died) retry until the
 * assignment appears or ROUTE_WAIT_MS passes.
 *
 * Collection creation, drops, index definitions, loads and releases need
 * no call here: the coordinator acts on its catalogue (coord_assign.c) and
 * the nodes follow.
 *
 * Clients: one gRPC client per node address, kept for the proxy's life.
 *
 * Catalogue version: a watch of the catalogue's records in etcd (all but
 * segments and checkpoints, catalog.h) through cairn_meta_version; the
 * proxy caches the collections it resolves against it (proxy_cache.c),
 * which spares a Search its four coordinator calls. The watch learns of
 * another proxy's DDL a moment after it returned, so row writes skip the
 * cache (cairn_proxy_options.catalog_version_lags).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn_cluster.pb-c.h"
#include "catalog.h"
#include "cluster.h"
#include "cluster_roles.h"
#include "log.h"
#include "meta_version.h"
#include "milvus_util.h"
#include "qn_wire.h"

#define ROUTE_WAIT_MS 15000
#define RETRY_PAUSE_MS 200
#define MAX_REPLICAS 64

typedef struct node_client {
  char *address;
  cairn_rpc_client *client;
  struct node_client *next;
} node_client;

struct cluster_proxy {
  const cairn_config *cfg;
  cairn_meta *meta; /* borrowed */
  cairn_mq *mq;
  cairn_cluster_view *view;
  cairn_rpc_client *coord;
  cairn_session *session;
  cairn_meta_version *catalog; /* the catalogue's version */
  pthread_mutex_t mu; /* guards clients */
  node_client *clients;
  atomic_uint next_replica;
};

/* ---- routing ---- */

static void pause_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

static cairn_rpc_client *client_for(cluster_proxy *p, const char *address,
                                    cairn_error *err) {
  pthread_mutex_lock(&p->mu);
  node_client *c = p->clients;
  while (c != NULL && strcmp(c->address, address) != 0)
    c = c->next;
  if (c == NULL && (c = calloc(1, sizeof *c)) != NULL) {
    c->address = strdup(address);
    if (c->address == NULL ||
        cairn_rpc_client_new_grpc(
            address, (size_t)cairn_config_size(p->cfg, "grpc.maxMessageSize"),
            &c->client, err) != CAIRN_OK) {
      free(c->address);
      free(c);
      c = NULL;
    } else {
      c->next = p->clients;
      p->clients = c;
    }
  }
  pthread_mutex_unlock(&p->mu);
  return c ? c->client : NULL;
}

/* Addresses of the nodes assigned under prefix (datanode: one; querynode:
 * one per replica), live ones only. Returns how many (at most cap). */
static size_t route(cluster_proxy *p, const char *prefix, char **addrs,
                    size_t cap) {
  cairn_cluster_entry *e = NULL;
  size_t n = cairn_cluster_view_list(p->view, prefix, &e), k = 0;
  for (size_t i = 0; i < n && k < cap; i++) {
    char *addr = cairn_cluster_view_node_address(p->view,
                                                 strtoll(e[i].value, NULL, 10));
    if (addr != NULL)
      addrs[k++] = addr;
  }
  cairn_cluster_entries_free(e, n);
  return k;
}

static void free_addrs(char **addrs, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(addrs[i]);
}

/* One call to a node; the reply's Status (first field "status" of every
 * cluster reply) is checked into err. */
static cairn_status node_call(cluster_proxy *p, const char *address,
                              const char *method, const ProtobufCMessage *req,
                              const ProtobufCMessageDescriptor *reply_desc,
                              cairn_arena *arena, ProtobufCMessage **reply,
                              cairn_error *err) {
  cairn_rpc_client *c = client_for(p, address, err);
  if (c == NULL)
    return err->status != CAIRN_OK ? err->status
                                   : cairn_error_set(err, CAIRN_NOMEM, NULL);
  cairn_status st = cairn_rpc_call(c, method, req, reply_desc, NULL, arena,
                                   reply, err);
  if (st != CAIRN_OK)
    return st;
  /* Every cluster reply has its common.Status as field 1. */
  const ProtobufCFieldDescriptor *f = &reply_desc->fields[0];
  const mpb_status *s = *(const mpb_status *const *)((const char *)*reply + f->offset);
  return cairn_pb_status_check(s, method, err);
}

/* Whether another replica (or a later try) may succeed. */
static bool worth_retrying(cairn_status st) {
  return st == CAIRN_NOT_READY || st == CAIRN_COLLECTION_NOT_LOADED;
}

/* Call the collection's querynodes until one answers: replicas round
 * robin, then again while the assignment settles, up to ROUTE_WAIT_MS. */
static cairn_status read_call(cluster_proxy *p, int64_t coll, const char *method,
                              const ProtobufCMessage *req,
                              const ProtobufCMessageDescriptor *reply_desc,
                              cairn_arena *arena, ProtobufCMessage **reply,
                              cairn_error *err) {
  char prefix[128];
  snprintf(prefix, sizeof prefix, CAIRN_CLUSTER_ASSIGN_QN_PREFIX "%" PRId64 "/",
           coll);
  int64_t give_up = cairn_rpc_now_ms() + ROUTE_WAIT_MS;
  for (;;) {
    char *addrs[MAX_REPLICAS];
    size_t n = route(p, prefix, addrs, MAX_REPLICAS);
    cairn_status st = n == 0 ? cairn_error_set(
                                   err, CAIRN_COLLECTION_NOT_LOADED,
                                   "collection not loaded[collection=%" PRId64
                                   "]: no querynode holds it yet", coll)
                             : CAIRN_NOT_READY;
    unsigned first = atomic_fetch_add(&p->next_replica, 1);
    for (size_t i = 0; i < n && worth_retrying(st); i++) {
      cairn_error_clear(err);
      st = node_call(p, addrs[(first + i) % n], method, req, reply_desc, arena,
                     reply, err);
    }
    free_addrs(addrs, n);
    if (!worth_retrying(st) || cairn_rpc_now_ms() >= give_up)
      return st;
    pause_ms(RETRY_PAUSE_MS);
  }
}

/* The datanode of a collection, waiting for the assignment. */
static cairn_status data_call(cluster_proxy *p, int64_t coll, const char *method,
                              const ProtobufCMessage *req,
                              const ProtobufCMessageDescriptor *reply_desc,
                              cairn_arena *arena, ProtobufCMessage **reply,
                              int64_t wait_ms, cairn_error *err) {
  char key[128];
  snprintf(key, sizeof key, CAIRN_CLUSTER_ASSIGN_DN_PREFIX "%" PRId64, coll);
  int64_t give_up = cairn_rpc_now_ms() + wait_ms;
  for (;;) {
    char *addr = NULL;
    route(p, key, &addr, 1);
    cairn_status st =
        addr ? node_call(p, addr, method, req, reply_desc, arena, reply, err)
             : cairn_error_set(err, CAIRN_NOT_READY,
                               "no datanode consumes collection %" PRId64
                               " yet (are datanodes running?)", coll);
    free(addr);
    if (st != CAIRN_NOT_READY || cairn_rpc_now_ms() >= give_up)
      return st;
    cairn_error_clear(err);
    pause_ms(RETRY_PAUSE_MS);
  }
}

/* ---- cairn_dataplane_ops ---- */

static cairn_status op_nothing(void *ctx, int64_t id, cairn_error *err) {
  (void)ctx;
  (void)id;
  (void)err;
  return CAIRN_OK; /* the coordinator's assignment loop acts on it */
}

/* The querynodes drop the partition's rows at their next refresh (the
 * catalogue shows its segments without rows, and the drop published an
 * event); the collection's datanode removes the objects of its rows. The
 * drop itself is done: when the removal fails the objects stay until a
 * datanode next starts consuming the collection (its sweep, dn_drop.c),
 * and the caller is not told of a failure it cannot act on (the partition
 * no longer exists to be dropped again). */
static cairn_status op_partition_dropped(void *ctx, int64_t id, int64_t partition,
                                         cairn_error *err) {
  (void)err;
  cluster_proxy *p = ctx;
  cairn_arena *arena = cairn_arena_new();
  if (arena == NULL)
    return CAIRN_OK;
  Cairn__Cluster__PartitionRequest req = CAIRN__CLUSTER__PARTITION_REQUEST__INIT;
  req.collection_id = id;
  req.partition_id = partition;
  ProtobufCMessage *out = NULL;
  cairn_error e = {0};
  if (data_call(p, id, "/cairn.cluster.DataNodeService/DropPartition", &req.base,
                &cairn__cluster__drop_partition_response__descriptor, arena,
                &out, ROUTE_WAIT_MS, &e) != CAIRN_OK)
    cairn_log_warn("proxy: the objects of dropped partition %" PRId64
                   " of collection %" PRId64 " stay until a datanode next "
                   "starts consuming the collection: %s", partition, id,
                   e.message);
  cairn_arena_free(arena);
  return CAIRN_OK;
}

static int op_progress(void *ctx, int64_t id, cairn_error *err) {
  cluster_proxy *p = ctx;
  char prefix[128];
  snprintf(prefix, sizeof prefix, CAIRN_CLUSTER_ASSIGN_QN_PREFIX "%" PRId64 "/",
           id);
  char *addrs[MAX_REPLICAS];
  size_t n = route(p, prefix, addrs, MAX_REPLICAS);
  int least = n ? 100 : 0;
  cairn_arena *arena = cairn_arena_new();
  Cairn__Cluster__CollectionRequest req = CAIRN__CLUSTER__COLLECTION_REQUEST__INIT;
  req.collection_id = id;
  for (size_t i = 0; arena && i < n; i++) {
    ProtobufCMessage *out = NULL;
    cairn_error e = {0};
    int pct = 0;
    if (node_call(p, addrs[i], "/cairn.cluster.QueryNodeService/Progress",
                  &req.base, &cairn__cluster__progress_response__descriptor,
                  arena, &out, &e) == CAIRN_OK)
      pct = ((Cairn__Cluster__ProgressResponse *)out)->progress;
    else if (e.status != CAIRN_NOT_READY) /* a failed load: report it */
      cairn_error_set(err, e.status, "%s", e.message);
    if (pct < least)
      least = pct < 0 ? 0 : pct;
  }
  free_addrs(addrs, n);
  cairn_arena_free(arena);
  return err->status != CAIRN_OK ? -1 : least;
}

static cairn_status op_flush(void *ctx, int64_t id, int64_t **segs, size_t *n,
                             cairn_error *err) {
  cluster_proxy *p = ctx;
  *segs = NULL;
  *n = 0;
  cairn_arena *arena = cairn_arena_new();
  if (arena == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  Cairn__Cluster__CollectionRequest req = CAIRN__CLUSTER__COLLECTION_REQUEST__INIT;
  req.collection_id = id;
  ProtobufCMessage *out = NULL;
  cairn_status st = data_call(p, id, "/cairn.cluster.DataNodeService/Flush",
                              &req.base, &cairn__cluster__flush_response__descriptor,
                              arena, &out, ROUTE_WAIT_MS, err);
  if (st == CAIRN_OK) {
    Cairn__Cluster__FlushResponse *r = (Cairn__Cluster__FlushResponse *)out;
    *segs = malloc((r->n_segment_ids + 1) * sizeof **segs);
    if (*segs == NULL) {
      st = cairn_error_set(err, CAIRN_NOMEM, NULL);
    } else {
      if (r->n_segment_ids > 0)
        memcpy(*segs, r->segment_ids, r->n_segment_ids * sizeof **segs);
      *n = r->n_segment_ids;
    }
  }
  cairn_arena_free(arena);
  return st;
}

static uint64_t op_growing(void *ctx, int64_t id) {
  cluster_proxy *p = ctx;
  cairn_arena *arena = cairn_arena_new();
  if (arena == NULL)
    return 0;
  Cairn__Cluster__CollectionRequest req = CAIRN__CLUSTER__COLLECTION_REQUEST__INIT;
  req.collection_id = id;
  ProtobufCMessage *out = NULL;
  cairn_error err = {0};
  uint64_t rows = 0;
  if (data_call(p, id, "/cairn.cluster.DataNodeService/GrowingRows", &req.base,
                &cairn__cluster__growing_rows_response__descriptor, arena, &out,
                0, &err) == CAIRN_OK)
    rows = ((Cairn__Cluster__GrowingRowsResponse *)out)->rows;
  cairn_arena_free(arena);
  return rows;
}

static cairn_status op_search(void *ctx, const cairn_qn_search *q,
                              cairn_arena *arena,
                              Milvus__Proto__Schema__SearchResultData **out,
                              cairn_error *err) {
  cluster_proxy *p = ctx;
  Cairn__Cluster__SearchRequest *req = NULL;
  cairn_status st = qn_wire_encode_search(arena, q, &req, err);
  ProtobufCMessage *reply = NULL;
  if (st == CAIRN_OK)
    st = read_call(p, q->collection_id, "/cairn.cluster.QueryNodeService/Search",
                   &req->base, &cairn__cluster__search_response__descriptor,
                   arena, &reply, err);
  if (st == CAIRN_OK) {
    *out = ((Cairn__Cluster__SearchResponse *)reply)->results;
    if (*out == NULL)
      st = cairn_error_set(err, CAIRN_INTERNAL, "querynode sent no results");
  }
  return st;
}

static cairn_status op_query(void *ctx, const cairn_qn_query *q,
                             cairn_arena *arena,
                             Milvus__Proto__Schema__FieldData ***fields,
                             size_t *n_fields, size_t *n_rows, cairn_error *err) {
  cluster_proxy *p = ctx;
  Cairn__Cluster__QueryRequest *req = NULL;
  cairn_status st = qn_wire_encode_query(arena, q, &req, err);
  ProtobufCMessage *reply = NULL;
  if (st == CAIRN_OK)
    st = read_call(p, q->collection_id, "/cairn.cluster.QueryNodeService/Query",
                   &req->base, &cairn__cluster__query_response__descriptor,
                   arena, &reply, err);
  if (st == CAIRN_OK) {
    Cairn__Cluster__QueryResponse *r = (Cairn__Cluster__QueryResponse *)reply;
    *fields = r->fields;
    *n_fields = r->n_fields;
    *n_rows = (size_t)r->n_rows;
  }
  return st;
}

static cairn_status op_count(void *ctx, int64_t id, bool strong, uint64_t *rows,
                             cairn_error *err) {
  cluster_proxy *p = ctx;
  *rows = 0;
  cairn_arena *arena = cairn_arena_new();
  if (arena == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  Cairn__Cluster__CollectionRequest req = CAIRN__CLUSTER__COLLECTION_REQUEST__INIT;
  req.collection_id = id;
  req.strong = strong;
  ProtobufCMessage *out = NULL;
  cairn_status st = read_call(p, id, "/cairn.cluster.QueryNodeService/Count",
                              &req.base, &cairn__cluster__count_response__descriptor,
                              arena, &out, err);
  if (st == CAIRN_OK)
    *rows = ((Cairn__Cluster__CountResponse *)out)->rows;
  cairn_arena_free(arena);
  return st;
}

static const cairn_dataplane_ops ops = {
    .collection_created = op_nothing,
    .collection_dropped = op_nothing,
    .partition_dropped = op_partition_dropped,
    .index_created = op_nothing,
    .load = op_nothing,
    .load_progress = op_progress,
    .release = op_nothing,
    .flush = op_flush,
    .growing_rows = op_growing,
    .search = op_search,
    .query = op_query,
    .count = op_count,
};

const cairn_dataplane_ops *cluster_proxy_ops(void) { return &ops; }

/* ---- life cycle ---- */

cairn_status cluster_proxy_open(const cairn_config *cfg, cairn_meta *meta,
                                cluster_proxy **out, cairn_error *err) {
  *out = NULL;
  cluster_proxy *p = calloc(1, sizeof *p);
  if (p == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  p->cfg = cfg;
  p->meta = meta;
  pthread_mutex_init(&p->mu, NULL);
  cairn_status st = cluster_open_mq(cfg, &p->mq, err);
  if (st == CAIRN_OK)
    st = cairn_cluster_view_open(meta, NULL, NULL, &p->view, err);
  if (st == CAIRN_OK)
    st = cluster_coord_client(cfg, p->view, &p->coord, err);
  static const char *const volatile_records[] = {
      CAIRN_CATALOG_SEGMENT_PREFIX, CAIRN_CATALOG_CHECKPOINT_PREFIX, NULL};
  if (st == CAIRN_OK)
    st = cairn_meta_version_open(meta, CAIRN_CATALOG_PREFIX, volatile_records, &p->catalog,
                                 err);
  if (st != CAIRN_OK) {
    cluster_proxy_close(p);
    return st;
  }
  *out = p;
  return CAIRN_OK;
}

cairn_rpc_client *cluster_proxy_coord(cluster_proxy *p) { return p->coord; }
cairn_mq *cluster_proxy_mq(cluster_proxy *p) { return p->mq; }
uint64_t cluster_proxy_catalog_version(void *p) {
  return cairn_meta_version_get(((cluster_proxy *)p)->catalog);
}

cairn_status cluster_proxy_register(cluster_proxy *p, const char *address,
                                    cairn_error *err) {
  return cairn_session_open(p->meta, "proxy", address,
                            (int)(cairn_config_duration_ms(p->cfg, "session.ttl") / 1000 > 0
                                      ? cairn_config_duration_ms(p->cfg, "session.ttl") / 1000
                                      : 1),
                            NULL, NULL, &p->session, err);
}

void cluster_proxy_close(cluster_proxy *p) {
  if (p == NULL)
    return;
  cairn_session_close(p->session);
  cairn_meta_version_close(p->catalog);
  for (node_client *c = p->clients, *next; c != NULL; c = next) {
    next = c->next;
    cairn_rpc_client_free(c->client);
    free(c->address);
    free(c);
  }
  cairn_rpc_client_free(p->coord);
  cairn_cluster_view_close(p->view);
  cairn_mq_close(p->mq);
  pthread_mutex_destroy(&p->mu);
  free(p);
}
