/*
 * qn_pool.c — a small fixed thread pool for fanning a search out over
 * segments. A job is a function and a count of task indexes; the caller of
 * qn_pool_run pushes its job, works on it too, and waits until every index
 * is done, so a pool of 0 threads still works (inline). Several jobs may be
 * queued at once (concurrent searches); workers take indexes from the
 * oldest job that has some left. One mutex guards the queue; tasks run
 * outside it.
 */
#include <stdlib.h>

#include "qn_internal.h"

typedef struct qn_job {
  qn_task_fn fn;
  void *arg;
  size_t n, next, done;
  struct qn_job *link;  /* queue of jobs with indexes left */
} qn_job;

struct qn_pool {
  pthread_mutex_t mu;
  pthread_cond_t work;  /* a job was queued, or stop */
  pthread_cond_t done;  /* a task finished */
  qn_job *head, *tail;
  bool stop;
  int n_threads;
  pthread_t *threads;
};

/* Takes the next index of the oldest job (mu held); NULL when none. */
static qn_job *take_nolock(qn_pool *p, size_t *i) {
  qn_job *j = p->head;
  if (j == NULL)
    return NULL;
  *i = j->next++;
  if (j->next == j->n) { /* unlink: nothing left to hand out */
    p->head = j->link;
    if (p->head == NULL)
      p->tail = NULL;
  }
  return j;
}

static void finish(qn_pool *p, qn_job *j) {
  pthread_mutex_lock(&p->mu);
  if (++j->done == j->n)
    pthread_cond_broadcast(&p->done);
  pthread_mutex_unlock(&p->mu);
}

static void *worker(void *arg) {
  qn_pool *p = arg;
  pthread_mutex_lock(&p->mu);
  while (!p->stop) {
    size_t i;
    qn_job *j = take_nolock(p, &i);
    if (j == NULL) {
      pthread_cond_wait(&p->work, &p->mu);
      continue;
    }
    pthread_mutex_unlock(&p->mu);
    j->fn(j->arg, i);
    finish(p, j);
    pthread_mutex_lock(&p->mu);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

cairn_status qn_pool_new(int threads, qn_pool **out, cairn_error *err) {
  qn_pool *p = calloc(1, sizeof *p);
  *out = NULL;
  if (p == NULL || (threads > 0 && (p->threads = calloc((size_t)threads, sizeof *p->threads)) == NULL)) {
    free(p);
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  }
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->work, NULL);
  pthread_cond_init(&p->done, NULL);
  for (int i = 0; i < threads; i++) {
    if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
      break;
    p->n_threads++;
  }
  *out = p;
  return CAIRN_OK;
}

void qn_pool_free(qn_pool *p) {
  if (p == NULL)
    return;
  pthread_mutex_lock(&p->mu);
  p->stop = true;
  pthread_cond_broadcast(&p->work);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < p->n_threads; i++)
    pthread_join(p->threads[i], NULL);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->work);
  pthread_cond_destroy(&p->done);
  free(p->threads);
  free(p);
}

void qn_pool_run(qn_pool *p, qn_task_fn fn, void *arg, size_t n) {
  if (n == 0)
    return;
  if (p == NULL || p->n_threads == 0 || n == 1) {
    for (size_t i = 0; i < n; i++)
      fn(arg, i);
    return;
  }
  qn_job j = {.fn = fn, .arg = arg, .n = n};
  pthread_mutex_lock(&p->mu);
  if (p->tail != NULL)
    p->tail->link = &j;
  else
    p->head = &j;
  p->tail = &j;
  pthread_cond_broadcast(&p->work);
  /* Help with our own job until its indexes are handed out. */
  while (j.next < j.n) {
    size_t i = j.next++;
    if (j.next == j.n) { /* unlink j (it may sit anywhere in the queue) */
      qn_job **pp = &p->head, *prev = NULL;
      while (*pp != &j) {
        prev = *pp;
        pp = &(*pp)->link;
      }
      *pp = j.link;
      if (p->tail == &j)
        p->tail = prev;
    }
    pthread_mutex_unlock(&p->mu);
    fn(arg, i);
    pthread_mutex_lock(&p->mu);
    if (++j.done == j.n)
      pthread_cond_broadcast(&p->done);
  }
  while (j.done < j.n)
    pthread_cond_wait(&p->done, &p->mu);
  pthread_mutex_unlock(&p->mu);
}
