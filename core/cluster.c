/*
 * cluster.c — node sessions, the coordinator election and the cluster view
 * (the key layout and invariants are in cluster.h).
 *
 * Session thread: renews the lease every ttl/3. A renewal that fails with
 * "unknown lease" means the lease is gone; one that fails for another
 * reason (etcd restarting) is retried, and when no renewal succeeded for a
 * whole TTL the lease is taken as gone too. Gone: on_lost, or a new lease
 * and the session key put again under the new node id.
 *
 * View thread: range(cluster/) at revision R, then watch from R + 1; each
 * event updates a sorted array of entries under a mutex; a LOST event (or a
 * failed start) makes the thread read everything again after a short pause.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "cluster.h"
#include "log.h"

#define CLUSTER_PREFIX "cluster/"
#define RESYNC_PAUSE_MS 500

void cairn_cluster_wait(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ms) {
  struct timespec ts = cairn_deadline_in(CLOCK_REALTIME, ms);
  pthread_cond_timedwait(cv, mu, &ts);
}

/* ==== sessions ============================================================ */

struct cairn_session {
  cairn_meta *meta;
  char *role;
  char *address;
  int ttl_s;
  cairn_session_lost_fn on_lost;
  void *user;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int64_t lease; /* guarded by mu */
  bool stopping;
  bool leader; /* holds the leader key (re-put after a new lease is not
                  done: a leader that loses its lease calls on_lost) */
  pthread_t thread;
  bool thread_started;
};

static void session_key(const cairn_session *s, int64_t lease, char *buf,
                        size_t len) {
  snprintf(buf, len, CAIRN_CLUSTER_SESSION_PREFIX "%s/%" PRId64, s->role, lease);
}

/* Grant a lease and put the session key with it. */
static cairn_status session_register(cairn_session *s, cairn_error *err) {
  int64_t lease = 0;
  cairn_status st = cairn_meta_lease_grant(s->meta, s->ttl_s, &lease, err);
  if (st != CAIRN_OK)
    return st;
  char key[256];
  session_key(s, lease, key, sizeof key);
  st = cairn_meta_put(s->meta, key, s->address, strlen(s->address), lease, NULL,
                      err);
  if (st != CAIRN_OK) {
    cairn_error ignored = {0};
    cairn_meta_lease_revoke(s->meta, lease, &ignored);
    return st;
  }
  pthread_mutex_lock(&s->mu);
  s->lease = lease;
  pthread_mutex_unlock(&s->mu);
  cairn_log_info("session %s/%" PRId64 " registered (%s, ttl %ds)", s->role,
                 lease, s->address, s->ttl_s);
  return CAIRN_OK;
}

/* The lease is gone: tell the owner, or register again. */
static void session_lost(cairn_session *s) {
  cairn_log_warn("session %s/%" PRId64 " lost its lease", s->role,
                 cairn_session_node_id(s));
  if (s->on_lost != NULL) {
    s->on_lost(s->user);
    return;
  }
  cairn_error err = {0};
  if (session_register(s, &err) != CAIRN_OK)
    cairn_log_warn("session %s: registering again failed: %s (retrying)",
                   s->role, err.message);
}

