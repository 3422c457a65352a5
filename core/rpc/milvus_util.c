/* milvus_util.c — Milvus message builders; see milvus_util.h. */
#include "milvus_util.h"

#include <string.h>

#include "milvus.pb-c.h"
#include "rpc.h"

mpb_status *cairn_pb_status(cairn_arena *arena, cairn_status st,
                            const char *msg) {
  mpb_status *s = CAIRN_ARENA_NEW(arena, mpb_status, 1);
  if (s == NULL)
    return NULL;
  milvus__proto__common__status__init(s);
  if (st == CAIRN_OK)
    return s;
  s->code = cairn_status_milvus_code(st);
  s->error_code =
      (Milvus__Proto__Common__ErrorCode)cairn_status_legacy_code(st);
  s->reason = cairn_arena_strdup(arena, msg ? msg : cairn_status_message(st));
  s->retriable = st == CAIRN_NOT_READY || st == CAIRN_RATE_LIMIT ||
                 st == CAIRN_CONFLICT;
  return s;
}

mpb_status *cairn_pb_status_err(cairn_arena *arena, const cairn_error *err) {
  return cairn_pb_status(arena, err->status,
                         err->message[0] ? err->message : NULL);
}

mpb_status *cairn_pb_ok(cairn_arena *arena) {
  return cairn_pb_status(arena, CAIRN_OK, NULL);
}

const char *cairn_pb_kv_get(mpb_kv *const *kvs, size_t n, const char *key) {
  for (size_t i = 0; i < n; i++)
    if (kvs[i]->key != NULL && strcmp(kvs[i]->key, key) == 0)
      return kvs[i]->value;
  return NULL;
}

mpb_kv *cairn_pb_kv_new(cairn_arena *arena, const char *key,
                        const char *value) {
  mpb_kv *kv = CAIRN_ARENA_NEW(arena, mpb_kv, 1);
  if (kv == NULL)
    return NULL;
  milvus__proto__common__key_value_pair__init(kv);
  kv->key = cairn_arena_strdup(arena, key);
  kv->value = cairn_arena_strdup(arena, value);
  return kv;
}

mpb_kv **cairn_pb_kv_copy(cairn_arena *arena, mpb_kv *const *kvs, size_t n) {
  mpb_kv **out = CAIRN_ARENA_NEW(arena, mpb_kv *, n ? n : 1);
  if (out == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++)
    out[i] = cairn_pb_kv_new(arena, kvs[i]->key, kvs[i]->value);
  return out;
}

const char *cairn_pb_db_name(const char *field, const char *header) {
  if (field != NULL && field[0] != '\0')
    return field;
  if (header != NULL && header[0] != '\0')
    return header;
  return "default";
}

cairn_status cairn_pb_status_check(const mpb_status *s, const char *what,
                                   cairn_error *err) {
  if (s == NULL)
    return cairn_error_set(err, CAIRN_INTERNAL, "%s: reply without status",
                           what ? what : "call");
  if (s->code == 0 && s->error_code == 0)
    return CAIRN_OK;
  cairn_status st = CAIRN_INTERNAL;
  for (int i = 0; s->code != 0 && i < CAIRN_STATUS_COUNT; i++)
    if (cairn_status_milvus_code((cairn_status)i) == s->code) {
      st = (cairn_status)i;
      break;
    }
  const char *reason =
      s->reason && s->reason[0] ? s->reason : cairn_status_message(st);
  if (what == NULL)
    return cairn_error_set(err, st, "%s", reason);
  return cairn_error_set(err, st, "%s: %s", what, reason);
}

cairn_status cairn_coord_alloc_timestamp(cairn_rpc_client *coord, uint64_t *ts,
                                         cairn_error *err) {
  *ts = 0;
  cairn_arena *arena = cairn_arena_new();
  if (arena == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  Milvus__Proto__Milvus__AllocTimestampRequest req =
      MILVUS__PROTO__MILVUS__ALLOC_TIMESTAMP_REQUEST__INIT;
  ProtobufCMessage *out = NULL;
  cairn_status st = cairn_rpc_call(
      coord, "/cairn.internal.CoordService/AllocTimestamp", &req.pb_base,
      &milvus__proto__milvus__alloc_timestamp_response__descriptor, NULL, arena,
      &out, err);
  Milvus__Proto__Milvus__AllocTimestampResponse *r =
      (Milvus__Proto__Milvus__AllocTimestampResponse *)out;
  if (st == CAIRN_OK)
    st = cairn_pb_status_check(r->status, "AllocTimestamp", err);
  if (st == CAIRN_OK)
    *ts = r->timestamp;
  cairn_arena_free(arena);
  return st;
}
