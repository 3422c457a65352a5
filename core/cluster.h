/*
 * cluster.h — what the roles of a cluster share through the meta store
 * (etcd): node sessions, the coordinator's election, and a live local copy
 * of the cluster keys (cluster.c).
 *
 * Key layout (relative to the meta store's root, e.g. etcd.rootPath):
 *   cluster/session/{role}/{node id}   "host:port" of the node's gRPC, put
 *                                      with the node's lease (node id = the
 *                                      lease id, so it is unique and dies
 *                                      with the lease)
 *   cluster/leader/coordinator         "{node id} host:port" of the active
 *                                      coordinator, put with its lease
 *   cluster/assign/datanode/{collection id}             "{node id}"
 *   cluster/assign/querynode/{collection id}/{replica}  "{node id}"
 *                                      written only by the active
 *                                      coordinator (coordinator/coord_assign.c)
 *   cluster/event/{collection id}      bumped (put) by the coordinator when
 *                                      the collection's segments, index
 *                                      files or index definitions change;
 *                                      querynodes refresh, indexnodes build
 *
 * Invariants: a node only acts on assignments naming its current node id; a
 * node whose lease is gone registers again under a new id (its old
 * assignments are moved by the coordinator like those of a dead node); the
 * coordinator that loses its lease stops (on_lost), so two coordinators
 * never act at once for longer than the lease TTL.
 *
 * Threading: every function is thread-safe. Callbacks run on the session's
 * or the view's own thread and must not block for long.
 */
#ifndef CAIRN_CLUSTER_H
#define CAIRN_CLUSTER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "meta.h"
#include "status.h"

#define CAIRN_CLUSTER_SESSION_PREFIX "cluster/session/"
#define CAIRN_CLUSTER_LEADER_KEY "cluster/leader/coordinator"
#define CAIRN_CLUSTER_ASSIGN_DN_PREFIX "cluster/assign/datanode/"
#define CAIRN_CLUSTER_ASSIGN_QN_PREFIX "cluster/assign/querynode/"
#define CAIRN_CLUSTER_EVENT_PREFIX "cluster/event/"

/* The background loops of cluster processes wait with this: on cv (mu
 * held) until signalled or ms pass. */
void cairn_cluster_wait(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ms);

/* ---- sessions ----------------------------------------------------------- */

typedef struct cairn_session cairn_session;

/* Called on the session thread when the lease is gone (expired, revoked,
 * or not renewed within its TTL). When NULL the session registers again
 * under a new node id. */
typedef void (*cairn_session_lost_fn)(void *user);

/* Grant a lease of ttl_s seconds, put cluster/session/{role}/{id} =
 * address with it, and keep it alive on a background thread (every
 * ttl/3). meta is borrowed and must outlive the session. */
cairn_status cairn_session_open(cairn_meta *meta, const char *role,
                                const char *address, int ttl_s,
                                cairn_session_lost_fn on_lost, void *user,
                                cairn_session **out, cairn_error *err);
/* Revoke the lease (the session key goes at once) and stop. NULL is
 * allowed. */
void cairn_session_close(cairn_session *s);
int64_t cairn_session_node_id(cairn_session *s);

/* Coordinator election: block until this session holds
 * cluster/leader/coordinator (value "{node id} {address}") or *stop turns
 * true (CAIRN_NOT_READY). A key left by a dead leader disappears with its
 * lease, so a standby takes over within one TTL. */
cairn_status cairn_session_campaign(cairn_session *s, const volatile bool *stop,
                                    cairn_error *err);

/* ---- the cluster view --------------------------------------------------- */

typedef struct cairn_cluster_view cairn_cluster_view;

/* One key under cluster/ and its value (both NUL-terminated). */
typedef struct cairn_cluster_entry {
  char *key;
  char *value;
} cairn_cluster_entry;

/* Called after the view changed (one or more keys), on the view's thread. */
typedef void (*cairn_cluster_change_fn)(void *user);

/* Read every key under cluster/ and follow changes with a watch; when the
 * watch is lost (etcd restarted, history compacted) the view reads
 * everything again. on_change may be NULL. */
cairn_status cairn_cluster_view_open(cairn_meta *meta,
                                     cairn_cluster_change_fn on_change,
                                     void *user, cairn_cluster_view **out,
                                     cairn_error *err);
void cairn_cluster_view_close(cairn_cluster_view *v);

/* The value of key (malloc'd copy, caller frees) or NULL when absent. */
char *cairn_cluster_view_get(cairn_cluster_view *v, const char *key);
/* Copies of the entries under prefix, in key order; *out (caller frees
 * with cairn_cluster_entries_free) may be NULL when there are none. */
size_t cairn_cluster_view_list(cairn_cluster_view *v, const char *prefix,
                               cairn_cluster_entry **out);
void cairn_cluster_entries_free(cairn_cluster_entry *e, size_t n);
/* The gRPC address of a live node of any role, or NULL (malloc'd). */
char *cairn_cluster_view_node_address(cairn_cluster_view *v, int64_t node_id);
/* The address of the active coordinator, or NULL (malloc'd). */
char *cairn_cluster_view_leader(cairn_cluster_view *v);

#endif