static void *session_main(void *arg) {
  cairn_session *s = arg;
  int64_t last_ok = cairn_monotonic_ms();
  int64_t period = (int64_t)s->ttl_s * 1000 / 3;
  if (period < 100)
    period = 100;
  pthread_mutex_lock(&s->mu);
  while (!s->stopping) {
    cairn_cluster_wait(&s->cv, &s->mu, period);
    if (s->stopping)
      break;
    int64_t lease = s->lease;
    pthread_mutex_unlock(&s->mu);
    cairn_error err = {0};
    cairn_status st = lease ? cairn_meta_lease_keepalive(s->meta, lease, &err)
                            : CAIRN_IO_NOT_FOUND;
    if (st == CAIRN_OK) {
      last_ok = cairn_monotonic_ms();
    } else if (st == CAIRN_IO_NOT_FOUND ||
               cairn_monotonic_ms() - last_ok > (int64_t)s->ttl_s * 1000) {
      session_lost(s);
      last_ok = cairn_monotonic_ms();
    } else {
      cairn_log_warn("session %s: keep-alive failed: %s (retrying)", s->role,
                     err.message);
    }
    pthread_mutex_lock(&s->mu);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

cairn_status cairn_session_open(cairn_meta *meta, const char *role,
                                const char *address, int ttl_s,
                                cairn_session_lost_fn on_lost, void *user,
                                cairn_session **out, cairn_error *err) {
  *out = NULL;
  if (ttl_s < 1)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "session.ttl must be at least 1 second");
  cairn_session *s = calloc(1, sizeof *s);
  if (s == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  s->meta = meta;
  s->role = strdup(role);
  s->address = strdup(address);
  s->ttl_s = ttl_s;
  s->on_lost = on_lost;
  s->user = user;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  cairn_status st = (s->role && s->address) ? session_register(s, err)
                                            : cairn_error_set(err, CAIRN_NOMEM, NULL);
  if (st == CAIRN_OK) {
    if (pthread_create(&s->thread, NULL, session_main, s) != 0)
      st = cairn_error_set(err, CAIRN_INTERNAL, "cannot start session thread");
    else
      s->thread_started = true;
  }
  if (st != CAIRN_OK) {
    cairn_session_close(s);
    return st;
  }
  *out = s;
  return CAIRN_OK;
}

void cairn_session_close(cairn_session *s) {
  if (s == NULL)
    return;
  pthread_mutex_lock(&s->mu);
  s->stopping = true;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  if (s->thread_started)
    pthread_join(s->thread, NULL);
  if (s->lease != 0) {
    cairn_error ignored = {0};
    cairn_meta_lease_revoke(s->meta, s->lease, &ignored);
  }
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  free(s->role);
  free(s->address);
  free(s);
}

int64_t cairn_session_node_id(cairn_session *s) {
  pthread_mutex_lock(&s->mu);
  int64_t id = s->lease;
  pthread_mutex_unlock(&s->mu);
  return id;
}

/* One attempt: put the leader key if absent. */
static cairn_status try_lead(cairn_session *s, bool *won, cairn_error *err) {
  int64_t lease = cairn_session_node_id(s);
  char value[512];
  snprintf(value, sizeof value, "%" PRId64 " %s", lease, s->address);
  cairn_meta_cmp cmp = {.key = CAIRN_CLUSTER_LEADER_KEY,
                        .target = CAIRN_META_CMP_CREATE_REVISION,
                        .op = CAIRN_META_CMP_EQ,
                        .revision = 0};
  cairn_meta_op put = {.type = CAIRN_META_OP_PUT,
                       .key = CAIRN_CLUSTER_LEADER_KEY,
                       .value = value,
                       .value_len = strlen(value),
                       .lease = lease};
  cairn_meta_txn txn = {.compares = &cmp, .n_compares = 1, .success = &put,
                        .n_success = 1};
  cairn_meta_txn_result r = {0};
  cairn_status st = cairn_meta_txn_commit(s->meta, &txn, &r, err);
  *won = st == CAIRN_OK && r.succeeded;
  return st;
}

cairn_status cairn_session_campaign(cairn_session *s, const volatile bool *stop,
                                    cairn_error *err) {
  bool logged = false;
  while (!*stop) {
    bool won = false;
    cairn_error e = {0};
    if (try_lead(s, &won, &e) != CAIRN_OK)
      cairn_log_warn("election: %s (retrying)", e.message);
    if (won) {
      pthread_mutex_lock(&s->mu);
      s->leader = true;
      pthread_mutex_unlock(&s->mu);
      cairn_log_info("coordinator %" PRId64 " is the leader",
                     cairn_session_node_id(s));
      return CAIRN_OK;
    }
    if (!logged) {
      cairn_log_info("coordinator %" PRId64 " is a standby: waiting for the "
                     "leader's lease to end", cairn_session_node_id(s));
      logged = true;
    }
    struct timespec ts = {0, 200 * 1000000};
    nanosleep(&ts, NULL);
  }
  return cairn_error_set(err, CAIRN_NOT_READY, "election stopped");
}

/* ==== the view ============================================================ */

struct cairn_cluster_view {
  cairn_meta *meta;
  cairn_cluster_change_fn on_change;
  void *user;
  pthread_mutex_t mu; /* guards entries, n, cap, resync, stopping */
  pthread_cond_t cv;
  cairn_cluster_entry *entries; /* sorted by key */
  size_t n, cap;
  bool resync;
  bool stopping;
  cairn_meta_watch *watch; /* owned by the view thread */
  pthread_t thread;
  bool thread_started;
};

/* Index of key, or where it would go (*found false). mu held. */
static size_t view_find(const cairn_cluster_view *v, const char *key,
                        bool *found) {
  size_t lo = 0, hi = v->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = strcmp(v->entries[mid].key, key);
    if (c == 0) {
      *found = true;
      return mid;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  *found = false;
  return lo;
}

/* Set or remove (value NULL) one entry. mu held. */
static void view_apply(cairn_cluster_view *v, const char *key,
                       const char *value, size_t value_len) {
  bool found = false;
  size_t at = view_find(v, key, &found);
  if (value == NULL) {
    if (!found)
      return;
    free(v->entries[at].key);
    free(v->entries[at].value);
    memmove(&v->entries[at], &v->entries[at + 1],
            (v->n - at - 1) * sizeof *v->entries);
    v->n--;
    return;
  }
  char *copy = strndup(value, value_len);
  if (copy == NULL)
    return;
  if (found) {
    free(v->entries[at].value);
    v->entries[at].value = copy;
    return;
  }
  if (v->n == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 64;
    cairn_cluster_entry *e = realloc(v->entries, cap * sizeof *e);
    if (e == NULL) {
      free(copy);
      return;
    }
    v->entries = e;
    v->cap = cap;
  }
  char *k = strdup(key);
  if (k == NULL) {
    free(copy);
    return;
  }
  memmove(&v->entries[at + 1], &v->entries[at], (v->n - at) * sizeof *v->entries);
  v->entries[at] = (cairn_cluster_entry){.key = k, .value = copy};
  v->n++;
}

static void view_clear(cairn_cluster_view *v) {
  cairn_cluster_entries_free(v->entries, v->n);
  v->entries = NULL;
  v->n = v->cap = 0;
}

static void on_event(const cairn_meta_event *ev, void *user) {
  cairn_cluster_view *v = user;
  pthread_mutex_lock(&v->mu);
  if (ev->type == CAIRN_META_EVENT_LOST) {
    v->resync = true;
    pthread_cond_broadcast(&v->cv);
    pthread_mutex_unlock(&v->mu);
    return;
  }
  view_apply(v, ev->kv.key,
             ev->type == CAIRN_META_EVENT_PUT ? (const char *)ev->kv.value : NULL,
             ev->kv.value_len);
  pthread_mutex_unlock(&v->mu);
  if (v->on_change)
    v->on_change(v->user);
}

/* Read everything and start the watch after that snapshot. */
static cairn_status view_sync(cairn_cluster_view *v, cairn_error *err) {
  cairn_meta_kvs kvs = {0};
  cairn_status st = cairn_meta_range(v->meta, CLUSTER_PREFIX, NULL, 0, &kvs, err);
  if (st != CAIRN_OK)
    return st;
  pthread_mutex_lock(&v->mu);
  view_clear(v);
  for (size_t i = 0; i < kvs.count; i++)
    view_apply(v, kvs.items[i].key, (const char *)kvs.items[i].value,
               kvs.items[i].value_len);
  pthread_mutex_unlock(&v->mu);
  int64_t rev = kvs.revision;
  cairn_meta_kvs_free(&kvs);
  st = cairn_meta_watch_start(v->meta, CLUSTER_PREFIX, rev + 1, on_event, v,
                              &v->watch, err);
  if (v->on_change)
    v->on_change(v->user);
  return st;
}

static void *view_main(void *arg) {
  cairn_cluster_view *v = arg;
  pthread_mutex_lock(&v->mu);
  while (!v->stopping) {
    if (!v->resync) {
      pthread_cond_wait(&v->cv, &v->mu);
      continue;
    }
    pthread_mutex_unlock(&v->mu);
    cairn_meta_watch_cancel(v->meta, v->watch);
    v->watch = NULL;
    cairn_error err = {0};
    cairn_status st = view_sync(v, &err);
    if (st != CAIRN_OK)
      cairn_log_warn("cluster view: %s (retrying)", err.message);
    pthread_mutex_lock(&v->mu);
    if (st == CAIRN_OK)
      v->resync = false;
    else
      cairn_cluster_wait(&v->cv, &v->mu, RESYNC_PAUSE_MS);
  }
  pthread_mutex_unlock(&v->mu);
  return NULL;
}

cairn_status cairn_cluster_view_open(cairn_meta *meta,
                                     cairn_cluster_change_fn on_change,
                                     void *user, cairn_cluster_view **out,
                                     cairn_error *err) {
  *out = NULL;
  cairn_cluster_view *v = calloc(1, sizeof *v);
  if (v == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  v->meta = meta;
  v->on_change = on_change;
  v->user = user;
  pthread_mutex_init(&v->mu, NULL);
  pthread_cond_init(&v->cv, NULL);
  cairn_status st = view_sync(v, err);
  if (st == CAIRN_OK && pthread_create(&v->thread, NULL, view_main, v) != 0)
    st = cairn_error_set(err, CAIRN_INTERNAL, "cannot start cluster view thread");
  else if (st == CAIRN_OK)
    v->thread_started = true;
  if (st != CAIRN_OK) {
    cairn_cluster_view_close(v);
    return st;
  }
  *out = v;
  return CAIRN_OK;
}

void cairn_cluster_view_close(cairn_cluster_view *v) {
  if (v == NULL)
    return;
  pthread_mutex_lock(&v->mu);
  v->stopping = true;
  pthread_cond_broadcast(&v->cv);
  pthread_mutex_unlock(&v->mu);
  if (v->thread_started)
    pthread_join(v->thread, NULL);
  cairn_meta_watch_cancel(v->meta, v->watch);
  view_clear(v);
  pthread_mutex_destroy(&v->mu);
  pthread_cond_destroy(&v->cv);
  free(v);
}

char *cairn_cluster_view_get(cairn_cluster_view *v, const char *key) {
  pthread_mutex_lock(&v->mu);
  bool found = false;
  size_t at = view_find(v, key, &found);
  char *value = found ? strdup(v->entries[at].value) : NULL;
  pthread_mutex_unlock(&v->mu);
  return value;
}

size_t cairn_cluster_view_list(cairn_cluster_view *v, const char *prefix,
                               cairn_cluster_entry **out) {
  *out = NULL;
  size_t plen = strlen(prefix);
  pthread_mutex_lock(&v->mu);
  bool found = false;
  size_t first = view_find(v, prefix, &found), end = first;
  while (end < v->n && strncmp(v->entries[end].key, prefix, plen) == 0)
    end++;
  size_t n = 0;
  cairn_cluster_entry *e = end > first ? calloc(end - first, sizeof *e) : NULL;
  for (size_t i = first; e != NULL && i < end; i++) {
    e[n].key = strdup(v->entries[i].key);
    e[n].value = strdup(v->entries[i].value);
    if (e[n].key == NULL || e[n].value == NULL) {
      free(e[n].key);
      free(e[n].value);
      break;
    }
    n++;
  }
  pthread_mutex_unlock(&v->mu);
  *out = e;
  return n;
}

void cairn_cluster_entries_free(cairn_cluster_entry *e, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(e[i].key);
    free(e[i].value);
  }
  free(e);
}

char *cairn_cluster_view_node_address(cairn_cluster_view *v, int64_t node_id) {
  char suffix[32];
  snprintf(suffix, sizeof suffix, "/%" PRId64, node_id);
  size_t slen = strlen(suffix);
  char *addr = NULL;
  pthread_mutex_lock(&v->mu);
  bool found = false;
  size_t plen = strlen(CAIRN_CLUSTER_SESSION_PREFIX);
  for (size_t i = view_find(v, CAIRN_CLUSTER_SESSION_PREFIX, &found);
       i < v->n && strncmp(v->entries[i].key, CAIRN_CLUSTER_SESSION_PREFIX,
                           plen) == 0;
       i++) {
    size_t klen = strlen(v->entries[i].key);
    if (klen > slen && strcmp(v->entries[i].key + klen - slen, suffix) == 0) {
      addr = strdup(v->entries[i].value);
      break;
    }
  }
  pthread_mutex_unlock(&v->mu);
  return addr;
}

char *cairn_cluster_view_leader(cairn_cluster_view *v) {
  char *value = cairn_cluster_view_get(v, CAIRN_CLUSTER_LEADER_KEY);
  if (value == NULL)
    return NULL;
  char *space = strchr(value, ' ');
  char *addr = space ? strdup(space + 1) : NULL;
  free(value);
  return addr;
}
