/*
 * coord_internal.h — what the coordinator's handler files share: the
 * coordinator struct, request-resolution helpers and name validation.
 * Not for use outside coordinator/.
 */
#ifndef CAIRN_COORD_INTERNAL_H
#define CAIRN_COORD_INTERNAL_H

#include "arena.h"
#include "catalog.h"
#include "coord.h"
#include "milvus.pb-c.h"
#include "milvus_util.h"
#include "rpc.h"
#include "tso.h"

struct cairn_coord {
  cairn_meta *meta;          /* borrowed */
  cairn_tso *tso;
  cairn_catalog *cat;
  cairn_rpc_service *service;
  cairn_coord_options opts;
};

/* Put cluster/event/{collection_id} when opts.publish_events (cluster);
 * failures are logged (nodes also refresh on their own timers). */
void coord_publish_event(cairn_coord *coord, int64_t collection_id);

/* Handler signature shorthand. */
#define COORD_HANDLER(fn)                                                      \
  cairn_grpc_code fn(cairn_rpc_ctx *ctx, const ProtobufCMessage *msg,          \
                     ProtobufCMessage **reply)

/* A DDL handler that answers a Status: runs fn(ctx, req, &err) under the
 * catalogue lock. */
#define COORD_DDL_HANDLER(handler, fn, ReqType)                                \
  static COORD_HANDLER(handler) {                                              \
    cairn_error err = {0};                                                     \
    cairn_catalog_lock(coord_of(ctx)->cat);                                    \
    fn(ctx, (const ReqType *)msg, &err);                                       \
    cairn_catalog_unlock(coord_of(ctx)->cat);                                  \
    return coord_reply_status(ctx, &err, reply);                               \
  }

static inline cairn_coord *coord_of(cairn_rpc_ctx *ctx) {
  return (cairn_coord *)ctx->user;
}

/* Reply with just a Status built from err. */
cairn_grpc_code coord_reply_status(cairn_rpc_ctx *ctx, const cairn_error *err,
                                   ProtobufCMessage **reply);

/* The database a request addresses (field, else dbname header, else
 * "default"). */
cairn_status coord_db(cairn_rpc_ctx *ctx, const char *db_field, cat_db **out,
                      cairn_error *err);
/* The database and a collection (by name or alias) in it. */
cairn_status coord_collection(cairn_rpc_ctx *ctx, const char *db_field,
                              const char *name, cat_db **db, cat_coll **out,
                              cairn_error *err);
/* Same, or by id when the name is empty and id is not 0 (the roles address
 * collections by id: DescribeCollection, ShowPartitions). */
cairn_status coord_collection_or_id(cairn_rpc_ctx *ctx, const char *db_field,
                                    const char *name, int64_t id, cat_db **db,
                                    cat_coll **out, cairn_error *err);

/* Names of databases, collections, partitions, aliases, fields, indexes:
 * 1..255 chars, first a letter or '_', then letters, digits or '_'. `what`
 * is "collection", "partition", ... for the message. */
cairn_status coord_check_name(const char *what, const char *name,
                              cairn_error *err);

/* A fresh hybrid timestamp and a fresh ID. */
cairn_status coord_now(cairn_coord *coord, uint64_t *ts, cairn_error *err);
cairn_status coord_new_id(cairn_coord *coord, int64_t *id, cairn_error *err);

/* Validate a CreateCollection schema in place: field IDs assigned from 100,
 * "$meta" added when dynamic, type params checked. */
cairn_status coord_check_schema(cairn_coord *coord, cairn_arena *arena,
                                Milvus__Proto__Schema__CollectionSchema *schema,
                                const char *collection_name, cairn_error *err);
/* The schema as DescribeCollection shows it: no "$meta", no system fields. */
Milvus__Proto__Schema__CollectionSchema *
coord_public_schema(cairn_arena *arena,
                    const Milvus__Proto__Schema__CollectionSchema *schema);
/* Field by name in a stored schema, or NULL. */
Milvus__Proto__Schema__FieldSchema *
coord_schema_field(const Milvus__Proto__Schema__CollectionSchema *schema,
                   const char *name);
/* Integer value of a field's type param (e.g. "dim"), or 0. */
int64_t coord_type_param(const Milvus__Proto__Schema__FieldSchema *field,
                         const char *key);
/* Whether a data type is a vector type. */
bool coord_is_vector_type(int type);

/* Merge properties in place: set every pair of `set` (replacing a pair
 * with the same key), then remove `delete_keys`. */
void coord_merge_properties(cairn_arena *arena, mpb_kv ***props, size_t *n,
                            mpb_kv *const *set, size_t n_set,
                            char *const *delete_keys, size_t n_delete);

/* Append a partition (fresh ID) to a collection record in the arena. */
cairn_status coord_add_partition(cairn_coord *coord, cairn_arena *arena,
                                 cat_coll *c, const char *name, uint64_t ts,
                                 cairn_error *err);
/* Names of the aliases that point at collection coll_id. */
cairn_status coord_aliases_of(cairn_coord *coord, cairn_arena *arena,
                              int64_t db_id, int64_t coll_id, char ***names,
                              size_t *n, cairn_error *err);

/* Handler tables of each file, merged into the service by coord.c. */
extern const cairn_rpc_method coord_db_methods[];
extern const cairn_rpc_method coord_collection_methods[];
extern const cairn_rpc_method coord_partition_methods[];
extern const cairn_rpc_method coord_alias_methods[];
extern const cairn_rpc_method coord_index_methods[];
extern const cairn_rpc_method coord_load_methods[];
extern const cairn_rpc_method coord_segment_methods[];

/* Every sealed segment of a collection (records in the arena), as readers
 * see them: a segment of a dropped partition has no rows (it is shown
 * delete-only, or left out when it carries no deletes). */
struct Cairn__Data__SegmentInfo;
cairn_status coord_list_segments(cairn_coord *coord, cairn_arena *arena,
                                 const cat_coll *c,
                                 struct Cairn__Data__SegmentInfo ***out,
                                 size_t *n, cairn_error *err);
/* Remove a dropped collection's segment records and channel checkpoints
 * (its objects are collected by the datanode). */
cairn_status coord_drop_collection_data(cairn_coord *coord, const cat_coll *c,
                                        cairn_error *err);

#endif
