/*
 * h2server_fuzz.c — libFuzzer target for the native gRPC server
 * (core/rpc/h2server.c): one connection is fed client bytes and its calls
 * run against a small Milvus service. The first byte picks the shape:
 *   - even: raw bytes after the HTTP/2 client preface (frames, HPACK,
 *     flow control, stream states: nghttp2's parser and our callbacks);
 *   - odd: well-formed requests built with an nghttp2 client session from
 *     the input (method path, content type, grpc-timeout, metadata, the
 *     length prefix and the message bytes), then the rest raw, so the
 *     gRPC layer (prefix checks, size limit, protobuf decoding, handlers,
 *     replies and trailers) is reached on every run.
 * Only errors are allowed, never a crash, a leak or undefined behaviour.
 */
#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "milvus.pb-c.h"
#include "milvus_util.h"
#include "rpc.h"
#include "rpc_internal.h"

static cairn_grpc_code h_version(cairn_rpc_ctx *ctx, const ProtobufCMessage *m,
                                 ProtobufCMessage **reply) {
  (void)m;
  Milvus__Proto__Milvus__GetVersionResponse *r =
      CAIRN_ARENA_NEW(ctx->arena, Milvus__Proto__Milvus__GetVersionResponse, 1);
  milvus__proto__milvus__get_version_response__init(r);
  r->version = cairn_arena_printf(ctx->arena, "db=%s", ctx->dbname);
  r->status = cairn_pb_ok(ctx->arena);
  *reply = &r->base;
  return CAIRN_GRPC_OK;
}

static cairn_grpc_code h_create(cairn_rpc_ctx *ctx, const ProtobufCMessage *m,
                                ProtobufCMessage **reply) {
  const Milvus__Proto__Milvus__CreateCollectionRequest *req =
      (const Milvus__Proto__Milvus__CreateCollectionRequest *)m;
  if (req->schema.len % 3 == 0)
    return CAIRN_GRPC_INVALID_ARGUMENT; /* a transport-level error reply */
  *reply = &cairn_pb_status(ctx->arena, CAIRN_INVALID_ARGUMENT, "no")->base;
  return CAIRN_GRPC_OK;
}

static const cairn_rpc_method methods[] = {
    {"GetVersion", h_version}, {"CreateCollection", h_create}, {NULL, NULL}};

static const char *const paths[] = {
    "/milvus.proto.milvus.MilvusService/GetVersion",
    "/milvus.proto.milvus.MilvusService/CreateCollection",
    "/milvus.proto.milvus.MilvusService/Search", /* not served */
    "/nope",
};

typedef struct reader {
  const uint8_t *p;
  size_t n;
} reader;

static uint8_t take(reader *r) {
  if (r->n == 0)
    return 0;
  r->n--;
  return *r->p++;
}

static ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
                         uint32_t *flags, nghttp2_data_source *src, void *user) {
  (void)s;
  (void)id;
  (void)user;
  reader *body = src->ptr;
  size_t n = body->n < len ? body->n : len;
  memcpy(buf, body->p, n);
  body->p += n;
  body->n -= n;
  if (body->n == 0)
    *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)n;
}

/* Client bytes for up to 3 requests drawn from r, then r's rest raw. */
static uint8_t *build_requests(reader *r, size_t *out_len) {
  nghttp2_session_callbacks *cb;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session *cs;
  nghttp2_session_client_new(&cs, cb, NULL);
  nghttp2_submit_settings(cs, NGHTTP2_FLAG_NONE, NULL, 0);
  reader bodies[3];
  uint8_t *msgs[3] = {NULL, NULL, NULL};
  int n_req = 1 + take(r) % 3;
  for (int i = 0; i < n_req; i++) {
    uint8_t shape = take(r);
    uint8_t odd_len = take(r);
    size_t body_len = take(r) % 64;
    if (body_len > r->n)
      body_len = r->n;
    msgs[i] = malloc(body_len + 5);
    uint32_t prefix_len = (shape & 8) ? odd_len : (uint32_t)body_len;
    msgs[i][0] = (shape & 16) ? 1 : 0; /* compressed flag */
    msgs[i][1] = (uint8_t)(prefix_len >> 24);
    msgs[i][2] = (uint8_t)(prefix_len >> 16);
    msgs[i][3] = (uint8_t)(prefix_len >> 8);
    msgs[i][4] = (uint8_t)prefix_len;
    memcpy(msgs[i] + 5, r->p, body_len);
    r->p += body_len;
    r->n -= body_len;
    bodies[i] = (reader){msgs[i], (shape & 32) ? 0 : body_len + 5};
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%u%c", take(r), "HMSmunx"[take(r) % 7]);
    const char *path = paths[shape % 4];
    nghttp2_nv nv[] = {
        {(uint8_t *)":method", (uint8_t *)"POST", 7, 4, 0},
        {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
        {(uint8_t *)":path", (uint8_t *)path, 5, strlen(path), 0},
        {(uint8_t *)":authority", (uint8_t *)"x", 10, 1, 0},
        {(uint8_t *)"content-type",
         (uint8_t *)((shape & 4) ? "text/plain" : "application/grpc"), 12,
         (shape & 4) ? 10 : 16, 0},
        {(uint8_t *)"grpc-timeout", (uint8_t *)timeout, 12, strlen(timeout), 0},
        {(uint8_t *)"dbname", (uint8_t *)"db1", 6, 3, 0},
    };
    size_t n_nv = (shape & 64) ? 7 : 5;
    nghttp2_data_provider dp = {.source.ptr = &bodies[i], .read_callback = read_body};
    nghttp2_submit_request(cs, NULL, nv, n_nv, (shape & 128) ? NULL : &dp, NULL);
  }
  uint8_t *out = NULL;
  size_t len = 0;
  for (;;) {
    const uint8_t *data;
    ssize_t n = nghttp2_session_mem_send(cs, &data);
    if (n <= 0)
      break;
    out = realloc(out, len + (size_t)n + r->n);
    memcpy(out + len, data, (size_t)n);
    len += (size_t)n;
  }
  out = realloc(out, len + r->n + 1);
  memcpy(out + len, r->p, r->n);
  len += r->n;
  *out_len = len;
  for (int i = 0; i < 3; i++)
    free(msgs[i]);
  nghttp2_session_del(cs);
  nghttp2_session_callbacks_del(cb);
  return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static cairn_rpc_service *svc;
  static h2_server *srv;
  if (srv == NULL) {
    cairn_error err = {0};
    if (cairn_rpc_service_new(&milvus__proto__milvus__milvus_service__descriptor,
                              methods, NULL, &svc, &err) != CAIRN_OK)
      abort();
    cairn_rpc_service *list[] = {svc, NULL};
    if (h2_fuzz_new(list, 1024, &srv, &err) != CAIRN_OK)
      abort();
  }
  if (size == 0)
    return 0;
  reader r = {data + 1, size - 1};
  uint8_t *bytes;
  size_t len;
  if (data[0] & 1) {
    bytes = build_requests(&r, &len);
  } else {
    static const char preface[] = NGHTTP2_CLIENT_MAGIC;
    len = sizeof preface - 1 + r.n;
    bytes = malloc(len + 1);
    memcpy(bytes, preface, sizeof preface - 1);
    memcpy(bytes + sizeof preface - 1, r.p, r.n);
  }
  h2_fuzz_feed(srv, bytes, len);
  free(bytes);
  return 0;
}
