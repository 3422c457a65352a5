/*
 * rpc_internal.h — the two server transports behind rpc.h's server API
 * (server_api.c picks one per server): the gRPC C core server (server.c)
 * and the native HTTP/2 server on libnghttp2 (h2server.c). Same contract
 * as cairn_rpc_server_start / _port / _stop.
 */
#ifndef CAIRN_RPC_INTERNAL_H
#define CAIRN_RPC_INTERNAL_H
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "rpc.h"

/* A method served by one of a server's services. */
typedef struct rpc_served {
  const char *path;                     /* owned by the service */
  const cairn_rpc_service *service;
  const ProtobufCMessageDescriptor *in; /* request type */
  bool blocking;                        /* marked blocking (rpc.h) */
} rpc_served;

/* Every path served by the NULL-terminated service list, once (a path
 * served twice: the first service wins), as a malloc'd array of *n (the
 * caller frees it); NULL when out of memory. (service.c) */
rpc_served *rpc_served_methods(cairn_rpc_service *const *services, size_t *n);

/* Poller turns (turns.c): at most n_pollers of a server's workers take
 * events at a time; a worker gives its turn up, waking a standby, before a
 * handler of a method marked blocking; the stop opens the limit. */
typedef struct rpc_turns {
  pthread_mutex_t mu;
  pthread_cond_t cv; /* a turn was given up with a wake-up, or opened */
  int n_pollers;     /* min(pollers, workers); pollers <= 0: workers */
  int n_turns;       /* turns held */
  bool opened;       /* the server stops: no limit any more */
} rpc_turns;
void rpc_turns_init(rpc_turns *turns, int workers, int pollers);
void rpc_turns_destroy(rpc_turns *turns);
void rpc_turns_take(rpc_turns *turns);
void rpc_turns_give(rpc_turns *turns, bool wake_standby);
void rpc_turns_open(rpc_turns *turns);

typedef struct grpcc_server grpcc_server;
cairn_status grpcc_server_start(const cairn_rpc_server_options *opts,
                                cairn_rpc_service *const *services,
                                cairn_rpc_observer observer, void *observer_user,
                                grpcc_server **out, cairn_error *err);
int grpcc_server_port(const grpcc_server *server);
void grpcc_server_stop(grpcc_server *server, int grace_ms);

typedef struct h2_server h2_server;
cairn_status h2_server_start(const cairn_rpc_server_options *opts,
                             cairn_rpc_service *const *services,
                             cairn_rpc_observer observer, void *observer_user,
                             h2_server **out, cairn_error *err);
int h2_server_port(const h2_server *server);
void h2_server_stop(h2_server *server, int grace_ms);

/* grpc-timeout header value -> milliseconds (rounded up); -1 when
 * malformed. */
int64_t h2_parse_timeout(const uint8_t *value, size_t len);

/* Fuzzing the native server without sockets or threads: a server that
 * serves the services, and one connection fed `data` (as a client's bytes,
 * in pieces); its calls run inline, its output is dropped. */
cairn_status h2_fuzz_new(cairn_rpc_service *const *services,
                         size_t max_message_bytes, h2_server **out,
                         cairn_error *err);
void h2_fuzz_feed(h2_server *server, const uint8_t *data, size_t len);
void h2_fuzz_free(h2_server *server);
#endif
