/* catalog.c — catalogue records in the meta store; see catalog.h for the
 * key layout and the threading rule. */
#include "catalog.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_DB CAIRN_CATALOG_PREFIX "db/"
#define KEY_COLL CAIRN_CATALOG_PREFIX "coll/"
#define KEY_COLLID CAIRN_CATALOG_PREFIX "collid/"
#define KEY_ALIAS CAIRN_CATALOG_PREFIX "alias/"
#define KEY_MAX 512

struct cairn_catalog {
  cairn_meta *meta;
  pthread_mutex_t lock; /* serialises read-modify-write DDL */
  _Atomic uint64_t version; /* bumped after every write attempt */
};

/* Every write path ends here: the version moves after the store changed
 * (or may have: a failed write counts too), never before. */
static cairn_status written(cairn_catalog *cat, cairn_status st) {
  atomic_fetch_add(&cat->version, 1);
  return st;
}

uint64_t cairn_catalog_version(cairn_catalog *cat) {
  return atomic_load(&cat->version);
}

/* ---- keys ---- */

static void db_key(char *buf, const char *name) {
  snprintf(buf, KEY_MAX, KEY_DB "%s", name);
}
static void coll_key(char *buf, int64_t db_id, const char *name) {
  snprintf(buf, KEY_MAX, KEY_COLL "%" PRId64 "/%s", db_id, name);
}
static void coll_prefix(char *buf, int64_t db_id) {
  snprintf(buf, KEY_MAX, KEY_COLL "%" PRId64 "/", db_id);
}
static void collid_key(char *buf, int64_t id) {
  snprintf(buf, KEY_MAX, KEY_COLLID "%" PRId64, id);
}
static void alias_key(char *buf, int64_t db_id, const char *name) {
  snprintf(buf, KEY_MAX, KEY_ALIAS "%" PRId64 "/%s", db_id, name);
}
static void alias_prefix(char *buf, int64_t db_id) {
  snprintf(buf, KEY_MAX, KEY_ALIAS "%" PRId64 "/", db_id);
}

/* ---- record codec ---- */

/* Load the record at key; *out is NULL when the key is absent. */
static cairn_status load_record(cairn_catalog *cat, cairn_arena *arena,
                                const char *key,
                                const ProtobufCMessageDescriptor *desc,
                                ProtobufCMessage **out, cairn_error *err) {
  *out = NULL;
  cairn_meta_kv kv = {0};
  cairn_status st = cairn_meta_get(cat->meta, key, &kv, err);
  if (st == CAIRN_IO_NOT_FOUND) {
    cairn_error_clear(err);
    return CAIRN_OK;
  }
  if (st != CAIRN_OK)
    return st;
  *out = protobuf_c_message_unpack(desc, cairn_arena_protobuf(arena),
                                   kv.value_len, kv.value);
  cairn_meta_kv_clear(&kv);
  if (*out == NULL)
    return cairn_error_set(err, CAIRN_CORRUPT,
                           "catalogue record %s is corrupt (%s)", key,
                           desc->name);
  return CAIRN_OK;
}

