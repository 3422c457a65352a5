/*
 * http.c — /healthz and /metrics on libmicrohttpd (http.h).
 *
 * The daemon runs an internal thread pool of POOL_THREADS threads with
 * MHD's automatic poll/epoll choice. We resolve the address ourselves
 * (getaddrinfo, passive) and hand MHD the sockaddr, so IPv4, IPv6 and names
 * all work; the bound port is read back with getsockname on MHD's listening
 * socket, which is how port 0 reports the port it picked.
 *
 * Stop: MHD_quiesce_daemon first (no new connections; the listening socket
 * becomes ours to close), then MHD_stop_daemon, which joins the pool after
 * the handlers in progress return. Responses here are built in one call, so
 * nothing is cut short.
 *
 * State shared with the pool threads: `serving` (atomic) and the health
 * callback (guarded by `mu`).
 */
#include "http.h"

#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"

#define POOL_THREADS 2
#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct cairn_http {
  struct MHD_Daemon *daemon;
  int port;                  /* bound port; fixed after start */
  atomic_bool serving;
  pthread_mutex_t mu;        /* guards health_fn, health_user */
  cairn_http_health_fn health_fn;
  void *health_user;
};

static bool is_serving(cairn_http *s) {
  pthread_mutex_lock(&s->mu);
  cairn_http_health_fn fn = s->health_fn;
  void *user = s->health_user;
  pthread_mutex_unlock(&s->mu);
  return fn != NULL ? fn(user) : atomic_load(&s->serving);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code,
                             const char *type, void *body, size_t len,
                             enum MHD_ResponseMemoryMode mode) {
  struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
  if (r == NULL) {
    if (mode == MHD_RESPMEM_MUST_FREE)
      free(body);
    return MHD_NO;
  }
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  enum MHD_Result ret = MHD_queue_response(c, code, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned code,
                                  const char *text) {
  return reply(c, code, "text/plain; charset=utf-8", (void *)text, strlen(text),
               MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result serve_metrics(struct MHD_Connection *c) {
  char *body;
  size_t len;
  cairn_error err;
  if (cairn_metrics_render(&body, &len, &err) != CAIRN_OK)
    return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "metrics unavailable\n");
  return reply(c, MHD_HTTP_OK, METRICS_TYPE, body, len, MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls) {
  (void)version, (void)upload_data, (void)con_cls;
  cairn_http *s = cls;
  if (*upload_data_size != 0) { /* ignore any request body */
    *upload_data_size = 0;
    return MHD_YES;
  }
  bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
             strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
  bool known = strcmp(url, "/healthz") == 0 || strcmp(url, "/metrics") == 0;
  if (!known)
    return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
  if (!get)
    return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
  if (strcmp(url, "/metrics") == 0)
    return serve_metrics(c);
  return is_serving(s) ? reply_text(c, MHD_HTTP_OK, "ok")
                       : reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "not serving");
}

static cairn_status resolve(const char *host, int port, struct addrinfo **ai,
                            cairn_error *err) {
  char ps[16];
  snprintf(ps, sizeof ps, "%d", port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  int rc = getaddrinfo(host, ps, &hints, ai);
  if (rc != 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "http: cannot resolve listen address '%s': %s", host,
                           gai_strerror(rc));
  return CAIRN_OK;
}

static int bound_port(struct MHD_Daemon *d) {
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_LISTEN_FD);
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  if (info == NULL || getsockname(info->listen_fd, (struct sockaddr *)&ss, &sl) != 0)
    return -1;
  if (ss.ss_family == AF_INET6)
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

cairn_status cairn_http_start(const char *host, int port, cairn_http **out,
                              cairn_error *err) {
  *out = NULL;
  if (host == NULL || port < 0 || port > 65535)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "http: invalid listen address %s:%d",
                           host ? host : "(null)", port);
  struct addrinfo *ai;
  cairn_status st = resolve(host, port, &ai, err);
  if (st != CAIRN_OK)
    return st;
  cairn_http *s = calloc(1, sizeof *s);
  if (s == NULL) {
    freeaddrinfo(ai);
    return cairn_error_set(err, CAIRN_NOMEM, "http: out of memory");
  }
  pthread_mutex_init(&s->mu, NULL);
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC |
                   (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
  s->daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handle, s,
                               MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                               MHD_OPTION_THREAD_POOL_SIZE, (unsigned)POOL_THREADS,
                               MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                               MHD_OPTION_END);
  freeaddrinfo(ai);
  if (s->daemon == NULL || (s->port = bound_port(s->daemon)) < 0) {
    cairn_http_stop(s);
    return cairn_error_set(err, CAIRN_IO,
                           "http: cannot listen on %s:%d (address in use or "
                           "not available)",
                           host, port);
  }
  *out = s;
  return CAIRN_OK;
}

int cairn_http_port(const cairn_http *server) {
  return server ? server->port : -1;
}

void cairn_http_set_serving(cairn_http *server, bool serving) {
  if (server)
    atomic_store(&server->serving, serving);
}

void cairn_http_set_health_fn(cairn_http *server, cairn_http_health_fn fn,
                              void *user) {
  if (server == NULL)
    return;
  pthread_mutex_lock(&server->mu);
  server->health_fn = fn;
  server->health_user = user;
  pthread_mutex_unlock(&server->mu);
}

void cairn_http_stop(cairn_http *server) {
  if (server == NULL)
    return;
  if (server->daemon != NULL) {
    MHD_socket fd = MHD_quiesce_daemon(server->daemon);
    MHD_stop_daemon(server->daemon);
    if (fd != MHD_INVALID_SOCKET)
      close(fd);
  }
  pthread_mutex_destroy(&server->mu);
  free(server);
}
