/*
 * coord_assign.c — the active coordinator's assignment of work to the nodes
 * of a cluster (key layout in core/cluster.h), and the collection events it
 * publishes.
 *
 * Every collection's shard channels go to one live datanode (the one with
 * fewest collections), and every loaded collection to `replica_number`
 * distinct live querynodes (fewest first) — fewer when fewer querynodes are
 * alive (logged). A node whose session is gone loses its assignments to the
 * survivors on the next pass; assignments of dropped or released
 * collections are deleted. A pass runs when the cluster view changes, after
 * a DDL the coordinator served (cairn_coord_assign_kick), and at least every
 * second.
 *
 * Fencing: every write is a transaction that holds only while the leader
 * key still carries this coordinator's value, so a coordinator that lost
 * the election can never move work.
 *
 * Granularity: a collection's channels move together (one datanode per
 * collection) and a replica is one querynode holding the whole collection.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster.h"
#include "coord_internal.h"
#include "log.h"

#define PASS_PERIOD_MS 1000
#define MAX_NODES 256

struct cairn_coord_assigner {
  cairn_coord *coord;
  cairn_cluster_view *view; /* borrowed */
  char *leader_value;       /* this coordinator's leader key value */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool kicked;
  bool stopping;
  pthread_t thread;
};

/* ---- events ---- */

void coord_publish_event(cairn_coord *coord, int64_t collection_id) {
  if (!coord->opts.publish_events)
    return;
  char key[128], value[32];
  snprintf(key, sizeof key, CAIRN_CLUSTER_EVENT_PREFIX "%" PRId64, collection_id);
  snprintf(value, sizeof value, "%" PRId64, cairn_rpc_now_ms());
  cairn_error err = {0};
  if (cairn_meta_put(coord->meta, key, value, strlen(value), 0, NULL, &err) !=
      CAIRN_OK)
    cairn_log_warn("event for collection %" PRId64 ": %s", collection_id,
                   err.message);
}

/* ---- one pass ---- */

typedef struct node_load {
  int64_t id;
  int load; /* assignments given in this pass or found valid */
} node_load;

typedef struct pass {
  cairn_coord_assigner *a;
  node_load dn[MAX_NODES], qn[MAX_NODES];
  size_t n_dn, n_qn;
  cairn_cluster_entry *assigned; /* every cluster/assign/ entry */
  size_t n_assigned;
  int writes;
} pass;

static size_t live_nodes(cairn_cluster_view *v, const char *role,
                         node_load *out) {
  char prefix[128];
  snprintf(prefix, sizeof prefix, CAIRN_CLUSTER_SESSION_PREFIX "%s/", role);
  cairn_cluster_entry *e = NULL;
  size_t n = cairn_cluster_view_list(v, prefix, &e), k = 0;
  for (size_t i = 0; i < n && k < MAX_NODES; i++)
    out[k++] = (node_load){.id = strtoll(e[i].key + strlen(prefix), NULL, 10)};
  cairn_cluster_entries_free(e, n);
  return k;
}

static node_load *find_node(node_load *nodes, size_t n, int64_t id) {
  for (size_t i = 0; i < n; i++)
    if (nodes[i].id == id)
      return &nodes[i];
  return NULL;
}

static const char *assigned_value(const pass *p, const char *key) {
  for (size_t i = 0; i < p->n_assigned; i++)
    if (strcmp(p->assigned[i].key, key) == 0)
      return p->assigned[i].value;
  return NULL;
}

/* A write under the leader fence: put (value) or delete (value NULL). */
static void fenced_write(pass *p, const char *key, const char *value) {
  cairn_coord_assigner *a = p->a;
  cairn_meta_cmp cmp = {.key = CAIRN_CLUSTER_LEADER_KEY,
                        .target = CAIRN_META_CMP_VALUE,
                        .op = CAIRN_META_CMP_EQ,
                        .value = a->leader_value,
                        .value_len = strlen(a->leader_value)};
  cairn_meta_op op = {.type = value ? CAIRN_META_OP_PUT : CAIRN_META_OP_DELETE,
                      .key = key,
                      .value = value,
                      .value_len = value ? strlen(value) : 0};
  cairn_meta_txn txn = {.compares = &cmp, .n_compares = 1, .success = &op,
                        .n_success = 1};
  cairn_meta_txn_result r = {0};
  cairn_error err = {0};
  if (cairn_meta_txn_commit(a->coord->meta, &txn, &r, &err) != CAIRN_OK)
    cairn_log_warn("assignment %s: %s", key, err.message);
  else if (!r.succeeded)
    cairn_log_warn("assignment %s not written: this coordinator is no longer "
                   "the leader", key);
  else
    cairn_log_info("assignment %s = %s", key, value ? value : "(removed)");
  p->writes++;
}