/* Unpack every record of a range result into an arena array. */
static cairn_status unpack_all(cairn_arena *arena, const cairn_meta_kvs *kvs,
                               const ProtobufCMessageDescriptor *desc,
                               ProtobufCMessage ***out, size_t *n,
                               cairn_error *err) {
  *out = CAIRN_ARENA_NEW(arena, ProtobufCMessage *, kvs->count + 1);
  *n = 0;
  if (*out == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  for (size_t i = 0; i < kvs->count; i++) {
    ProtobufCMessage *m = protobuf_c_message_unpack(
        desc, cairn_arena_protobuf(arena), kvs->items[i].value_len,
        kvs->items[i].value);
    if (m == NULL)
      return cairn_error_set(err, CAIRN_CORRUPT,
                             "catalogue record %s is corrupt (%s)",
                             kvs->items[i].key, desc->name);
    (*out)[(*n)++] = m;
  }
  return CAIRN_OK;
}

static cairn_status load_range(cairn_catalog *cat, cairn_arena *arena,
                               const char *prefix,
                               const ProtobufCMessageDescriptor *desc,
                               ProtobufCMessage ***out, size_t *n,
                               cairn_error *err) {
  cairn_meta_kvs kvs = {0};
  cairn_status st = cairn_meta_range(cat->meta, prefix, NULL, 0, &kvs, err);
  if (st == CAIRN_OK)
    st = unpack_all(arena, &kvs, desc, out, n, err);
  cairn_meta_kvs_free(&kvs);
  return st;
}

/* Packed bytes of a record, in the arena. */
static uint8_t *pack_record(cairn_arena *arena, const ProtobufCMessage *msg,
                            size_t *len) {
  *len = protobuf_c_message_get_packed_size(msg);
  uint8_t *buf = cairn_arena_alloc(arena, *len + 1);
  if (buf != NULL)
    protobuf_c_message_pack(msg, buf);
  return buf;
}

static cairn_meta_op put_op(const char *key, const uint8_t *value, size_t len) {
  cairn_meta_op op = {.type = CAIRN_META_OP_PUT, .key = key, .value = value,
                      .value_len = len};
  return op;
}

static cairn_meta_op delete_op(const char *key) {
  cairn_meta_op op = {.type = CAIRN_META_OP_DELETE, .key = key};
  return op;
}

static cairn_status commit_ops(cairn_catalog *cat, const cairn_meta_op *ops,
                               size_t n, cairn_error *err) {
  cairn_meta_txn txn = {.success = ops, .n_success = n};
  return cairn_meta_txn_commit(cat->meta, &txn, NULL, err);
}

/* ---- open / lock ---- */

cairn_status cairn_catalog_open(cairn_meta *meta, int64_t default_db_id,
                                uint64_t now_ts, cairn_catalog **out,
                                cairn_error *err) {
  *out = NULL;
  cairn_catalog *cat = calloc(1, sizeof *cat);
  if (cat == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  cat->meta = meta;
  pthread_mutex_init(&cat->lock, NULL);
  cairn_arena *arena = cairn_arena_new();
  cat_db *db = NULL;
  cairn_status st = arena ? cairn_catalog_get_db(cat, arena, "default", &db, err)
                          : cairn_error_set(err, CAIRN_NOMEM, NULL);
  if (st == CAIRN_DATABASE_NOT_FOUND) {
    cat_db fresh = CAIRN__CATALOG__DATABASE_INFO__INIT;
    fresh.id = default_db_id;
    fresh.name = "default";
    fresh.created_ts = now_ts;
    st = cairn_catalog_put_db(cat, &fresh, err);
  }
  cairn_arena_free(arena);
  if (st != CAIRN_OK) {
    cairn_catalog_close(cat);
    return st;
  }
  cairn_error_clear(err);
  *out = cat;
  return CAIRN_OK;
}

void cairn_catalog_close(cairn_catalog *cat) {
  if (cat == NULL)
    return;
  pthread_mutex_destroy(&cat->lock);
  free(cat);
}

void cairn_catalog_lock(cairn_catalog *cat) { pthread_mutex_lock(&cat->lock); }
void cairn_catalog_unlock(cairn_catalog *cat) {
  pthread_mutex_unlock(&cat->lock);
}

/* ---- databases ---- */

cairn_status cairn_catalog_get_db(cairn_catalog *cat, cairn_arena *arena,
                                  const char *name, cat_db **out,
                                  cairn_error *err) {
  char key[KEY_MAX];
  db_key(key, name);
  ProtobufCMessage *m = NULL;
  cairn_status st = load_record(cat, arena, key,
                                &cairn__catalog__database_info__descriptor, &m,
                                err);
  *out = (cat_db *)m;
  if (st == CAIRN_OK && m == NULL)
    return cairn_error_set(err, CAIRN_DATABASE_NOT_FOUND,
                           "database not found[database=%s]", name);
  return st;
}

cairn_status cairn_catalog_list_dbs(cairn_catalog *cat, cairn_arena *arena,
                                    cat_db ***out, size_t *n,
                                    cairn_error *err) {
  return load_range(cat, arena, KEY_DB,
                    &cairn__catalog__database_info__descriptor,
                    (ProtobufCMessage ***)out, n, err);
}

cairn_status cairn_catalog_put_db(cairn_catalog *cat, const cat_db *db,
                                  cairn_error *err) {
  cairn_arena *arena = cairn_arena_new();
  if (arena == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  char key[KEY_MAX];
  db_key(key, db->name);
  size_t len;
  uint8_t *buf = pack_record(arena, &db->base, &len);
  cairn_status st = buf ? cairn_meta_put(cat->meta, key, buf, len, 0, NULL, err)
                        : cairn_error_set(err, CAIRN_NOMEM, NULL);
  cairn_arena_free(arena);
  return written(cat, st);
}

cairn_status cairn_catalog_delete_db(cairn_catalog *cat, const cat_db *db,
                                     cairn_error *err) {
  char key[KEY_MAX];
  db_key(key, db->name);
  return written(cat, cairn_meta_delete(cat->meta, key, NULL, err));
}

/* ---- collections ---- */

cairn_status cairn_catalog_find_collection(cairn_catalog *cat,
                                           cairn_arena *arena, int64_t db_id,
                                           const char *name, cat_coll **out,
                                           cairn_error *err) {
  char key[KEY_MAX];
  coll_key(key, db_id, name);
  ProtobufCMessage *m = NULL;
  cairn_status st = load_record(
      cat, arena, key, &cairn__catalog__collection_info__descriptor, &m, err);
  *out = (cat_coll *)m;
  return st;
}

cairn_status cairn_catalog_get_collection_by_id(cairn_catalog *cat,
                                                cairn_arena *arena, int64_t id,
                                                cat_coll **out,
                                                cairn_error *err) {
  char key[KEY_MAX];
  collid_key(key, id);
  ProtobufCMessage *m = NULL;
  cairn_status st = load_record(
      cat, arena, key, &cairn__catalog__collection_ref__descriptor, &m, err);
  *out = NULL;
  if (st == CAIRN_OK && m != NULL) {
    Cairn__Catalog__CollectionRef *ref = (Cairn__Catalog__CollectionRef *)m;
    st = cairn_catalog_find_collection(cat, arena, ref->db_id, ref->name, out,
                                       err);
  }
  if (st == CAIRN_OK && *out == NULL)
    return cairn_error_set(err, CAIRN_COLLECTION_NOT_FOUND,
                           "collection not found[collectionID=%" PRId64 "]", id);
  return st;
}

cairn_status cairn_catalog_get_collection(cairn_catalog *cat, cairn_arena *arena,
                                          const cat_db *db, const char *name,
                                          cat_coll **out, cairn_error *err) {
  cairn_status st = cairn_catalog_find_collection(cat, arena, db->id, name,
                                                  out, err);
  if (st != CAIRN_OK || *out != NULL)
    return st;
  cat_alias *alias = NULL;
  st = cairn_catalog_find_alias(cat, arena, db->id, name, &alias, err);
  if (st == CAIRN_OK && alias != NULL) {
    st = cairn_catalog_get_collection_by_id(cat, arena, alias->collection_id,
                                            out, err);
    if (st != CAIRN_COLLECTION_NOT_FOUND)
      return st;
  }
  if (st != CAIRN_OK && st != CAIRN_COLLECTION_NOT_FOUND)
    return st;
  return cairn_error_set(err, CAIRN_COLLECTION_NOT_FOUND,
                         "collection not found[database=%s][collection=%s]",
                         db->name, name);
}

cairn_status cairn_catalog_list_collections(cairn_catalog *cat,
                                            cairn_arena *arena, int64_t db_id,
                                            cat_coll ***out, size_t *n,
                                            cairn_error *err) {
  char prefix[KEY_MAX];
  coll_prefix(prefix, db_id);
  return load_range(cat, arena, prefix,
                    &cairn__catalog__collection_info__descriptor,
                    (ProtobufCMessage ***)out, n, err);
}

/* Ops that write a collection record and its id reference. */
static cairn_status collection_put_ops(cairn_arena *arena, const cat_coll *coll,
                                       cairn_meta_op ops[2], cairn_error *err) {
  Cairn__Catalog__CollectionRef ref = CAIRN__CATALOG__COLLECTION_REF__INIT;
  ref.db_id = coll->db_id;
  ref.name = coll->name;
  char *ckey = cairn_arena_alloc(arena, KEY_MAX);
  char *rkey = cairn_arena_alloc(arena, KEY_MAX);
  size_t clen, rlen;
  uint8_t *cbuf = pack_record(arena, &coll->base, &clen);
  uint8_t *rbuf = pack_record(arena, &ref.base, &rlen);
  if (!ckey || !rkey || !cbuf || !rbuf)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  coll_key(ckey, coll->db_id, coll->name);
  collid_key(rkey, coll->id);
  ops[0] = put_op(ckey, cbuf, clen);
  ops[1] = put_op(rkey, rbuf, rlen);
  return CAIRN_OK;
}

cairn_status cairn_catalog_put_collection(cairn_catalog *cat,
                                          const cat_coll *coll,
                                          cairn_error *err) {
  cairn_arena *arena = cairn_arena_new();
  if (arena == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  cairn_meta_op ops[2];
  cairn_status st = collection_put_ops(arena, coll, ops, err);
  if (st == CAIRN_OK)
    st = commit_ops(cat, ops, 2, err);
  cairn_arena_free(arena);
  return written(cat, st);
}

cairn_status cairn_catalog_move_collection(cairn_catalog *cat,
                                           int64_t old_db_id,
                                           const char *old_name,
                                           const cat_coll *coll,
                                           cairn_error *err) {
  cairn_arena *arena = cairn_arena_new();
  if (arena == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  cairn_meta_op ops[3];
  char old_key[KEY_MAX];
  coll_key(old_key, old_db_id, old_name);
  ops[0] = delete_op(old_key);
  cairn_status st = collection_put_ops(arena, coll, ops + 1, err);
  if (st == CAIRN_OK)
    st = commit_ops(cat, ops, 3, err);
  cairn_arena_free(arena);
  return written(cat, st);
}

cairn_status cairn_catalog_delete_collection(cairn_catalog *cat,
                                             const cat_coll *coll,
                                             cairn_error *err) {
  char ckey[KEY_MAX], rkey[KEY_MAX];
  coll_key(ckey, coll->db_id, coll->name);
  collid_key(rkey, coll->id);
  cairn_meta_op ops[2] = {delete_op(ckey), delete_op(rkey)};
  return written(cat, commit_ops(cat, ops, 2, err));
}

/* ---- aliases ---- */

cairn_status cairn_catalog_find_alias(cairn_catalog *cat, cairn_arena *arena,
                                      int64_t db_id, const char *name,
                                      cat_alias **out, cairn_error *err) {
  char key[KEY_MAX];
  alias_key(key, db_id, name);
  ProtobufCMessage *m = NULL;
  cairn_status st = load_record(cat, arena, key,
                                &cairn__catalog__alias_info__descriptor, &m,
                                err);
  *out = (cat_alias *)m;
  return st;
}

cairn_status cairn_catalog_list_aliases(cairn_catalog *cat, cairn_arena *arena,
                                        int64_t db_id, cat_alias ***out,
                                        size_t *n, cairn_error *err) {
  char prefix[KEY_MAX];
  alias_prefix(prefix, db_id);
  return load_range(cat, arena, prefix, &cairn__catalog__alias_info__descriptor,
                    (ProtobufCMessage ***)out, n, err);
}

cairn_status cairn_catalog_put_alias(cairn_catalog *cat, int64_t db_id,
                                     const cat_alias *alias, cairn_error *err) {
  cairn_arena *arena = cairn_arena_new();
  if (arena == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  char key[KEY_MAX];
  alias_key(key, db_id, alias->name);
  size_t len;
  uint8_t *buf = pack_record(arena, &alias->base, &len);
  cairn_status st = buf ? cairn_meta_put(cat->meta, key, buf, len, 0, NULL, err)
                        : cairn_error_set(err, CAIRN_NOMEM, NULL);
  cairn_arena_free(arena);
  return written(cat, st);
}

cairn_status cairn_catalog_delete_alias(cairn_catalog *cat, int64_t db_id,
                                        const char *name, cairn_error *err) {
  char key[KEY_MAX];
  alias_key(key, db_id, name);
  return written(cat, cairn_meta_delete(cat->meta, key, NULL, err));
}
