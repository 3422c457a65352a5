/*
 * roles.c — start-up and shutdown of a role process.
 *
 * Order of start-up: configuration -> logging -> data directory -> meta
 * store -> coordinator -> (standalone) log, object store, datanode,
 * indexnode, querynode -> proxy -> gRPC server -> HTTP server -> the
 * "cairn listening" line on stdout -> wait for SIGINT/SIGTERM. Shutdown runs
 * the same list backwards: HTTP marked unhealthy, gRPC drained (grace
 * period), roles closed, meta store closed (its last writes are durable).
 *
 * Signals: SIGINT and SIGTERM are blocked in every thread (the mask is set
 * before any thread starts) and taken by sigwait in the main thread, so no
 * handler runs inside library code. SIGPIPE is ignored.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster_roles.h"
#include "config.h"
#include "coord.h"
#include "http.h"
#include "log.h"
#include "meta.h"
#include "meta_etcd.h"
#include "metrics.h"
#include "proxy.h"
#include "roles.h"
#include "rpc.h"
#include "standalone_data.h"

#define SHUTDOWN_GRACE_MS 5000

typedef struct role_state {
  cairn_role role;
  cairn_config *cfg;
  cairn_meta *meta;
  cairn_coord *coord;
  cairn_rpc_client *coord_client;
  cairn_proxy *proxy;
  standalone_data *data; /* standalone only: datanode, indexnode, querynode */
  cluster_coord *cluster_coord; /* cluster coordinator: election + gate */
  cluster_node *node;           /* cluster datanode / indexnode / querynode */
  cluster_proxy *cluster_proxy; /* cluster proxy: data path over gRPC */
  cairn_rpc_server *grpc;
  cairn_http *http;
} role_state;

static const char *role_name(cairn_role role) {
  switch (role) {
  case CAIRN_ROLE_STANDALONE: return "standalone";
  case CAIRN_ROLE_COORDINATOR: return "coordinator";
  case CAIRN_ROLE_PROXY: return "proxy";
  case CAIRN_ROLE_DATANODE: return "datanode";
  case CAIRN_ROLE_INDEXNODE: return "indexnode";
  case CAIRN_ROLE_QUERYNODE: return "querynode";
  }
  return "?";
}

static cairn_status make_dirs(const char *path, cairn_error *err) {
  char buf[4096];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "path too long: %s", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
      return cairn_error_set(err, CAIRN_IO, "cannot create directory %s: %s",
                             buf, strerror(errno));
    *p = '/';
  }
  if (mkdir(buf, 0755) != 0 && errno != EEXIST)
    return cairn_error_set(err, CAIRN_IO, "cannot create directory %s: %s", buf,
                           strerror(errno));
  return CAIRN_OK;
}

/* Milvus's mq.type, when set, chooses the log backend. */
static cairn_status apply_mq_type(cairn_config *cfg, cairn_error *err) {
  const char *type = cairn_config_string(cfg, "mq.type");
  if (type[0] == '\0')
    return CAIRN_OK;
  if (strcmp(type, "kafka") == 0)
    return cairn_config_set(cfg, "mq.backend", "kafka", CAIRN_CONFIG_SRC_OVERRIDE,
                            "mq.type", err);
  if (strcmp(type, "rocksmq") == 0 || strcmp(type, "natsmq") == 0 ||
      strcmp(type, "woodpecker") == 0 || strcmp(type, "default") == 0)
    return cairn_config_set(cfg, "mq.backend", "embedded",
                            CAIRN_CONFIG_SRC_OVERRIDE, "mq.type", err);
  return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                         "mq.type '%s' is not supported: use kafka, or "
                         "rocksmq/default for the embedded log",
                         type);
}

