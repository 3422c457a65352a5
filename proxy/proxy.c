/*
 * proxy.c — MilvusService handlers (see proxy.h).
 *
 * Forwarding: a catalogue method is served by sending the very request
 * message to the coordinator method of the same name, after setting its
 * db_name field (found by reflection on the protobuf-c descriptor) to the
 * database the caller addresses. The coordinator's reply type is the public
 * reply type, so it goes back to the client unchanged.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn_internal.pb-c.h"
#include "proxy_internal.h"

/* ---- forwarding to the coordinator ---- */

static bool is_catalogue_write(const char *name);

/* Set the request's db_name (when it has one and it is empty). */
static void fill_db_name(cairn_rpc_ctx *ctx, ProtobufCMessage *req) {
  const ProtobufCFieldDescriptor *f =
      protobuf_c_message_descriptor_get_field_by_name(req->descriptor,
                                                      "db_name");
  if (f == NULL || f->type != PROTOBUF_C_TYPE_STRING)
    return;
  char **slot = (char **)((char *)req + f->offset);
  if (*slot == NULL || (*slot)[0] == '\0')
    *slot = (char *)cairn_pb_db_name(NULL, ctx->dbname);
}

/* The short method name of a full path "/pkg.Service/Method". */
static const char *short_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

ProtobufCMessage *proxy_error_reply(cairn_arena *arena,
                                     const ProtobufCMessageDescriptor *desc,
                                     const cairn_error *err) {
  mpb_status *status = cairn_pb_status_err(arena, err);
  if (desc == &milvus__proto__common__status__descriptor)
    return &status->base;
  ProtobufCMessage *m = cairn_arena_alloc(arena, desc->sizeof_message);
  if (m == NULL)
    return NULL;
  desc->message_init(m);
  const ProtobufCFieldDescriptor *f =
      protobuf_c_message_descriptor_get_field_by_name(desc, "status");
  if (f != NULL)
    *(mpb_status **)((char *)m + f->offset) = status;
  return m;
}

cairn_grpc_code proxy_forward(cairn_rpc_ctx *ctx, const ProtobufCMessage *msg,
                              ProtobufCMessage **reply) {
  const char *name = short_name(ctx->method);
  const ProtobufCMethodDescriptor *m =
      protobuf_c_service_descriptor_get_method_by_name(
          &cairn__internal__coord_service__descriptor, name);
  if (m == NULL)
    return CAIRN_GRPC_UNIMPLEMENTED;
  fill_db_name(ctx, (ProtobufCMessage *)msg);
  char path[256];
  snprintf(path, sizeof path, "/%s/%s",
           cairn__internal__coord_service__descriptor.name, name);
  cairn_rpc_call_opts opts = {.dbname = cairn_pb_db_name(NULL, ctx->dbname),
                              .authorization = ctx->authorization};
  cairn_error err = {0};
  if (cairn_rpc_call(proxy_of(ctx)->coord, path, msg, m->output, &opts,
                     ctx->arena, reply, &err) != CAIRN_OK)
    *reply = proxy_error_reply(ctx->arena, m->output, &err);
  if (is_catalogue_write(name)) /* failed or not: it may have been applied */
    proxy_cache_forget(proxy_of(ctx)->cache);
  return *reply != NULL ? CAIRN_GRPC_OK : CAIRN_GRPC_RESOURCE_EXHAUSTED;
}

/* ---- session ---- */

static cairn_status check_database(cairn_rpc_ctx *ctx, cairn_error *err) {
  Milvus__Proto__Milvus__DescribeDatabaseRequest req =
      MILVUS__PROTO__MILVUS__DESCRIBE_DATABASE_REQUEST__INIT;
  req.db_name = (char *)cairn_pb_db_name(NULL, ctx->dbname);
  ProtobufCMessage *out = NULL;
  cairn_rpc_call_opts opts = {.dbname = req.db_name};
  cairn_status st = cairn_rpc_call(
      proxy_of(ctx)->coord, "/cairn.internal.CoordService/DescribeDatabase",
      &req.pb_base, &milvus__proto__milvus__describe_database_response__descriptor,
      &opts, ctx->arena, &out, err);
  if (st != CAIRN_OK)
    return st;
  mpb_status *s = ((Milvus__Proto__Milvus__DescribeDatabaseResponse *)out)->status;
  if (s != NULL && s->code != 0)
    return cairn_error_set(err, CAIRN_DATABASE_NOT_FOUND, "%s", s->reason);
  return CAIRN_OK;
}

