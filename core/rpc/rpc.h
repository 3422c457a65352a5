/*
 * rpc.h — unary RPC on protobuf-c messages: a method table, a gRPC server
 * (native HTTP/2 on libnghttp2, or the gRPC C core), a gRPC client (gRPC C
 * core), and a direct in-process transport.
 *
 * The model: a *service* is a table of handlers keyed by full method path
 * ("/milvus.proto.milvus.MilvusService/Connect"), each with the protobuf-c
 * descriptors of its request and reply. The same service can be
 *   - served over gRPC by cairn_rpc_server (the layer unpacks the request
 *     into a per-call arena, runs the handler, packs the reply), or
 *   - called in-process through a direct cairn_rpc_client: the caller's
 *     request struct is handed to the handler as is, and the reply is built
 *     in the caller's arena. No serialisation, same handler code.
 * A method that is not in the table answers gRPC UNIMPLEMENTED.
 *
 * Ownership: every message a handler sees or builds lives in ctx->arena and
 * dies with it; handlers never free. The layer owns the arena of a served
 * call; a client caller owns the arena it passes in.
 *
 * Threading: handlers run on the server's worker threads, several at once;
 * a service's user data must be thread-safe. A cairn_rpc_client may be
 * shared between threads.
 */
#ifndef CAIRN_RPC_H
#define CAIRN_RPC_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "status.h"

/* gRPC status codes (a copy of the values of grpc_status_code, so that
 * handlers need not include gRPC headers). */
typedef enum cairn_grpc_code {
  CAIRN_GRPC_OK = 0,
  CAIRN_GRPC_CANCELLED = 1,
  CAIRN_GRPC_UNKNOWN = 2,
  CAIRN_GRPC_INVALID_ARGUMENT = 3,
  CAIRN_GRPC_DEADLINE_EXCEEDED = 4,
  CAIRN_GRPC_NOT_FOUND = 5,
  CAIRN_GRPC_RESOURCE_EXHAUSTED = 8,
  CAIRN_GRPC_UNIMPLEMENTED = 12,
  CAIRN_GRPC_INTERNAL = 13,
  CAIRN_GRPC_UNAVAILABLE = 14,
  CAIRN_GRPC_UNAUTHENTICATED = 16,
} cairn_grpc_code;

/* What a handler knows about its call. */
typedef struct cairn_rpc_ctx {
  cairn_arena *arena;       /* request, reply and scratch live here */
  const char *method;       /* full path, e.g. "/pkg.Service/Method" */
  const char *dbname;       /* "dbname" metadata, "" when absent */
  const char *authorization;/* "authorization" metadata, "" when absent */
  const char *identifier;   /* "identifier" metadata, "" when absent */
  const char *peer;         /* client address, "" in-process */
  int64_t deadline_ms;      /* absolute, CLOCK_REALTIME ms; INT64_MAX = none */
  void *user;               /* the service's user data */
  char *grpc_message;       /* optional text for a non-OK gRPC status */
} cairn_rpc_ctx;

/* Handle one call: read req, set *reply to a message built in ctx->arena.
 * Business errors go inside the reply (common.Status) with CAIRN_GRPC_OK;
 * a non-OK return is a transport-level failure and *reply is ignored. */
typedef cairn_grpc_code (*cairn_rpc_handler)(cairn_rpc_ctx *ctx,
                                             const ProtobufCMessage *req,
                                             ProtobufCMessage **reply);

typedef struct cairn_rpc_method {
  const char *name; /* short method name as in the .proto: "Connect" */
  cairn_rpc_handler handler;
} cairn_rpc_method;

typedef struct cairn_rpc_service cairn_rpc_service;

/* A service built from a protobuf-c service descriptor and a table of
 * handlers by short name (terminated by a {NULL, NULL} entry). Names that
 * are not methods of the descriptor are an error (CAIRN_INVALID_ARGUMENT).
 * The descriptor and user data must outlive the service. */
cairn_status cairn_rpc_service_new(const ProtobufCServiceDescriptor *desc,
                                   const cairn_rpc_method *methods, void *user,
                                   cairn_rpc_service **out, cairn_error *err);
void cairn_rpc_service_free(cairn_rpc_service *service);

/* Run one call against a service: the common core of both transports.
 * Unknown or unserved methods return CAIRN_GRPC_UNIMPLEMENTED. */
cairn_grpc_code cairn_rpc_service_dispatch(const cairn_rpc_service *service,
                                           cairn_rpc_ctx *ctx,
                                           const ProtobufCMessage *req,
                                           ProtobufCMessage **reply);