static cairn_status load_config(role_state *s, int argc, char **argv,
                                cairn_error *err) {
  cairn_status st = cairn_config_new(&s->cfg, err);
  if (st == CAIRN_OK)
    st = cairn_config_add_alias(s->cfg, "port", "grpc.port", err);
  if (st == CAIRN_OK)
    st = cairn_config_add_alias(s->cfg, "http-port", "http.port", err);
  if (st == CAIRN_OK)
    st = cairn_config_add_alias(s->cfg, "data-dir", "dataDir", err);
  const char **rest = calloc((size_t)argc + 1, sizeof *rest);
  int n_rest = 0;
  if (st == CAIRN_OK && rest == NULL)
    st = cairn_error_set(err, CAIRN_NOMEM, NULL);
  if (st == CAIRN_OK)
    st = cairn_config_load_all(s->cfg, argc, argv, NULL, rest, &n_rest, err);
  if (st == CAIRN_OK && n_rest > 0)
    st = cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                         "unexpected argument '%s' (flags are --key=value)",
                         rest[0]);
  free(rest);
  if (st == CAIRN_OK && cairn_config_bool(s->cfg, "auth.enabled"))
    st = cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                         "auth.enabled is not supported by this build yet; "
                         "run without it");
  if (st == CAIRN_OK)
    st = apply_mq_type(s->cfg, err);
  cairn_log_level level;
  if (st == CAIRN_OK &&
      cairn_log_parse_level(cairn_config_string(s->cfg, "log.level"), &level) == 0)
    cairn_log_set_level(level);
  return st;
}

static cairn_status open_meta(role_state *s, cairn_error *err) {
  const char *backend = cairn_config_string(s->cfg, "meta.backend");
  if (strcmp(backend, "etcd") == 0) {
    char *location = NULL;
    cairn_status st = cairn_meta_etcd_location(s->cfg, &location, err);
    if (st == CAIRN_OK)
      st = cairn_meta_open(backend, location, &s->meta, err);
    free(location);
    return st;
  }
  char location[4096];
  const char *dir = cairn_config_string(s->cfg, "dataDir");
  cairn_status st = make_dirs(dir, err);
  if (st != CAIRN_OK)
    return st;
  snprintf(location, sizeof location, "%s/meta", dir);
  return cairn_meta_open(backend, location, &s->meta, err);
}

static bool is_data_role(cairn_role role) {
  return role == CAIRN_ROLE_DATANODE || role == CAIRN_ROLE_INDEXNODE ||
         role == CAIRN_ROLE_QUERYNODE;
}

/* A cluster process: the catalogue is in etcd, shared by every process. */
static bool in_cluster(const role_state *s) {
  return strcmp(cairn_config_string(s->cfg, "meta.backend"), "etcd") == 0;
}

static cairn_status start_data_role(role_state *s, cairn_error *err) {
  if (!in_cluster(s))
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "cairn %s runs in a cluster: set meta.backend=etcd "
                           "(with etcd.endpoints), mq.backend=kafka and "
                           "objstore.backend=s3; for one process with "
                           "embedded storage run `cairn standalone`",
                           role_name(s->role));
  cluster_node_role r = s->role == CAIRN_ROLE_DATANODE ? CLUSTER_DATANODE
                        : s->role == CAIRN_ROLE_INDEXNODE ? CLUSTER_INDEXNODE
                                                          : CLUSTER_QUERYNODE;
  cairn_status st = open_meta(s, err);
  return st == CAIRN_OK ? cluster_node_open(r, s->cfg, s->meta, &s->node, err)
                        : st;
}

/* cairn proxy: with coordinator.address, catalogue calls only (embedded
 * meta store); in a cluster, the whole data path. */
static cairn_status start_proxy_links(role_state *s, cairn_error *err) {
  const char *addr = cairn_config_string(s->cfg, "coordinator.address");
  if (addr[0] != '\0')
    return cairn_rpc_client_new_grpc(
        addr, (size_t)cairn_config_size(s->cfg, "grpc.maxMessageSize"),
        &s->coord_client, err);
  if (!in_cluster(s))
    return cairn_error_set(err, CAIRN_MISSING_ARGUMENT,
                           "cairn proxy needs a cluster (meta.backend=etcd) or "
                           "coordinator.address (--coordinator.address=HOST:PORT)");
  cairn_status st = open_meta(s, err);
  if (st == CAIRN_OK)
    st = cluster_proxy_open(s->cfg, s->meta, &s->cluster_proxy, err);
  return st;
}

