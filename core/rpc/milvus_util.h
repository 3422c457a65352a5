/*
 * milvus_util.h — small builders for Milvus protocol messages shared by the
 * roles: common.Status from a cairn status (both `code` and the legacy
 * `error_code` set, PROTOCOL.md §0.3), key/value lists, database name
 * normalisation. Everything is built in a caller's arena.
 */
#ifndef CAIRN_MILVUS_UTIL_H
#define CAIRN_MILVUS_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "common.pb-c.h"
#include "status.h"

typedef Milvus__Proto__Common__Status mpb_status;
typedef Milvus__Proto__Common__KeyValuePair mpb_kv;

/* A Status for st with reason msg (NULL: the status's default message). */
mpb_status *cairn_pb_status(cairn_arena *arena, cairn_status st,
                            const char *msg);
/* A Status from an error record. */
mpb_status *cairn_pb_status_err(cairn_arena *arena, const cairn_error *err);
/* A success Status. */
mpb_status *cairn_pb_ok(cairn_arena *arena);

/* Value of key in a KV list, or NULL. */
const char *cairn_pb_kv_get(mpb_kv *const *kvs, size_t n, const char *key);
/* A new KV pair (copies both strings into the arena). */
mpb_kv *cairn_pb_kv_new(cairn_arena *arena, const char *key, const char *value);
/* A copy of a KV list into the arena. */
mpb_kv **cairn_pb_kv_copy(cairn_arena *arena, mpb_kv *const *kvs, size_t n);

/* The cairn status of a reply's Status: CAIRN_OK on success, else the
 * status whose Milvus code it carries (CAIRN_INTERNAL when unknown), with
 * err = "<what>: <reason>" (just the reason when what is NULL). A NULL
 * Status is CAIRN_INTERNAL "reply without status". */
cairn_status cairn_pb_status_check(const mpb_status *s, const char *what,
                                   cairn_error *err);

/* A fresh hybrid timestamp from a CoordService client (its AllocTimestamp
 * method), for roles that stamp what they record. */
struct cairn_rpc_client;
cairn_status cairn_coord_alloc_timestamp(struct cairn_rpc_client *coord,
                                         uint64_t *ts, cairn_error *err);

/* The database a request addresses: the request's db_name field when set,
 * else the "dbname" header, else "default". */
const char *cairn_pb_db_name(const char *field, const char *header);

#endif
