/*
 * cluster_roles.c — the coordinator and the data roles as cluster processes
 * (cluster_roles.h).
 *
 * Coordinator: serves a gate in front of CoordService that answers
 * UNAVAILABLE while this process is a standby; a campaign thread waits for
 * the leader key, then opens the coordinator on the shared meta store
 * (every catalogue read goes to the store, so nothing is stale after a
 * takeover; the TSO resumes above its persisted high-water mark), opens
 * the gate and starts the assignment loop. A leader that loses its lease
 * exits at once (exit code 3) so it can never act next to its successor.
 *
 * Data roles: a follower thread reconciles what the node runs with what
 * the view says, when the view changes and at least every second:
 *   datanode  — watches the collections assigned to it; an assignment that
 *               moved away is unwatched (the new owner resumes from the
 *               checkpoint), one that was deleted means the collection was
 *               dropped: its objects are removed;
 *   querynode — loads the collections with a replica on it, releases the
 *               others, refreshes one when its cluster/event key changes;
 *   indexnode — schedules builds for the collections it is responsible
 *               for (collection id modulo the live indexnodes, in id order)
 *               when their event changes or the indexnodes change.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cairn_internal.pb-c.h"
#include "cluster.h"
#include "cluster_roles.h"
#include "coord.h"
#include "datanode.h"
#include "indexnode.h"
#include "log.h"
#include "mq_kafka.h"
#include "objstore_s3.h"
#include "querynode.h"

#define FOLLOW_PERIOD_MS 1000
#define COORD_FAILOVER_MS 30000

/* ==== shared ============================================================== */

void cluster_advertise_address(const cairn_config *cfg, int port, char *buf,
                               size_t len) {
  const char *adv = cairn_config_string(cfg, "node.advertiseAddress");
  if (adv[0] != '\0') {
    snprintf(buf, len, "%s", adv);
    return;
  }
  const char *host = cairn_config_string(cfg, "grpc.host");
  char name[256] = "127.0.0.1";
  if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 ||
      strcmp(host, "[::]") == 0 || host[0] == '\0') {
    if (gethostname(name, sizeof name) != 0)
      snprintf(name, sizeof name, "127.0.0.1");
    name[sizeof name - 1] = '\0';
    host = name;
  }
  snprintf(buf, len, "%s:%d", host, port);
}

cairn_status cluster_open_mq(const cairn_config *cfg, cairn_mq **out,
                             cairn_error *err) {
  const char *backend = cairn_config_string(cfg, "mq.backend");
  if (strcmp(backend, "kafka") != 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "a cluster needs a log every process can reach: "
                           "set mq.backend=kafka and kafka.brokerList "
                           "(mq.backend is '%s')", backend);
  char *location = NULL;
  cairn_status st = cairn_mq_kafka_location(cfg, &location, err);
  if (st == CAIRN_OK)
    st = cairn_mq_open(backend, location, out, err);
  free(location);
  return st;
}

cairn_status cluster_open_objstore(const cairn_config *cfg,
                                   cairn_objstore **out, cairn_error *err) {
  const char *backend = cairn_config_string(cfg, "objstore.backend");
  if (strcmp(backend, "s3") == 0) {
    char *location = NULL;
    cairn_status st = cairn_objstore_s3_location_from_config(cfg, &location, err);
    if (st == CAIRN_OK)
      st = cairn_objstore_open(backend, location, out, err);
    free(location);
    return st;
  }
  /* local: only when every process shares the directory (one machine). */
  char path[4096];
  snprintf(path, sizeof path, "%s/objects", cairn_config_string(cfg, "dataDir"));
  return cairn_objstore_open(backend, path, out, err);
}

static char *resolve_leader(void *user) {
  return cairn_cluster_view_leader(user);
}

cairn_status cluster_coord_client(const cairn_config *cfg,
                                  cairn_cluster_view *view,
                                  cairn_rpc_client **out, cairn_error *err) {
  return cairn_rpc_client_new_resolving(
      resolve_leader, view, (size_t)cairn_config_size(cfg, "grpc.maxMessageSize"),
      COORD_FAILOVER_MS, out, err);
}

