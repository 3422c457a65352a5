/*
 * clock.c — milliseconds on the two clocks and condition-variable
 * deadlines (see clock.h for which clock serves what).
 */
#include "clock.h"

static int64_t ms_of(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cairn_monotonic_ms(void) { return ms_of(CLOCK_MONOTONIC); }

int64_t cairn_realtime_ms(void) { return ms_of(CLOCK_REALTIME); }

struct timespec cairn_deadline_in(clockid_t clock, int64_t ms) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  if (ms < 0)
    ms = 0;
  ts.tv_sec += (time_t)(ms / 1000);
  ts.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  return ts;
}
