/*
 * test_http.c — the health/metrics HTTP server, driven by a plain socket
 * client (HTTP/1.0 so the server closes after the reply): port 0, /healthz
 * with the flag and with a callback, /metrics content and content type, 404
 * and 405, a busy port, a bad host, IPv6 loopback, and concurrent clients
 * while stopping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "metrics.h"

typedef struct reply {
  int status;
  char head[2048];
  char body[65536];
} reply;

/* Send `request` to 127.0.0.1:port (or ::1) and parse the reply; -1 on
 * connection failure. */
static int http_do(bool v6, int port, const char *request, reply *r) {
  memset(r, 0, sizeof *r);
  int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &a4.sin_addr);
  a6.sin6_addr = in6addr_loopback;
  int rc = v6 ? connect(fd, (struct sockaddr *)&a6, sizeof a6)
              : connect(fd, (struct sockaddr *)&a4, sizeof a4);
  if (rc != 0) {
    close(fd);
    return -1;
  }
  size_t len = strlen(request);
  if (write(fd, request, len) != (ssize_t)len) {
    close(fd);
    return -1;
  }
  static _Thread_local char buf[sizeof r->head + sizeof r->body];
  size_t n = 0;
  ssize_t got;
  while (n < sizeof buf - 1 && (got = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
    n += (size_t)got;
  buf[n] = '\0';
  close(fd);
  char *sep = strstr(buf, "\r\n\r\n");
  if (sep == NULL || sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1)
    return -1;
  *sep = '\0';
  size_t hl = strlen(buf), bl = strlen(sep + 4);
  memcpy(r->head, buf, hl < sizeof r->head ? hl + 1 : 0);
  memcpy(r->body, sep + 4, bl < sizeof r->body ? bl + 1 : 0);
  return 0;
}

static int get(int port, const char *path, reply *r) {
  char req[256];
  snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path);
  return http_do(false, port, req, r);
}

static cairn_http *start(const char *host) {
  cairn_http *s;
  cairn_error err = {0};
  cairn_status st = cairn_http_start(host, 0, &s, &err);
  if (st != CAIRN_OK)
    fail_msg("start: %s", err.message);
  assert_true(cairn_http_port(s) > 0);
  return s;
}

static void test_healthz(void **state) {
  (void)state;
  cairn_http *s = start("127.0.0.1");
  int port = cairn_http_port(s);
  reply r;
  assert_int_equal(get(port, "/healthz", &r), 0);
  assert_int_equal(r.status, 503);
  assert_string_equal(r.body, "not serving");
  cairn_http_set_serving(s, true);
  assert_int_equal(get(port, "/healthz", &r), 0);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "ok");
  cairn_http_set_serving(s, false);
  assert_int_equal(get(port, "/healthz", &r), 0);
  assert_int_equal(r.status, 503);
  cairn_http_stop(s);
  /* after stop nothing listens on that port */
  assert_int_equal(get(port, "/healthz", &r), -1);
}

static bool health_value;
static int health_calls;
static bool health_cb(void *user) {
  (void)user;
  health_calls++;
  return health_value;
}

static void test_health_callback(void **state) {
  (void)state;
  cairn_http *s = start("127.0.0.1");
  cairn_http_set_serving(s, true); /* the callback takes precedence */
  cairn_http_set_health_fn(s, health_cb, NULL);
  reply r;
  health_value = false;
  assert_int_equal(get(cairn_http_port(s), "/healthz", &r), 0);
  assert_int_equal(r.status, 503);
  health_value = true;
  assert_int_equal(get(cairn_http_port(s), "/healthz", &r), 0);
  assert_int_equal(r.status, 200);
  assert_int_equal(health_calls, 2);
  cairn_http_set_health_fn(s, NULL, NULL); /* back to the flag (true) */
  assert_int_equal(get(cairn_http_port(s), "/healthz", &r), 0);
  assert_int_equal(r.status, 200);
  cairn_http_stop(s);
}

static void test_metrics_and_errors(void **state) {
  (void)state;
  cairn_metrics_reset();
  cairn_metrics_rpc_observe("CreateCollection", 0, 0.02);
  cairn_http *s = start("0.0.0.0");
  int port = cairn_http_port(s);
  reply r;
  assert_int_equal(get(port, "/metrics", &r), 0);
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.head, "text/plain; version=0.0.4"));
  assert_non_null(strstr(r.body, "# TYPE cairn_rpc_requests_total counter\n"));
  assert_non_null(strstr(
      r.body, "cairn_rpc_requests_total{method=\"CreateCollection\",code=\"0\"} 1\n"));
  assert_non_null(strstr(
      r.body, "cairn_rpc_latency_seconds_count{method=\"CreateCollection\"} 1\n"));
  assert_int_equal(get(port, "/nope", &r), 0);
  assert_int_equal(r.status, 404);
  assert_int_equal(get(port, "/healthz/extra", &r), 0);
  assert_int_equal(r.status, 404);
  assert_int_equal(http_do(false, port,
                           "POST /metrics HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc",
                           &r),
                   0);
  assert_int_equal(r.status, 405);
  assert_int_equal(http_do(false, port, "garbage\r\n\r\n", &r) == 0 ? r.status : 400,
                   400);
  /* the port is taken: a second server on it fails with a clear error */
  cairn_http *t;
  cairn_error err;
  assert_int_equal(cairn_http_start("127.0.0.1", port, &t, &err), CAIRN_IO);
  assert_null(t);
  char want[64];
  snprintf(want, sizeof want, "127.0.0.1:%d", port);
  assert_non_null(strstr(err.message, want));
  cairn_http_stop(s);
  cairn_metrics_reset();
}

static void test_bad_address_and_ipv6(void **state) {
  (void)state;
  cairn_http *s;
  cairn_error err;
  assert_int_equal(cairn_http_start("no.such.host.invalid", 0, &s, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_non_null(strstr(err.message, "no.such.host.invalid"));
  assert_int_equal(cairn_http_start("127.0.0.1", 70000, &s, &err),
                   CAIRN_INVALID_ARGUMENT);
  if (cairn_http_start("::1", 0, &s, &err) != CAIRN_OK) {
    fprintf(stderr, "skipping IPv6 check: %s\n", err.message);
    return;
  }
  reply r;
  cairn_http_set_serving(s, true);
  assert_int_equal(http_do(true, cairn_http_port(s),
                           "GET /healthz HTTP/1.0\r\n\r\n", &r),
                   0);
  assert_int_equal(r.status, 200);
  cairn_http_stop(s);
}

typedef struct client_arg {
  int port;
  int ok;
} client_arg;

static void *client_main(void *p) {
  client_arg *a = p;
  reply *r = malloc(sizeof *r);
  for (int i = 0; i < 50; i++)
    if (get(a->port, i % 2 ? "/metrics" : "/healthz", r) == 0 &&
        (r->status == 200 || r->status == 503))
      a->ok++;
  free(r);
  return NULL;
}

static void test_concurrent_clients(void **state) {
  (void)state;
  cairn_http *s = start("127.0.0.1");
  client_arg a[4];
  pthread_t th[4];
  for (int i = 0; i < 4; i++) {
    a[i] = (client_arg){.port = cairn_http_port(s)};
    pthread_create(&th[i], NULL, client_main, &a[i]);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(a[i].ok, 50);
  }
  cairn_http_stop(s);
  cairn_http_stop(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_healthz),
      cmocka_unit_test(test_health_callback),
      cmocka_unit_test(test_metrics_and_errors),
      cmocka_unit_test(test_bad_address_and_ipv6),
      cmocka_unit_test(test_concurrent_clients),
  };
  return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
