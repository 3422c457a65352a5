/*
 * clock.h — the time of day and the monotonic clock in milliseconds, and
 * absolute deadlines for pthread_cond_timedwait.
 *
 * Which clock: durations, timeouts and leases are measured on
 * CLOCK_MONOTONIC (a step of the wall clock must not expire or extend
 * them); timestamps that leave the process (the TSO's physical part, gRPC
 * deadlines, log lines) are CLOCK_REALTIME. A deadline for a condition
 * variable is on the clock the variable was made with: CLOCK_REALTIME for
 * a default pthread_cond_t, CLOCK_MONOTONIC for one whose attribute says so
 * (pthread_condattr_setclock).
 *
 * Threading: pure functions of the clocks.
 */
#ifndef CAIRN_CLOCK_H
#define CAIRN_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds on CLOCK_MONOTONIC (since an arbitrary start). */
int64_t cairn_monotonic_ms(void);
/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t cairn_realtime_ms(void);
/* The absolute time `ms` from now on `clock`, normalised (tv_nsec below one
 * second); a negative ms is taken as 0. */
struct timespec cairn_deadline_in(clockid_t clock, int64_t ms);

#endif