static uint64_t catalog_version(void *coord) {
  return cairn_coord_catalog_version(coord);
}

static cairn_status start_roles(role_state *s, cairn_error *err) {
  cairn_status st = CAIRN_OK;
  if (is_data_role(s->role))
    return start_data_role(s, err);
  if (s->role == CAIRN_ROLE_COORDINATOR) {
    st = open_meta(s, err);
    if (st == CAIRN_OK && in_cluster(s))
      return cluster_coord_open(s->cfg, s->meta, &s->cluster_coord, err);
    return st == CAIRN_OK ? cairn_coord_open(s->meta, NULL, &s->coord, err) : st;
  }
  if (s->role == CAIRN_ROLE_STANDALONE) {
    st = open_meta(s, err);
    if (st == CAIRN_OK)
      st = cairn_coord_open(s->meta, NULL, &s->coord, err);
    if (st == CAIRN_OK)
      st = cairn_rpc_client_new_direct(cairn_coord_service(s->coord),
                                       &s->coord_client, err);
    if (st == CAIRN_OK)
      st = standalone_data_open(s->cfg, s->coord_client, &s->data, err);
  } else {
    st = start_proxy_links(s, err);
  }
  cairn_proxy_options opts = {.deploy_mode = s->role == CAIRN_ROLE_STANDALONE
                                                 ? "STANDALONE"
                                                 : "CLUSTER"};
  if (s->data != NULL) {
    opts.mq = standalone_data_mq(s->data);
    opts.data = standalone_data_ops();
    opts.data_ctx = s->data;
  }
  if (s->role == CAIRN_ROLE_STANDALONE && s->coord != NULL) {
    /* The coordinator in this process is the catalogue's only writer. */
    opts.catalog_version = catalog_version;
    opts.catalog_version_ctx = s->coord;
  }
  if (s->cluster_proxy != NULL) {
    opts.mq = cluster_proxy_mq(s->cluster_proxy);
    opts.data = cluster_proxy_ops();
    opts.data_ctx = s->cluster_proxy;
    opts.catalog_version = cluster_proxy_catalog_version;
    opts.catalog_version_ctx = s->cluster_proxy;
    opts.catalog_version_lags = true;
  }
  cairn_rpc_client *coord = s->cluster_proxy ? cluster_proxy_coord(s->cluster_proxy)
                                             : s->coord_client;
  if (st == CAIRN_OK)
    st = cairn_proxy_new(coord, &opts, &s->proxy, err);
  return st;
}

/* After the server is up: the session with the bound address. */
static cairn_status register_in_cluster(role_state *s, cairn_error *err) {
  char address[512];
  cluster_advertise_address(s->cfg, cairn_rpc_server_port(s->grpc), address,
                            sizeof address);
  if (s->cluster_coord != NULL)
    return cluster_coord_register(s->cluster_coord, address, err);
  if (s->node != NULL)
    return cluster_node_register(s->node, address, err);
  if (s->cluster_proxy != NULL)
    return cluster_proxy_register(s->cluster_proxy, address, err);
  return CAIRN_OK;
}

/* Per-call metrics: request count by method and gRPC code, latency. */
static void observe_call(void *user, const char *method, cairn_grpc_code code,
                         double seconds) {
  (void)user;
  const char *name = strrchr(method, '/');
  name = name ? name + 1 : method;
  cairn_metrics_rpc_observe(name, (int)code, seconds);
}