/* The least-loaded node not in `used`; NULL when none. */
static node_load *pick(node_load *nodes, size_t n, const int64_t *used,
                       size_t n_used) {
  node_load *best = NULL;
  for (size_t i = 0; i < n; i++) {
    bool taken = false;
    for (size_t j = 0; j < n_used; j++)
      taken |= used[j] == nodes[i].id;
    if (!taken && (best == NULL || nodes[i].load < best->load))
      best = &nodes[i];
  }
  return best;
}

static void assign_datanode(pass *p, int64_t coll) {
  char key[128];
  snprintf(key, sizeof key, CAIRN_CLUSTER_ASSIGN_DN_PREFIX "%" PRId64, coll);
  const char *cur = assigned_value(p, key);
  node_load *n = cur ? find_node(p->dn, p->n_dn, strtoll(cur, NULL, 10)) : NULL;
  if (n == NULL)
    n = pick(p->dn, p->n_dn, NULL, 0);
  if (n == NULL)
    return; /* no datanode alive: the log keeps the rows meanwhile */
  n->load++;
  char value[32];
  snprintf(value, sizeof value, "%" PRId64, n->id);
  if (cur == NULL || strcmp(cur, value) != 0)
    fenced_write(p, key, value);
}

static void assign_querynodes(pass *p, int64_t coll, int replicas) {
  if (replicas > MAX_NODES)
    replicas = MAX_NODES;
  int64_t used[MAX_NODES];
  size_t n_used = 0;
  /* Keep valid replicas first so they never move needlessly. */
  bool keep[MAX_NODES] = {false};
  for (int r = 0; r < replicas; r++) {
    char key[128];
    snprintf(key, sizeof key, CAIRN_CLUSTER_ASSIGN_QN_PREFIX "%" PRId64 "/%d",
             coll, r);
    const char *cur = assigned_value(p, key);
    node_load *n = cur ? find_node(p->qn, p->n_qn, strtoll(cur, NULL, 10)) : NULL;
    bool dup = false;
    for (size_t j = 0; n && j < n_used; j++)
      dup |= used[j] == n->id;
    if (n != NULL && !dup) {
      keep[r] = true;
      used[n_used++] = n->id;
      n->load++;
    }
  }
  for (int r = 0; r < replicas; r++) {
    if (keep[r])
      continue;
    char key[128];
    snprintf(key, sizeof key, CAIRN_CLUSTER_ASSIGN_QN_PREFIX "%" PRId64 "/%d",
             coll, r);
    node_load *n = pick(p->qn, p->n_qn, used, n_used);
    if (n == NULL) {
      if (assigned_value(p, key) != NULL)
        fenced_write(p, key, NULL);
      continue;
    }
    used[n_used++] = n->id;
    n->load++;
    char value[32];
    snprintf(value, sizeof value, "%" PRId64, n->id);
    fenced_write(p, key, value);
  }
}

/* Delete assignments (and events) of collections not in `colls`, and
 * querynode replicas beyond what a collection wants. */
static void remove_stale(pass *p, const int64_t *colls, const int *replicas,
                         size_t n_colls) {
  for (size_t i = 0; i < p->n_assigned; i++) {
    const char *key = p->assigned[i].key;
    const char *rest = NULL;
    if (strncmp(key, CAIRN_CLUSTER_ASSIGN_DN_PREFIX,
                strlen(CAIRN_CLUSTER_ASSIGN_DN_PREFIX)) == 0)
      rest = key + strlen(CAIRN_CLUSTER_ASSIGN_DN_PREFIX);
    else if (strncmp(key, CAIRN_CLUSTER_ASSIGN_QN_PREFIX,
                     strlen(CAIRN_CLUSTER_ASSIGN_QN_PREFIX)) == 0)
      rest = key + strlen(CAIRN_CLUSTER_ASSIGN_QN_PREFIX);
    else if (strncmp(key, CAIRN_CLUSTER_EVENT_PREFIX,
                     strlen(CAIRN_CLUSTER_EVENT_PREFIX)) == 0)
      rest = key + strlen(CAIRN_CLUSTER_EVENT_PREFIX);
    if (rest == NULL)
      continue;
    char *end = NULL;
    int64_t coll = strtoll(rest, &end, 10);
    bool is_qn = *end == '/';
    int replica = is_qn ? atoi(end + 1) : 0;
    bool keep = false;
    for (size_t j = 0; j < n_colls && !keep; j++)
      keep = colls[j] == coll && (!is_qn || replica < replicas[j]);
    if (!keep)
      fenced_write(p, key, NULL);
  }
}

/* Every collection of every database: ids and wanted replicas (0 when not
 * loaded). Arrays malloc'd. */