static PROXY_HANDLER(h_connect) {
  (void)msg;
  cairn_error err = {0};
  Milvus__Proto__Milvus__ConnectResponse *r =
      CAIRN_ARENA_NEW(ctx->arena, Milvus__Proto__Milvus__ConnectResponse, 1);
  milvus__proto__milvus__connect_response__init(r);
  if (check_database(ctx, &err) == CAIRN_OK) {
    Milvus__Proto__Common__ServerInfo *info =
        CAIRN_ARENA_NEW(ctx->arena, Milvus__Proto__Common__ServerInfo, 1);
    milvus__proto__common__server_info__init(info);
    info->build_tags = "cairn-" CAIRN_VERSION;
    info->build_time = __DATE__;
    info->deploy_mode = (char *)proxy_of(ctx)->deploy_mode;
    r->server_info = info;
    r->identifier = atomic_fetch_add(&proxy_of(ctx)->next_identifier, 1);
  }
  r->status = cairn_pb_status_err(ctx->arena, &err);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

static PROXY_HANDLER(h_get_version) {
  (void)msg;
  Milvus__Proto__Milvus__GetVersionResponse *r =
      CAIRN_ARENA_NEW(ctx->arena, Milvus__Proto__Milvus__GetVersionResponse, 1);
  milvus__proto__milvus__get_version_response__init(r);
  r->version = CAIRN_MILVUS_COMPAT_VERSION;
  r->status = cairn_pb_ok(ctx->arena);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

static PROXY_HANDLER(h_check_health) {
  (void)msg;
  Milvus__Proto__Milvus__CheckHealthResponse *r =
      CAIRN_ARENA_NEW(ctx->arena, Milvus__Proto__Milvus__CheckHealthResponse, 1);
  milvus__proto__milvus__check_health_response__init(r);
  Milvus__Proto__Milvus__AllocTimestampRequest req =
      MILVUS__PROTO__MILVUS__ALLOC_TIMESTAMP_REQUEST__INIT;
  ProtobufCMessage *out = NULL;
  cairn_error err = {0};
  cairn_status st = cairn_rpc_call(
      proxy_of(ctx)->coord, "/cairn.internal.CoordService/AllocTimestamp",
      &req.pb_base, &milvus__proto__milvus__alloc_timestamp_response__descriptor,
      NULL, ctx->arena, &out, &err);
  if (st == CAIRN_OK) {
    mpb_status *s = ((Milvus__Proto__Milvus__AllocTimestampResponse *)out)->status;
    if (s != NULL && s->code != 0)
      st = cairn_error_set(&err, CAIRN_NOT_READY, "coordinator: %s", s->reason);
  }
  r->ishealthy = st == CAIRN_OK;
  if (st != CAIRN_OK) {
    r->reasons = CAIRN_ARENA_NEW(ctx->arena, char *, 1);
    r->reasons[0] = cairn_arena_strdup(ctx->arena, err.message);
    r->n_reasons = 1;
  }
  r->status = cairn_pb_ok(ctx->arena);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}


/* Catalogue methods forwarded unchanged to the coordinator method of the
 * same name: reads, then writes (which wait for the meta store's sync:
 * marked blocking for the gRPC server, rpc.h), then AllocTimestamp (which
 * waits too, but changes no catalogue record). */
static const char *const forwarded[] = {
    "DescribeDatabase", "ListDatabases",  "HasCollection",
    "DescribeCollection", "ShowCollections", "HasPartition",
    "ShowPartitions",   "GetPartitionStatistics", "DescribeAlias",
    "ListAliases",      "DescribeIndex",  "GetIndexState",
    "GetIndexBuildProgress", NULL,
};
static const char *const forwarded_writes[] = {
    "CreateDatabase",   "DropDatabase",
    "AlterDatabase",    "AlterCollection", "RenameCollection",
    "CreatePartition",  "ReleasePartitions",
    "CreateAlias",      "DropAlias",      "AlterAlias",
    "DropIndex",        NULL,
};
static const char *const forwarded_blocking[] = {"AllocTimestamp", NULL};

/* Methods with a data-path side. Without a data path the catalogue ones
 * are plain forwards and the others are not served (UNIMPLEMENTED).
 * catalogue_write: the coordinator call it forwards changes the catalogue. */
static const struct {
  cairn_rpc_method method;
  bool catalogue;
  bool catalogue_write;
} data_methods[] = {
    {{"CreateCollection", proxy_create_collection}, true, true},
    {{"DropCollection", proxy_drop_collection}, true, true},
    {{"DropPartition", proxy_drop_partition}, true, true},
    {{"LoadCollection", proxy_load_collection}, true, true},
    {{"LoadPartitions", proxy_load_partitions}, true, true},
    {{"ReleaseCollection", proxy_release_collection}, true, true},
    {{"GetLoadingProgress", proxy_loading_progress}, true, false},
    {{"GetLoadState", proxy_load_state}, true, false},
    {{"CreateIndex", proxy_create_index}, true, true},
    {{"GetCollectionStatistics", proxy_collection_statistics}, true, false},
    {{"Insert", proxy_insert}, false, false},
    {{"Upsert", proxy_upsert}, false, false},
    {{"Delete", proxy_delete}, false, false},
    {{"Flush", proxy_flush}, false, false},
    {{"GetFlushState", proxy_flush_state}, false, false},
    {{"Search", proxy_search}, false, false},
    {{"HybridSearch", proxy_hybrid_search}, false, false},
    {{"Query", proxy_query}, false, false},
};
#define N_DATA_METHODS (sizeof data_methods / sizeof data_methods[0])

/* Data methods that wait: for the log's sync, a flush, another role. */
static const char *const data_blocking[] = {
    "CreateCollection", "DropCollection", "DropPartition", "LoadCollection",
    "LoadPartitions", "ReleaseCollection", "CreateIndex", "Insert", "Upsert", "Delete", "Flush",
    NULL,
};

/* Does the coordinator method `name` change the catalogue? */
static bool is_catalogue_write(const char *name) {
  for (size_t i = 0; forwarded_writes[i] != NULL; i++)
    if (strcmp(forwarded_writes[i], name) == 0)
      return true;
  for (size_t i = 0; i < N_DATA_METHODS; i++)
    if (data_methods[i].catalogue_write && strcmp(data_methods[i].method.name, name) == 0)
      return true;
  return false;
}

static cairn_status build_service(cairn_proxy *p, cairn_error *err) {
  size_t n = 0, n_writes = 0, n_data = N_DATA_METHODS;
  while (forwarded[n] != NULL)
    n++;
  while (forwarded_writes[n_writes] != NULL)
    n_writes++;
  cairn_rpc_method *methods = calloc(n + n_writes + n_data + 5, sizeof *methods);
  if (methods == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  size_t k = 0;
  methods[k++] = (cairn_rpc_method){"Connect", h_connect};
  methods[k++] = (cairn_rpc_method){"GetVersion", h_get_version};
  methods[k++] = (cairn_rpc_method){"CheckHealth", h_check_health};
  for (size_t i = 0; i < n; i++)
    methods[k++] = (cairn_rpc_method){forwarded[i], proxy_forward};
  for (size_t i = 0; i < n_writes; i++)
    methods[k++] = (cairn_rpc_method){forwarded_writes[i], proxy_forward};
  for (size_t i = 0; forwarded_blocking[i] != NULL; i++)
    methods[k++] = (cairn_rpc_method){forwarded_blocking[i], proxy_forward};
  for (size_t i = 0; i < N_DATA_METHODS; i++) {
    if (p->data != NULL)
      methods[k++] = data_methods[i].method;
    else if (data_methods[i].catalogue)
      methods[k++] = (cairn_rpc_method){data_methods[i].method.name,
                                        proxy_forward};
  }
  cairn_status st = cairn_rpc_service_new(
      &milvus__proto__milvus__milvus_service__descriptor, methods, p,
      &p->service, err);
  free(methods);
  if (st == CAIRN_OK)
    st = cairn_rpc_service_mark_blocking(p->service, forwarded_writes, err);
  if (st == CAIRN_OK)
    st = cairn_rpc_service_mark_blocking(p->service, forwarded_blocking, err);
  if (st == CAIRN_OK)
    st = cairn_rpc_service_mark_blocking(p->service, data_blocking, err);
  if (st != CAIRN_OK) {
    cairn_rpc_service_free(p->service);
    p->service = NULL;
  }
  return st;
}

cairn_status cairn_proxy_new(cairn_rpc_client *coord,
                             const cairn_proxy_options *opts,
                             cairn_proxy **out, cairn_error *err) {
  *out = NULL;
  cairn_proxy *p = calloc(1, sizeof *p);
  if (p == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  p->coord = coord;
  p->deploy_mode = opts && opts->deploy_mode ? opts->deploy_mode : "STANDALONE";
  if (opts != NULL && opts->data != NULL && opts->mq != NULL) {
    p->mq = opts->mq;
    p->data = opts->data;
    p->data_ctx = opts->data_ctx;
  }
  /* Identifiers start from the clock so that restarts do not reuse them. */
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  atomic_init(&p->next_identifier,
              (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
  cairn_status st = CAIRN_OK;
  if (opts != NULL && opts->catalog_version != NULL) {
    p->catalog_version = opts->catalog_version;
    p->catalog_version_ctx = opts->catalog_version_ctx;
    p->catalog_version_lags = opts->catalog_version_lags;
    st = proxy_cache_new(&p->cache, err);
  }
  if (st == CAIRN_OK)
    st = build_service(p, err);
  if (st != CAIRN_OK) {
    proxy_cache_free(p->cache);
    free(p);
    return st;
  }
  *out = p;
  return CAIRN_OK;
}

void cairn_proxy_free(cairn_proxy *p) {
  if (p == NULL)
    return;
  cairn_rpc_service_free(p->service);
  proxy_cache_free(p->cache);
  free(p);
}

cairn_rpc_service *cairn_proxy_service(cairn_proxy *p) { return p->service; }