static cairn_status start_servers(role_state *s, cairn_error *err) {
  cairn_rpc_service *services[3] = {NULL, NULL, NULL};
  int n = 0;
  if (s->proxy != NULL)
    services[n++] = cairn_proxy_service(s->proxy);
  if (s->coord != NULL && s->role == CAIRN_ROLE_COORDINATOR)
    services[n++] = cairn_coord_service(s->coord);
  if (s->cluster_coord != NULL)
    services[n++] = cluster_coord_service(s->cluster_coord);
  if (s->node != NULL && cluster_node_service(s->node) != NULL)
    services[n++] = cluster_node_service(s->node);
  const char *transport = cairn_config_string(s->cfg, "grpc.transport");
  bool native = strcmp(transport, "native") == 0;
  if (!native && strcmp(transport, "grpc-core") != 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "grpc.transport must be native or grpc-core, got '%s'",
                           transport);
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  int workers = (int)cairn_config_int(s->cfg, "grpc.workers");
  if (workers <= 0)
    workers = cores > 1 ? (int)cores * 2 : 4;
  /* Standalone serves every call in this process, CPU-bound but for the
   * methods marked blocking: one worker per core takes calls, the others
   * stand by for those (rpc.h). Cluster roles wait on other processes. */
  int pollers = s->role == CAIRN_ROLE_STANDALONE ? (int)(cores > 2 ? cores : 2) : 0;
  cairn_rpc_server_options opts = {
      .host = cairn_config_string(s->cfg, "grpc.host"),
      .port = (int)cairn_config_int(s->cfg, "grpc.port"),
      .max_message_bytes = (size_t)cairn_config_size(s->cfg, "grpc.maxMessageSize"),
      .workers = workers,
      .pollers = pollers,
      .transport = native ? CAIRN_RPC_NATIVE : CAIRN_RPC_GRPC_CORE,
  };
  cairn_status st = cairn_rpc_server_start(&opts, services, observe_call, NULL,
                                           &s->grpc, err);
  if (st == CAIRN_OK)
    st = register_in_cluster(s, err);
  if (st == CAIRN_OK)
    st = cairn_http_start(cairn_config_string(s->cfg, "http.host"),
                          (int)cairn_config_int(s->cfg, "http.port"), &s->http,
                          err);
  return st;
}

static void stop_all(role_state *s) {
  if (s->http != NULL)
    cairn_http_set_serving(s->http, false);
  cairn_rpc_server_stop(s->grpc, SHUTDOWN_GRACE_MS);
  cairn_http_stop(s->http);
  cairn_proxy_free(s->proxy);
  cluster_proxy_close(s->cluster_proxy);
  cluster_node_close(s->node);
  cluster_coord_close(s->cluster_coord);
  standalone_data_close(s->data);
  cairn_rpc_client_free(s->coord_client);
  cairn_coord_close(s->coord);
  cairn_meta_close(s->meta);
  cairn_config_free(s->cfg);
}

static int wait_for_signal(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

static void block_signals(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);
}

int cairn_run_role(cairn_role role, int argc, char **argv) {
  block_signals();
  role_state s = {.role = role};
  cairn_error err = {0};
  cairn_status st = load_config(&s, argc, argv, &err);
  if (st == CAIRN_OK)
    st = start_roles(&s, &err);
  if (st == CAIRN_OK)
    st = start_servers(&s, &err);
  if (st != CAIRN_OK) {
    fprintf(stderr, "cairn %s: %s\n", role_name(role), err.message);
    stop_all(&s);
    return 1;
  }
  cairn_http_set_serving(s.http, true);
  printf("cairn listening grpc=%s:%d http=%s:%d\n",
         cairn_config_string(s.cfg, "grpc.host"), cairn_rpc_server_port(s.grpc),
         cairn_config_string(s.cfg, "http.host"), cairn_http_port(s.http));
  fflush(stdout);
  cairn_log_info("cairn %s %s serving", role_name(role), CAIRN_VERSION);
  int sig = wait_for_signal();
  cairn_log_info("signal %d: shutting down", sig);
  stop_all(&s);
  return 0;
}
