/*
 * in_coord.c — the CoordService calls of the indexnode.
 *
 * The index definitions are read with DescribeIndex, which names the
 * collection by database + name, while a schedule knows only the id. So:
 * DescribeCollection by id gives the name and the schema; the database is
 * the one whose DescribeCollection of that name answers the same id —
 * first the db_name of the by-id reply, then every database of
 * ListDatabases. (XXX the coordinator's by-id DescribeCollection fills
 * db_name from the request, "default" when empty, not from the collection;
 * once it answers the collection's own database the first try always hits.)
 *
 * A reply's common.Status is turned back into the cairn_status with that
 * Milvus code, the reason kept as the message.
 */
#include <stdlib.h>
#include <string.h>

#include "cairn_internal.pb-c.h"
#include "fielddata.h"
#include "in_internal.h"
#include "milvus_util.h"

#define PATH(m) "/cairn.internal.CoordService/" m

typedef Milvus__Proto__Milvus__DescribeCollectionResponse describe_reply;

static cairn_status call(cairn_indexnode *in, cairn_arena *arena,
                         const char *method, const ProtobufCMessage *req,
                         const ProtobufCMessageDescriptor *desc,
                         ProtobufCMessage **reply, cairn_error *err) {
  return cairn_rpc_call(in->opts.coord, method, req, desc, NULL, arena, reply,
                        err);
}

static cairn_status describe(cairn_indexnode *in, cairn_arena *arena,
                             int64_t id, const char *db, const char *name,
                             describe_reply **r, cairn_error *err) {
  Milvus__Proto__Milvus__DescribeCollectionRequest req =
      MILVUS__PROTO__MILVUS__DESCRIBE_COLLECTION_REQUEST__INIT;
  req.collectionid = id;
  req.db_name = (char *)(db ? db : "");
  req.collection_name = (char *)(name ? name : "");
  cairn_status st = call(in, arena, PATH("DescribeCollection"), &req.pb_base,
                         &milvus__proto__milvus__describe_collection_response__descriptor,
                         (ProtobufCMessage **)r, err);
  return st == CAIRN_OK ? cairn_pb_status_check((*r)->status, "DescribeCollection", err) : st;
}

/* Whether collection `name` in database db is collection id. */
static bool is_in_db(cairn_indexnode *in, cairn_arena *arena, int64_t id,
                     const char *db, const char *name) {
  describe_reply *r = NULL;
  return describe(in, arena, 0, db, name, &r, NULL) == CAIRN_OK &&
         r->collectionid == id;
}

static cairn_status find_db(cairn_indexnode *in, cairn_arena *arena, int64_t id,
                            const char *hint, const char *name,
                            const char **db, cairn_error *err) {
  if (is_in_db(in, arena, id, hint, name)) {
    *db = hint;
    return CAIRN_OK;
  }
  Milvus__Proto__Milvus__ListDatabasesRequest req =
      MILVUS__PROTO__MILVUS__LIST_DATABASES_REQUEST__INIT;
  Milvus__Proto__Milvus__ListDatabasesResponse *r = NULL;
  cairn_status st = call(in, arena, PATH("ListDatabases"), &req.pb_base,
                         &milvus__proto__milvus__list_databases_response__descriptor,
                         (ProtobufCMessage **)&r, err);
  if (st == CAIRN_OK)
    st = cairn_pb_status_check(r->status, "ListDatabases", err);
  for (size_t i = 0; st == CAIRN_OK && i < r->n_db_names; i++)
    if (is_in_db(in, arena, id, r->db_names[i], name)) {
      *db = r->db_names[i];
      return CAIRN_OK;
    }
  return st != CAIRN_OK ? st
                        : cairn_error_set(err, CAIRN_COLLECTION_NOT_FOUND,
                                          "collection %lld not found in any "
                                          "database", (long long)id);
}

cairn_status in_coord_collection(cairn_indexnode *in, cairn_arena *arena,
                                 int64_t collection_id, const char **db,
                                 const char **name, cairn_schema **schema,
                                 cairn_error *err) {
  *schema = NULL;
  describe_reply *r = NULL;
  cairn_status st = describe(in, arena, collection_id, NULL, NULL, &r, err);
  if (st == CAIRN_OK && r->schema == NULL)
    st = cairn_error_set(err, CAIRN_INTERNAL, "collection %lld has no schema",
                         (long long)collection_id);
  if (st != CAIRN_OK)
    return st;
  *name = r->collection_name;
  st = find_db(in, arena, collection_id, r->db_name, r->collection_name, db, err);
  if (st == CAIRN_OK)
    st = cairn_schema_from_pb(r->schema, schema, err);
  return st;
}

cairn_status in_coord_indexes(cairn_indexnode *in, cairn_arena *arena,
                              const char *db, const char *name,
                              Milvus__Proto__Milvus__IndexDescription ***out,
                              size_t *n, cairn_error *err) {
  *n = 0;
  Milvus__Proto__Milvus__DescribeIndexRequest req =
      MILVUS__PROTO__MILVUS__DESCRIBE_INDEX_REQUEST__INIT;
  req.db_name = (char *)db;
  req.collection_name = (char *)name;
  Milvus__Proto__Milvus__DescribeIndexResponse *r = NULL;
  cairn_status st = call(in, arena, PATH("DescribeIndex"), &req.pb_base,
                         &milvus__proto__milvus__describe_index_response__descriptor,
                         (ProtobufCMessage **)&r, err);
  if (st == CAIRN_OK)
    st = cairn_pb_status_check(r->status, "DescribeIndex", err);
  if (st == CAIRN_INDEX_NOT_FOUND) {
    cairn_error_clear(err);
    return CAIRN_OK;
  }
  if (st == CAIRN_OK) {
    *out = r->index_descriptions;
    *n = r->n_index_descriptions;
  }
  return st;
}

cairn_status in_coord_segments(cairn_indexnode *in, cairn_arena *arena,
                               int64_t collection_id,
                               Cairn__Data__SegmentInfo ***segs, size_t *n,
                               cairn_error *err) {
  *n = 0;
  Cairn__Internal__ListSegmentsRequest req =
      CAIRN__INTERNAL__LIST_SEGMENTS_REQUEST__INIT;
  req.collection_id = collection_id;
  Cairn__Internal__ListSegmentsResponse *r = NULL;
  cairn_status st = call(in, arena, PATH("ListSegments"), &req.base,
                         &cairn__internal__list_segments_response__descriptor,
                         (ProtobufCMessage **)&r, err);
  if (st == CAIRN_OK)
    st = cairn_pb_status_check(r->status, "ListSegments", err);
  if (st == CAIRN_OK) {
    *segs = r->segments;
    *n = r->n_segments;
  }
  return st;
}

cairn_status in_coord_save_index(cairn_indexnode *in, int64_t collection_id,
                                 int64_t segment_id,
                                 Cairn__Data__SegmentIndexFile *file,
                                 cairn_error *err) {
  cairn_arena *arena = cairn_arena_new();
  if (arena == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  Cairn__Internal__SaveSegmentIndexRequest req =
      CAIRN__INTERNAL__SAVE_SEGMENT_INDEX_REQUEST__INIT;
  req.collection_id = collection_id;
  req.segment_id = segment_id;
  req.file = file;
  mpb_status *r = NULL;
  cairn_status st = call(in, arena, PATH("SaveSegmentIndex"), &req.base,
                         &milvus__proto__common__status__descriptor,
                         (ProtobufCMessage **)&r, err);
  if (st == CAIRN_OK)
    st = cairn_pb_status_check(r, "SaveSegmentIndex", err);
  cairn_arena_free(arena);
  return st;
}

