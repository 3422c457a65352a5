/*
 * meta_version.c — a counter following the changes under a meta-store
 * prefix through a watch (meta_version.h).
 *
 * State: `counter` only grows. `watching` is true while a watch is known to
 * be delivering: get returns the counter as it is; otherwise get bumps it
 * and returns the new value (never returned before). The keeper thread owns
 * the watch handle: it starts the watch, and after a LOST event cancels it
 * and starts another. Order on a start: the watch first, then one bump, then
 * `watching` — a value read before the bump can therefore never be returned
 * again once the watch runs, whatever was read while no watch ran.
 * A LOST event clears `watching` before anything else, from the watch's own
 * thread, so a break is seen by the next get; the keeper learns of it
 * through `lost` (under mu) and restarts.
 */
#include "clock.h"
#include "meta_version.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define RETRY_FIRST_MS 100
#define RETRY_MAX_MS 2000

struct cairn_meta_version {
  cairn_meta *meta; /* borrowed */
  char *prefix;
  char **ignore; /* NULL-terminated; owned */
  _Atomic uint64_t counter;
  atomic_bool watching;
  pthread_mutex_t mu;
  pthread_cond_t wake;     /* CLOCK_MONOTONIC; signalled on lost and on stop */
  cairn_meta_watch *watch; /* under mu; the keeper's */
  bool lost;               /* under mu: the running watch reported LOST */
  bool stopping;           /* under mu */
  pthread_t keeper;
};

static bool ignored(const cairn_meta_version *v, const char *key) {
  for (char **p = v->ignore; *p != NULL; p++)
    if (strncmp(key, *p, strlen(*p)) == 0)
      return true;
  return false;
}

static void on_event(const cairn_meta_event *ev, void *user) {
  cairn_meta_version *v = user;
  if (ev->type != CAIRN_META_EVENT_LOST && ev->kv.key != NULL && ignored(v, ev->kv.key))
    return;
  if (ev->type == CAIRN_META_EVENT_LOST)
    atomic_store(&v->watching, false);
  atomic_fetch_add(&v->counter, 1);
  if (ev->type != CAIRN_META_EVENT_LOST)
    return;
  pthread_mutex_lock(&v->mu);
  v->lost = true;
  pthread_cond_signal(&v->wake);
  pthread_mutex_unlock(&v->mu);
}

uint64_t cairn_meta_version_get(cairn_meta_version *v) {
  if (atomic_load(&v->watching))
    return atomic_load(&v->counter);
  return atomic_fetch_add(&v->counter, 1) + 1;
}

/* Wait on wake for up to ms, or until signalled. Under mu. */
static void wait_ms(cairn_meta_version *v, int ms) {
  struct timespec until = cairn_deadline_in(CLOCK_MONOTONIC, ms);
  pthread_cond_timedwait(&v->wake, &v->mu, &until);
}

/* Cancel the keeper's watch, if any. Called and returns under mu; drops it
 * meanwhile (cancel waits for the watch's callback, which takes mu). */
static void drop_watch(cairn_meta_version *v) {
  cairn_meta_watch *w = v->watch;
  v->watch = NULL;
  if (w == NULL)
    return;
  pthread_mutex_unlock(&v->mu);
  cairn_meta_watch_cancel(v->meta, w);
  pthread_mutex_lock(&v->mu);
}

/* One attempt to start the watch. Under mu (dropped during the start);
 * true when one runs. */
static bool start_watch(cairn_meta_version *v, bool *warned) {
  v->lost = false;
  pthread_mutex_unlock(&v->mu);
  cairn_meta_watch *w = NULL;
  cairn_error err = {0};
  cairn_status st = cairn_meta_watch_start(v->meta, v->prefix, 0, on_event, v, &w, &err);
  pthread_mutex_lock(&v->mu);
  if (st != CAIRN_OK) {
    if (!*warned)
      cairn_log_warn("watch of %s could not start, retrying: %s", v->prefix,
                     err.message);
    *warned = true;
    return false;
  }
  v->watch = w;
  if (v->lost) /* lost already: the loop starts another */
    return false;
  atomic_fetch_add(&v->counter, 1);
  atomic_store(&v->watching, true);
  if (*warned)
    cairn_log_info("watch of %s running again", v->prefix);
  *warned = false;
  return true;
}

static void *keeper_main(void *arg) {
  cairn_meta_version *v = arg;
  int pause_ms = RETRY_FIRST_MS;
  bool warned = false;
  pthread_mutex_lock(&v->mu);
  while (!v->stopping) {
    if (v->watch != NULL && !v->lost) {
      pthread_cond_wait(&v->wake, &v->mu);
      continue;
    }
    drop_watch(v);
    if (v->stopping)
      break;
    if (start_watch(v, &warned)) {
      pause_ms = RETRY_FIRST_MS;
      continue;
    }
    if (v->watch != NULL) /* started but lost at once: restart now */
      continue;
    wait_ms(v, pause_ms);
    pause_ms = pause_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : pause_ms * 2;
  }
  drop_watch(v);
  pthread_mutex_unlock(&v->mu);
  return NULL;
}

static void free_list(char **list) {
  for (char **p = list; p != NULL && *p != NULL; p++)
    free(*p);
  free(list);
}

/* A copy of a NULL-terminated list (NULL: an empty one); NULL on OOM. */
static char **copy_list(const char *const *list) {
  size_t n = 0;
  while (list != NULL && list[n] != NULL)
    n++;
  char **copy = calloc(n + 1, sizeof *copy);
  for (size_t i = 0; copy != NULL && i < n; i++)
    if ((copy[i] = strdup(list[i])) == NULL) {
      free_list(copy);
      return NULL;
    }
  return copy;
}

cairn_status cairn_meta_version_open(cairn_meta *meta, const char *prefix,
                                     const char *const *ignore,
                                     cairn_meta_version **out, cairn_error *err) {
  if (out != NULL)
    *out = NULL;
  if (meta == NULL || prefix == NULL || out == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "meta version: bad argument");
  cairn_meta_version *v = calloc(1, sizeof *v);
  if (v == NULL || (v->prefix = strdup(prefix)) == NULL ||
      (v->ignore = copy_list(ignore)) == NULL) {
    if (v != NULL)
      free(v->prefix);
    free(v);
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  }
  v->meta = meta;
  atomic_init(&v->counter, 0);
  atomic_init(&v->watching, false);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&v->wake, &attr);
  pthread_condattr_destroy(&attr);
  pthread_mutex_init(&v->mu, NULL);
  int rc = pthread_create(&v->keeper, NULL, keeper_main, v);
  if (rc != 0) {
    pthread_cond_destroy(&v->wake);
    pthread_mutex_destroy(&v->mu);
    free_list(v->ignore);
    free(v->prefix);
    free(v);
    return cairn_error_set(err, CAIRN_NOMEM, "cannot start the watch keeper: %s",
                           strerror(rc));
  }
  *out = v;
  return CAIRN_OK;
}

void cairn_meta_version_close(cairn_meta_version *v) {
  if (v == NULL)
    return;
  pthread_mutex_lock(&v->mu);
  v->stopping = true;
  pthread_cond_signal(&v->wake);
  pthread_mutex_unlock(&v->mu);
  pthread_join(v->keeper, NULL);
  pthread_cond_destroy(&v->wake);
  pthread_mutex_destroy(&v->mu);
  free_list(v->ignore);
  free(v->prefix);
  free(v);
}
