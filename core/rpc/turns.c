/*
 * turns.c — poller turns, shared by both server transports (see
 * rpc_internal.h): at most n_pollers workers take events at a time; the
 * others stand by until a turn is given up with a wake-up (a handler of a
 * blocking method is about to run) or the server stops.
 * Invariant: n_turns <= n_pollers while not opened; the stop opens the
 * limit for good so that every standby reaches its exit path.
 */
#include "rpc_internal.h"

void rpc_turns_init(rpc_turns *t, int workers, int pollers) {
  pthread_mutex_init(&t->mu, NULL);
  pthread_cond_init(&t->cv, NULL);
  t->n_pollers = pollers > 0 && pollers < workers ? pollers : workers;
  t->n_turns = 0;
  t->opened = false;
}

void rpc_turns_destroy(rpc_turns *t) {
  pthread_mutex_destroy(&t->mu);
  pthread_cond_destroy(&t->cv);
}

void rpc_turns_take(rpc_turns *t) {
  pthread_mutex_lock(&t->mu);
  while (t->n_turns >= t->n_pollers && !t->opened)
    pthread_cond_wait(&t->cv, &t->mu);
  t->n_turns++;
  pthread_mutex_unlock(&t->mu);
}

void rpc_turns_give(rpc_turns *t, bool wake_standby) {
  pthread_mutex_lock(&t->mu);
  t->n_turns--;
  if (wake_standby)
    pthread_cond_signal(&t->cv);
  pthread_mutex_unlock(&t->mu);
}

void rpc_turns_open(rpc_turns *t) {
  pthread_mutex_lock(&t->mu);
  t->opened = true;
  pthread_cond_broadcast(&t->cv);
  pthread_mutex_unlock(&t->mu);
}