static int session_ttl_s(const cairn_config *cfg) {
  int64_t ms = cairn_config_duration_ms(cfg, "session.ttl");
  return ms < 1000 ? 1 : (int)(ms / 1000);
}

/* ==== coordinator ========================================================= */

struct cluster_coord {
  const cairn_config *cfg;
  cairn_meta *meta;                /* borrowed */
  cairn_rpc_service *gate;
  _Atomic(cairn_rpc_service *) active; /* NULL while standby */
  cairn_cluster_view *view;
  cairn_session *session;
  cairn_coord *coord;
  pthread_mutex_t mu; /* guards assigner against the view's kicks */
  cairn_coord_assigner *assigner;
  volatile bool stopping;
  pthread_t campaign;
  bool campaign_started;
};

static cairn_grpc_code gate_call(cairn_rpc_ctx *ctx, const ProtobufCMessage *req,
                                 ProtobufCMessage **reply) {
  cluster_coord *c = ctx->user;
  cairn_rpc_service *active = atomic_load(&c->active);
  if (active == NULL) {
    ctx->grpc_message = cairn_arena_printf(
        ctx->arena, "this coordinator is a standby; the active one is "
                    "published in etcd under " CAIRN_CLUSTER_LEADER_KEY);
    return CAIRN_GRPC_UNAVAILABLE;
  }
  return cairn_rpc_service_dispatch(active, ctx, req, reply);
}

static void coord_view_changed(void *user) {
  cluster_coord *c = user;
  pthread_mutex_lock(&c->mu);
  cairn_coord_assign_kick(c->assigner);
  pthread_mutex_unlock(&c->mu);
}

static void coord_lost(void *user) {
  (void)user;
  cairn_log_error("coordinator: the session lease is gone; exiting so that "
                  "no two coordinators act at once (restart this process)");
  fflush(NULL);
  _exit(3);
}

cairn_status cluster_coord_open(const cairn_config *cfg, cairn_meta *meta,
                                cluster_coord **out, cairn_error *err) {
  *out = NULL;
  cluster_coord *c = calloc(1, sizeof *c);
  const ProtobufCServiceDescriptor *d = &cairn__internal__coord_service__descriptor;
  cairn_rpc_method *methods = calloc(d->n_methods + 1, sizeof *methods);
  if (c == NULL || methods == NULL) {
    free(c);
    free(methods);
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  }
  c->cfg = cfg;
  c->meta = meta;
  pthread_mutex_init(&c->mu, NULL);
  for (unsigned i = 0; i < d->n_methods; i++)
    methods[i] = (cairn_rpc_method){d->methods[i].name, gate_call};
  cairn_status st = cairn_rpc_service_new(d, methods, c, &c->gate, err);
  free(methods);
  if (st == CAIRN_OK)
    st = cairn_cluster_view_open(meta, coord_view_changed, c, &c->view, err);
  if (st != CAIRN_OK) {
    cluster_coord_close(c);
    return st;
  }
  *out = c;
  return CAIRN_OK;
}

cairn_rpc_service *cluster_coord_service(cluster_coord *c) { return c->gate; }

/* Won the election: open the coordinator, then the gate, then assign. */
static cairn_status take_office(cluster_coord *c, cairn_error *err) {
  cairn_coord_options opts;
  cairn_coord_options_default(&opts);
  opts.publish_events = true;
  cairn_status st = cairn_coord_open(c->meta, &opts, &c->coord, err);
  if (st != CAIRN_OK)
    return st;
  atomic_store(&c->active, cairn_coord_service(c->coord));
  char *leader = cairn_cluster_view_get(c->view, CAIRN_CLUSTER_LEADER_KEY);
  for (int i = 0; leader == NULL && i < 50 && !c->stopping; i++) {
    usleep(20000); /* the view sees our own leader key shortly */
    leader = cairn_cluster_view_get(c->view, CAIRN_CLUSTER_LEADER_KEY);
  }
  if (leader == NULL)
    return cairn_error_set(err, CAIRN_NOT_READY, "leader key not visible");
  cairn_coord_assigner *a = NULL;
  st = cairn_coord_assign_start(c->coord, c->view, leader, &a, err);
  free(leader);
  if (st == CAIRN_OK) {
    pthread_mutex_lock(&c->mu);
    c->assigner = a;
    pthread_mutex_unlock(&c->mu);
  }
  return st;
}

