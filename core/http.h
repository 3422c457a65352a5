/*
 * http.h — the small HTTP server every role runs beside its gRPC service
 * (DESIGN §1): GET /healthz and GET /metrics, on libmicrohttpd.
 *
 *   /healthz  200 "ok" while the process is serving, 503 "not serving"
 *             otherwise. Serving = the health callback says so when one is
 *             set, else the flag set by cairn_http_set_serving (initially
 *             false, so a role only turns healthy when it is ready).
 *   /metrics  200, Prometheus text format 0.0.4 from core/metrics.h.
 *   anything else 404; methods other than GET/HEAD 405.
 *
 * Threading: libmicrohttpd runs its own thread pool (2 threads); requests
 * are answered on those threads. The health callback runs there too and must
 * be thread-safe and quick. All functions here may be called from any
 * thread; cairn_http_stop must be called once, by one thread.
 */
#ifndef CAIRN_HTTP_H
#define CAIRN_HTTP_H

#include <stdbool.h>

#include "status.h"

typedef struct cairn_http cairn_http;

/* Returns true while the process is serving. */
typedef bool (*cairn_http_health_fn)(void *user);

/* Listen on host:port ("0.0.0.0", "127.0.0.1", "::", a name) and serve.
 * port 0 picks a free port (see cairn_http_port). On success the caller owns
 * *out and releases it with cairn_http_stop. Errors (bad host, port in use)
 * give CAIRN_IO / CAIRN_INVALID_ARGUMENT with the address in the message. */
cairn_status cairn_http_start(const char *host, int port, cairn_http **out,
                              cairn_error *err);
/* The port actually bound. */
int cairn_http_port(const cairn_http *server);
/* Set the serving flag used when no health callback is set. */
void cairn_http_set_serving(cairn_http *server, bool serving);
/* Use fn(user) for /healthz (NULL fn = back to the flag). */
void cairn_http_set_health_fn(cairn_http *server, cairn_http_health_fn fn,
                              void *user);
/* Stop accepting, let requests in progress finish, release everything.
 * NULL is a no-op. */
void cairn_http_stop(cairn_http *server);

#endif