static cairn_status list_collections(cairn_coord *coord, int64_t **ids,
                                     int **replicas, size_t *n,
                                     cairn_error *err) {
  *ids = NULL;
  *replicas = NULL;
  *n = 0;
  cairn_arena *arena = cairn_arena_new();
  if (arena == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  cat_db **dbs = NULL;
  size_t n_dbs = 0, cap = 0;
  cairn_status st = cairn_catalog_list_dbs(coord->cat, arena, &dbs, &n_dbs, err);
  for (size_t d = 0; st == CAIRN_OK && d < n_dbs; d++) {
    cat_coll **cs = NULL;
    size_t n_cs = 0;
    st = cairn_catalog_list_collections(coord->cat, arena, dbs[d]->id, &cs,
                                        &n_cs, err);
    for (size_t i = 0; st == CAIRN_OK && i < n_cs; i++) {
      if (*n == cap) {
        cap = cap ? cap * 2 : 64;
        int64_t *ni = realloc(*ids, cap * sizeof *ni);
        if (ni)
          *ids = ni;
        int *nr = realloc(*replicas, cap * sizeof *nr);
        if (nr)
          *replicas = nr;
        if (ni == NULL || nr == NULL) {
          st = cairn_error_set(err, CAIRN_NOMEM, NULL);
          break;
        }
      }
      bool loaded = cs[i]->load_state !=
                        MILVUS__PROTO__COMMON__LOAD_STATE__LoadStateNotLoad ||
                    cs[i]->n_loaded_partitions > 0;
      (*ids)[*n] = cs[i]->id;
      (*replicas)[*n] = loaded ? (cs[i]->replica_number > 0 ? cs[i]->replica_number : 1) : 0;
      (*n)++;
    }
  }
  cairn_arena_free(arena);
  return st;
}

static void run_pass(cairn_coord_assigner *a) {
  pass *p = calloc(1, sizeof *p);
  if (p == NULL)
    return;
  p->a = a;
  p->n_dn = live_nodes(a->view, "datanode", p->dn);
  p->n_qn = live_nodes(a->view, "querynode", p->qn);
  p->n_assigned = cairn_cluster_view_list(a->view, "cluster/", &p->assigned);
  int64_t *colls = NULL;
  int *replicas = NULL;
  size_t n = 0;
  cairn_error err = {0};
  if (list_collections(a->coord, &colls, &replicas, &n, &err) != CAIRN_OK) {
    cairn_log_warn("assignment pass: %s", err.message);
  } else {
    for (size_t i = 0; i < n; i++) {
      assign_datanode(p, colls[i]);
      if (replicas[i] > 0)
        assign_querynodes(p, colls[i], replicas[i]);
      if (replicas[i] > (int)p->n_qn && p->n_qn > 0)
        cairn_log_warn("collection %" PRId64 " wants %d replicas, %zu "
                       "querynodes are alive", colls[i], replicas[i], p->n_qn);
    }
    remove_stale(p, colls, replicas, n);
  }
  free(colls);
  free(replicas);
  cairn_cluster_entries_free(p->assigned, p->n_assigned);
  free(p);
}

/* ---- the loop ---- */

static void *assigner_main(void *arg) {
  cairn_coord_assigner *a = arg;
  pthread_mutex_lock(&a->mu);
  while (!a->stopping) {
    a->kicked = false;
    pthread_mutex_unlock(&a->mu);
    run_pass(a);
    pthread_mutex_lock(&a->mu);
    if (a->kicked || a->stopping)
      continue;
    cairn_cluster_wait(&a->cv, &a->mu, PASS_PERIOD_MS);
  }
  pthread_mutex_unlock(&a->mu);
  return NULL;
}

cairn_status cairn_coord_assign_start(cairn_coord *coord, cairn_cluster_view *view,
                                      const char *leader_value,
                                      cairn_coord_assigner **out,
                                      cairn_error *err) {
  *out = NULL;
  cairn_coord_assigner *a = calloc(1, sizeof *a);
  if (a == NULL || (a->leader_value = strdup(leader_value)) == NULL) {
    free(a);
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  }
  a->coord = coord;
  a->view = view;
  pthread_mutex_init(&a->mu, NULL);
  pthread_cond_init(&a->cv, NULL);
  if (pthread_create(&a->thread, NULL, assigner_main, a) != 0) {
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    free(a->leader_value);
    free(a);
    return cairn_error_set(err, CAIRN_INTERNAL, "cannot start the assigner");
  }
  *out = a;
  return CAIRN_OK;
}

void cairn_coord_assign_kick(cairn_coord_assigner *a) {
  if (a == NULL)
    return;
  pthread_mutex_lock(&a->mu);
  a->kicked = true;
  pthread_cond_broadcast(&a->cv);
  pthread_mutex_unlock(&a->mu);
}

void cairn_coord_assign_stop(cairn_coord_assigner *a) {
  if (a == NULL)
    return;
  pthread_mutex_lock(&a->mu);
  a->stopping = true;
  pthread_cond_broadcast(&a->cv);
  pthread_mutex_unlock(&a->mu);
  pthread_join(a->thread, NULL);
  pthread_mutex_destroy(&a->mu);
  pthread_cond_destroy(&a->cv);
  free(a->leader_value);
  free(a);
}