/* Marks the methods named (short names, NULL-terminated) as blocking:
 * their handlers may wait (a disk sync, another role, a flush), so the gRPC
 * server lets a standby worker take calls while one runs. Before the
 * server starts. Unknown names are an error. */
cairn_status cairn_rpc_service_mark_blocking(cairn_rpc_service *service,
                                             const char *const *names,
                                             cairn_error *err);

/* ---- server ---------------------------------------------------------- */

typedef struct cairn_rpc_server cairn_rpc_server;

/* Which implementation serves the port. Both speak gRPC over HTTP/2 to
 * any gRPC client; NATIVE (libnghttp2 with our own epoll loop, see
 * h2server.c) costs less CPU per call and does not decompress messages
 * (a compressed request gets UNIMPLEMENTED); GRPC_CORE is the gRPC C core
 * server. */
typedef enum cairn_rpc_transport {
  CAIRN_RPC_GRPC_CORE = 0,
  CAIRN_RPC_NATIVE = 1,
} cairn_rpc_transport;

typedef struct cairn_rpc_server_options {
  const char *host;          /* "0.0.0.0", "127.0.0.1", "[::]" */
  int port;                  /* 0 = pick a free port */
  size_t max_message_bytes;  /* receive and send limit */
  int workers;               /* worker threads; <=0 means 4 */
  /* How many of them take calls at a time (<=0 or > workers: all). The
   * others stand by and step in only while a blocking method runs, so a
   * busy server runs about one thread per core without a wait on a flush
   * or a sync stalling every other call. */
  int pollers;
  cairn_rpc_transport transport;
} cairn_rpc_server_options;

/* Called after every served call (metrics); may be NULL. */
typedef void (*cairn_rpc_observer)(void *user, const char *method,
                                   cairn_grpc_code code, double seconds);

/* Start serving every service of the list (NULL-terminated). On success the
 * port is bound and workers run. Services must outlive the server. */
cairn_status cairn_rpc_server_start(const cairn_rpc_server_options *opts,
                                    cairn_rpc_service *const *services,
                                    cairn_rpc_observer observer,
                                    void *observer_user,
                                    cairn_rpc_server **out, cairn_error *err);
/* The bound port. */
int cairn_rpc_server_port(const cairn_rpc_server *server);
/* Stop accepting, cancel calls in flight after grace_ms, join the workers
 * and free the server. NULL is allowed. */
void cairn_rpc_server_stop(cairn_rpc_server *server, int grace_ms);

/* ---- client ---------------------------------------------------------- */

typedef struct cairn_rpc_client cairn_rpc_client;

/* Metadata sent with a call (either may be NULL). */
typedef struct cairn_rpc_call_opts {
  const char *dbname;
  const char *authorization;
  int64_t timeout_ms; /* 0 = 30 s */
} cairn_rpc_call_opts;

/* A gRPC client for "host:port". */
cairn_status cairn_rpc_client_new_grpc(const char *target,
                                       size_t max_message_bytes,
                                       cairn_rpc_client **out,
                                       cairn_error *err);
/* The current "host:port" of a service (malloc'd), or NULL when unknown. */
typedef char *(*cairn_rpc_resolve_fn)(void *user);
/* A gRPC client whose address can change (the active coordinator of a
 * cluster): each call asks resolve for the address; a call that finds the
 * service unreachable or UNAVAILABLE is retried on the address resolved
 * again, for up to failover_ms. */
cairn_status cairn_rpc_client_new_resolving(cairn_rpc_resolve_fn resolve,
                                            void *user,
                                            size_t max_message_bytes,
                                            int64_t failover_ms,
                                            cairn_rpc_client **out,
                                            cairn_error *err);
/* An in-process client that calls the service's handlers directly. */
cairn_status cairn_rpc_client_new_direct(const cairn_rpc_service *service,
                                         cairn_rpc_client **out,
                                         cairn_error *err);
void cairn_rpc_client_free(cairn_rpc_client *client);

/* Call method (full path) with req; the reply is built in arena with type
 * reply_desc. A transport failure returns CAIRN_NOT_READY (unreachable,
 * deadline) or CAIRN_INTERNAL with the gRPC detail in err. */
cairn_status cairn_rpc_call(cairn_rpc_client *client, const char *method,
                            const ProtobufCMessage *req,
                            const ProtobufCMessageDescriptor *reply_desc,
                            const cairn_rpc_call_opts *opts,
                            cairn_arena *arena, ProtobufCMessage **reply,
                            cairn_error *err);

/* Wall clock in ms (CLOCK_REALTIME). */
int64_t cairn_rpc_now_ms(void);

#endif