static void *campaign_main(void *arg) {
  cluster_coord *c = arg;
  cairn_error err = {0};
  if (cairn_session_campaign(c->session, &c->stopping, &err) != CAIRN_OK)
    return NULL;
  if (take_office(c, &err) != CAIRN_OK) {
    cairn_log_error("coordinator: cannot take office: %s", err.message);
    coord_lost(c);
  }
  cairn_log_info("coordinator active");
  return NULL;
}

cairn_status cluster_coord_register(cluster_coord *c, const char *address,
                                    cairn_error *err) {
  cairn_status st = cairn_session_open(c->meta, "coordinator", address,
                                       session_ttl_s(c->cfg), coord_lost, c,
                                       &c->session, err);
  if (st == CAIRN_OK) {
    if (pthread_create(&c->campaign, NULL, campaign_main, c) != 0)
      return cairn_error_set(err, CAIRN_INTERNAL, "cannot start the campaign");
    c->campaign_started = true;
  }
  return st;
}

void cluster_coord_close(cluster_coord *c) {
  if (c == NULL)
    return;
  c->stopping = true;
  if (c->campaign_started)
    pthread_join(c->campaign, NULL);
  pthread_mutex_lock(&c->mu);
  cairn_coord_assigner *a = c->assigner;
  c->assigner = NULL; /* no kick reaches it once it is stopped */
  pthread_mutex_unlock(&c->mu);
  cairn_coord_assign_stop(a);
  atomic_store(&c->active, NULL);
  cairn_session_close(c->session); /* the leader key goes with the lease */
  cairn_cluster_view_close(c->view);
  cairn_coord_close(c->coord);
  cairn_rpc_service_free(c->gate);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

/* ==== data roles ========================================================== */

/* What a node runs for one collection, and the event value last acted on. */
typedef struct followed {
  int64_t id;
  char *event;
} followed;

struct cluster_node {
  cluster_node_role role;
  const cairn_config *cfg;
  cairn_meta *meta; /* borrowed */
  cairn_mq *mq;
  cairn_objstore *objstore;
  cairn_cluster_view *view;
  cairn_rpc_client *coord;
  cairn_session *session;
  cairn_datanode *dn;
  cairn_indexnode *in;
  cairn_querynode *qn;
  cairn_rpc_service *service;
  followed *runs; /* follower thread only */
  size_t n_runs;
  char *indexnodes; /* follower thread only: the live indexnode ids seen */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool changed, stopping;
  pthread_t follower;
  bool follower_started;
};

static const char *node_role_name(cluster_node_role r) {
  return r == CLUSTER_DATANODE ? "datanode"
         : r == CLUSTER_INDEXNODE ? "indexnode"
                                  : "querynode";
}

static void node_view_changed(void *user) {
  cluster_node *n = user;
  pthread_mutex_lock(&n->mu);
  n->changed = true;
  pthread_cond_broadcast(&n->cv);
  pthread_mutex_unlock(&n->mu);
}

static cairn_status open_role(cluster_node *n, cairn_error *err) {
  const cairn_config *cfg = n->cfg;
  const char *root = cairn_config_string(cfg, "objstore.rootPath");
  switch (n->role) {
  case CLUSTER_DATANODE: {
    cairn_datanode_options o = {
        .mq = n->mq, .objstore = n->objstore, .coord = n->coord, .root = root,
        .seal_rows = (uint64_t)cairn_config_int(cfg, "dataNode.sealRows"),
        .seal_bytes = (uint64_t)cairn_config_size(cfg, "dataNode.sealBytes"),
        .seal_age_ms = cairn_config_duration_ms(cfg, "dataNode.sealAge")};
    cairn_status st = cairn_datanode_open(&o, &n->dn, err);
    return st == CAIRN_OK ? cairn_datanode_service_new(n->dn, &n->service, err)
                          : st;
  }
  case CLUSTER_INDEXNODE: {
    cairn_indexnode_options o = {
        .objstore = n->objstore, .coord = n->coord, .root = root,
        .workers = (int)cairn_config_int(cfg, "indexNode.workers")};
    return cairn_indexnode_open(&o, &n->in, err);
  }
  case CLUSTER_QUERYNODE: {
    cairn_querynode_options o = {
        .mq = n->mq, .objstore = n->objstore, .coord = n->coord,
        .search_threads = (int)cairn_config_int(cfg, "queryNode.searchThreads")};
    cairn_status st = cairn_querynode_open(&o, &n->qn, err);
    return st == CAIRN_OK ? cairn_querynode_service_new(n->qn, &n->service, err)
                          : st;
  }
  }
  return CAIRN_OK;
}

cairn_status cluster_node_open(cluster_node_role role, const cairn_config *cfg,
                               cairn_meta *meta, cluster_node **out,
                               cairn_error *err) {
  *out = NULL;
  cluster_node *n = calloc(1, sizeof *n);
  if (n == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  n->role = role;
  n->cfg = cfg;
  n->meta = meta;
  pthread_mutex_init(&n->mu, NULL);
  pthread_cond_init(&n->cv, NULL);
  cairn_status st = CAIRN_OK;
  if (role != CLUSTER_INDEXNODE)
    st = cluster_open_mq(cfg, &n->mq, err);
  if (st == CAIRN_OK)
    st = cluster_open_objstore(cfg, &n->objstore, err);
  if (st == CAIRN_OK)
    st = cairn_cluster_view_open(meta, node_view_changed, n, &n->view, err);
  if (st == CAIRN_OK)
    st = cluster_coord_client(cfg, n->view, &n->coord, err);
  if (st == CAIRN_OK)
    st = open_role(n, err);
  if (st != CAIRN_OK) {
    cluster_node_close(n);
    return st;
  }
  *out = n;
  return CAIRN_OK;
}

cairn_rpc_service *cluster_node_service(cluster_node *n) { return n->service; }

/* ---- following assignments ---- */

static followed *find_run(cluster_node *n, int64_t id) {
  for (size_t i = 0; i < n->n_runs; i++)
    if (n->runs[i].id == id)
      return &n->runs[i];
  return NULL;
}

static void add_run(cluster_node *n, int64_t id) {
  followed *r = realloc(n->runs, (n->n_runs + 1) * sizeof *r);
  if (r == NULL)
    return;
  n->runs = r;
  n->runs[n->n_runs++] = (followed){.id = id};
}

static void remove_run(cluster_node *n, followed *r) {
  free(r->event);
  *r = n->runs[--n->n_runs];
}

static bool in_ids(const int64_t *ids, size_t n, int64_t id) {
  for (size_t i = 0; i < n; i++)
    if (ids[i] == id)
      return true;
  return false;
}

/* Collections whose assignment under prefix names this node. For the
 * querynode the key is {coll}/{replica}. ids malloc'd. Also sets *all (the
 * collections with any assignment under prefix) when all is not NULL. */
static size_t my_assignments(cluster_node *n, const char *prefix, int64_t me,
                             int64_t **ids, int64_t **all, size_t *n_all) {
  cairn_cluster_entry *e = NULL;
  size_t count = cairn_cluster_view_list(n->view, prefix, &e), k = 0;
  *ids = calloc(count + 1, sizeof **ids);
  if (all) {
    *all = calloc(count + 1, sizeof **all);
    *n_all = 0;
  }
  for (size_t i = 0; *ids && i < count; i++) {
    int64_t coll = strtoll(e[i].key + strlen(prefix), NULL, 10);
    if (all && *all && !in_ids(*all, *n_all, coll))
      (*all)[(*n_all)++] = coll;
    if (strtoll(e[i].value, NULL, 10) == me && !in_ids(*ids, k, coll))
      (*ids)[k++] = coll;
  }
  cairn_cluster_entries_free(e, count);
  return k;
}

static char *event_of(cluster_node *n, int64_t coll) {
  char key[128];
  snprintf(key, sizeof key, CAIRN_CLUSTER_EVENT_PREFIX "%" PRId64, coll);
  return cairn_cluster_view_get(n->view, key);
}

/* True (and remembers it) when the collection's event differs from the
 * one last acted on. */
static bool event_moved(cluster_node *n, followed *r) {
  char *ev = event_of(n, r->id);
  bool moved = (ev == NULL) != (r->event == NULL) ||
               (ev && strcmp(ev, r->event) != 0);
  free(r->event);
  r->event = ev;
  return moved;
}

static void follow_datanode(cluster_node *n, int64_t me) {
  int64_t *mine = NULL, *all = NULL;
  size_t n_all = 0;
  size_t k = my_assignments(n, CAIRN_CLUSTER_ASSIGN_DN_PREFIX, me, &mine, &all,
                            &n_all);
  cairn_error err = {0};
  for (size_t i = 0; i < k; i++) {
    if (find_run(n, mine[i]) != NULL)
      continue;
    if (cairn_datanode_watch(n->dn, mine[i], &err) == CAIRN_OK) {
      cairn_log_info("datanode: consuming collection %" PRId64, mine[i]);
      add_run(n, mine[i]);
    } else {
      cairn_log_warn("datanode: collection %" PRId64 ": %s", mine[i], err.message);
    }
  }
  for (size_t i = 0; i < n->n_runs;) {
    followed *r = &n->runs[i];
    if (in_ids(mine, k, r->id)) {
      i++;
      continue;
    }
    if (all && in_ids(all, n_all, r->id)) {
      cairn_log_info("datanode: collection %" PRId64 " moved to another node",
                     r->id);
      cairn_datanode_unwatch(n->dn, r->id);
    } else {
      cairn_log_info("datanode: collection %" PRId64 " dropped", r->id);
      if (cairn_datanode_drop(n->dn, r->id, &err) != CAIRN_OK)
        cairn_log_warn("datanode: removing collection %" PRId64 ": %s", r->id,
                       err.message);
    }
    remove_run(n, r);
  }
  free(mine);
  free(all);
}

static void follow_querynode(cluster_node *n, int64_t me) {
  int64_t *mine = NULL;
  size_t k = my_assignments(n, CAIRN_CLUSTER_ASSIGN_QN_PREFIX, me, &mine, NULL,
                            NULL);
  cairn_error err = {0};
  for (size_t i = 0; i < k; i++) {
    followed *r = find_run(n, mine[i]);
    if (r == NULL) {
      cairn_log_info("querynode: loading collection %" PRId64, mine[i]);
      if (cairn_querynode_load(n->qn, mine[i], &err) != CAIRN_OK) {
        cairn_log_warn("querynode: load %" PRId64 ": %s", mine[i], err.message);
        continue;
      }
      add_run(n, mine[i]);
      event_moved(n, &n->runs[n->n_runs - 1]);
    } else if (event_moved(n, r) &&
               cairn_querynode_refresh(n->qn, r->id, &err) != CAIRN_OK) {
      cairn_log_warn("querynode: refresh %" PRId64 ": %s", r->id, err.message);
    }
  }
  for (size_t i = 0; i < n->n_runs;) {
    if (in_ids(mine, k, n->runs[i].id)) {
      i++;
      continue;
    }
    cairn_log_info("querynode: releasing collection %" PRId64, n->runs[i].id);
    cairn_querynode_release(n->qn, n->runs[i].id, &err);
    remove_run(n, &n->runs[i]);
  }
  free(mine);
}

/* Live indexnode ids in order, as one string (to notice changes), and this
 * node's rank among them. */
static char *indexnodes(cluster_node *n, int64_t me, size_t *rank, size_t *count) {
  cairn_cluster_entry *e = NULL;
  const char *prefix = CAIRN_CLUSTER_SESSION_PREFIX "indexnode/";
  size_t c = cairn_cluster_view_list(n->view, prefix, &e);
  size_t len = 1;
  for (size_t i = 0; i < c; i++)
    len += strlen(e[i].key) + 1;
  char *s = calloc(1, len);
  *rank = 0;
  *count = c;
  for (size_t i = 0; s && i < c; i++) {
    strcat(s, e[i].key);
    strcat(s, ",");
    if (strtoll(e[i].key + strlen(prefix), NULL, 10) == me)
      *rank = i;
  }
  cairn_cluster_entries_free(e, c);
  return s;
}

static void follow_indexnode(cluster_node *n, int64_t me) {
  size_t rank = 0, count = 0;
  char *set = indexnodes(n, me, &rank, &count);
  bool nodes_changed = set && (n->indexnodes == NULL || strcmp(set, n->indexnodes) != 0);
  free(n->indexnodes);
  n->indexnodes = set;
  if (count == 0)
    return;
  cairn_cluster_entry *e = NULL;
  size_t c = cairn_cluster_view_list(n->view, CAIRN_CLUSTER_EVENT_PREFIX, &e);
  for (size_t i = 0; i < c; i++) {
    int64_t coll = strtoll(e[i].key + strlen(CAIRN_CLUSTER_EVENT_PREFIX), NULL, 10);
    if ((size_t)((uint64_t)coll % count) != rank)
      continue;
    followed *r = find_run(n, coll);
    if (r == NULL) {
      add_run(n, coll);
      r = find_run(n, coll);
      if (r == NULL)
        continue;
    }
    cairn_error err = {0};
    if ((event_moved(n, r) || nodes_changed) &&
        cairn_indexnode_schedule(n->in, coll, &err) != CAIRN_OK)
      cairn_log_warn("indexnode: collection %" PRId64 ": %s", coll, err.message);
  }
  cairn_cluster_entries_free(e, c);
}

static void *follower_main(void *arg) {
  cluster_node *n = arg;
  pthread_mutex_lock(&n->mu);
  while (!n->stopping) {
    n->changed = false;
    pthread_mutex_unlock(&n->mu);
    int64_t me = cairn_session_node_id(n->session);
    if (n->role == CLUSTER_DATANODE)
      follow_datanode(n, me);
    else if (n->role == CLUSTER_QUERYNODE)
      follow_querynode(n, me);
    else
      follow_indexnode(n, me);
    pthread_mutex_lock(&n->mu);
    if (!n->changed && !n->stopping)
      cairn_cluster_wait(&n->cv, &n->mu, FOLLOW_PERIOD_MS);
  }
  pthread_mutex_unlock(&n->mu);
  return NULL;
}

cairn_status cluster_node_register(cluster_node *n, const char *address,
                                   cairn_error *err) {
  cairn_status st = cairn_session_open(n->meta, node_role_name(n->role), address,
                                       session_ttl_s(n->cfg), NULL, NULL,
                                       &n->session, err);
  if (st != CAIRN_OK)
    return st;
  if (pthread_create(&n->follower, NULL, follower_main, n) != 0)
    return cairn_error_set(err, CAIRN_INTERNAL, "cannot start the follower");
  n->follower_started = true;
  return CAIRN_OK;
}

void cluster_node_close(cluster_node *n) {
  if (n == NULL)
    return;
  pthread_mutex_lock(&n->mu);
  n->stopping = true;
  pthread_cond_broadcast(&n->cv);
  pthread_mutex_unlock(&n->mu);
  if (n->follower_started)
    pthread_join(n->follower, NULL);
  /* Session first: the coordinator moves the work while we stop. */
  cairn_session_close(n->session);
  cairn_rpc_service_free(n->service);
  cairn_datanode_close(n->dn);
  cairn_indexnode_close(n->in);
  cairn_querynode_close(n->qn);
  cairn_cluster_view_close(n->view);
  cairn_rpc_client_free(n->coord);
  cairn_objstore_close(n->objstore);
  cairn_mq_close(n->mq);
  for (size_t i = 0; i < n->n_runs; i++)
    free(n->runs[i].event);
  free(n->runs);
  free(n->indexnodes);
  pthread_mutex_destroy(&n->mu);
  pthread_cond_destroy(&n->cv);
  free(n);
}
