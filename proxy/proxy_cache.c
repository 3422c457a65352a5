/*
 * proxy_cache.c — the collections data requests address, kept between
 * requests while the catalogue is unchanged.
 *
 * Without it every Search asked the coordinator four things (describe the
 * collection, its partitions, its load state, the index metric of the
 * searched field) and rebuilt the schema: a catalogue read and an unpack
 * each, ~10% of a small search's server CPU in standalone, and four
 * network round trips to the coordinator (each a read of etcd) in a
 * cluster. The proxy is given a catalogue version
 * (cairn_proxy_options.catalog_version): exact in standalone (the
 * coordinator in the same process is the catalogue's sole writer), a watch
 * of the catalogue's keys in a cluster (core/meta_version.h); without one
 * nothing is cached.
 *
 * Invariants:
 * - An entry holds everything those four calls answered (errors of the
 *   index lookup included, so a search on a field without an index fails
 *   with the same message), taken at catalogue version `version` and cache
 *   generation `generation`, both read *before* the calls. The catalogue
 *   bumps its version *after* each write, so an entry whose version is
 *   still current cannot predate any write: it is exact (with a watched
 *   version: it cannot predate any write whose event has arrived). A stale
 *   entry is dropped at its next lookup.
 * - The generation moves after every catalogue write this proxy forwarded
 *   (proxy_cache_forget), so a client sees its own DDL at once even where
 *   the version learns of it a moment later (a cluster).
 * - Entries are immutable once built and reference counted: the table holds
 *   one reference, and each request that uses an entry holds one until its
 *   arena is freed (cairn_arena_defer), i.e. after its reply is packed, so
 *   replies may point into the entry.
 * - Keys are the request's (database, name-or-alias) as sent; an alias and
 *   the collection's name are two entries of the same collection.
 * - The table is small (CACHE_CAPACITY) and evicts the least recently used.
 *
 * Threading: the table is guarded by one mutex, held only to find, insert
 * or remove (never across a coordinator call). Two requests that miss at
 * once both build; the later insert replaces the earlier, both are valid.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "fielddata.h"
#include "proxy_internal.h"

#define CACHE_CAPACITY 128

/* The index lookup of one vector field as the coordinator answered it. */
typedef struct cached_metric {
  int64_t field_id;
  cairn_status status; /* CAIRN_OK: metric is set; else message */
  char *metric;
  char *message;
} cached_metric;

struct proxy_cached {
  atomic_int refs;
  uint64_t version;
  uint64_t generation;
  uint64_t last_used; /* under the table's lock */
  char *db;           /* key: the resolved database name */
  char *name;         /* key: the name or alias asked for */
  Milvus__Proto__Milvus__DescribeCollectionResponse *desc; /* malloc'd */
  Milvus__Proto__Milvus__ShowPartitionsResponse *parts;    /* malloc'd */
  cairn_schema *schema;
  bool loaded; /* GetLoadState with no partitions named said Loaded */
  cached_metric *metrics;
  size_t n_metrics;
};

struct proxy_cache {
  _Atomic uint64_t generation; /* proxy_cache_forget */
  pthread_mutex_t lock;
  proxy_cached *entries[CACHE_CAPACITY];
  size_t n;
  uint64_t clock; /* bumped per lookup: last_used order */
};

/* ---- entries ---- */

static void cached_free(proxy_cached *e) {
  for (size_t i = 0; i < e->n_metrics; i++) {
    free(e->metrics[i].metric);
    free(e->metrics[i].message);
  }
  free(e->metrics);
  cairn_schema_free(e->schema);
  if (e->desc != NULL)
    protobuf_c_message_free_unpacked(&e->desc->base, NULL);
  if (e->parts != NULL)
    protobuf_c_message_free_unpacked(&e->parts->base, NULL);
  free(e->db);
  free(e->name);
  free(e);
}

static void cached_unref(void *p) {
  proxy_cached *e = p;
  if (atomic_fetch_sub(&e->refs, 1) == 1)
    cached_free(e);
}

/* A malloc'd deep copy of m (pack + unpack), or NULL when out of memory. */
static ProtobufCMessage *pb_copy(const ProtobufCMessage *m) {
  size_t len = protobuf_c_message_get_packed_size(m);
  uint8_t *buf = malloc(len ? len : 1);
  if (buf == NULL)
    return NULL;
  protobuf_c_message_pack(m, buf);
  ProtobufCMessage *copy = protobuf_c_message_unpack(m->descriptor, NULL, len, buf);
  free(buf);
  return copy;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* The index metric lookup of every vector field: a metric or "no index"
 * (with its message) is kept; any other failure fails the build. */
static cairn_status fill_metrics(cairn_rpc_ctx *ctx, const proxy_coll *c,
                                 proxy_cached *e, cairn_error *err) {
  e->metrics = calloc(c->schema->n_fields, sizeof *e->metrics);
  if (e->metrics == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  for (size_t i = 0; i < c->schema->n_fields; i++) {
    const cairn_field *f = &c->schema->fields[i];
    if (!cairn_type_is_vector(f->type))
      continue;
    cached_metric *m = &e->metrics[e->n_metrics++];
    const char *metric = NULL;
    cairn_error lookup = {0};
    m->field_id = f->id;
    m->status = proxy_index_metric_fetch(ctx, c, f, &metric, &lookup);
    if (m->status != CAIRN_OK && m->status != CAIRN_INDEX_NOT_FOUND)
      return cairn_error_set(err, m->status, "%s", lookup.message); /* not an answer */
    m->metric = dup_or_null(m->status == CAIRN_OK ? metric : NULL);
    m->message = dup_or_null(m->status == CAIRN_OK ? NULL : lookup.message);
    if ((m->status == CAIRN_OK) != (m->metric != NULL))
      return cairn_error_set(err, CAIRN_NOMEM, NULL);
  }
  return CAIRN_OK;
}

/* Everything a data request needs about (db, name), asked of the
 * coordinator now, for catalogue version `version` and cache generation
 * `generation`. */
static cairn_status cached_build(cairn_rpc_ctx *ctx, const char *db_field,
                                 const char *name, uint64_t version,
                                 uint64_t generation, proxy_cached **out,
                                 cairn_error *err) {
  proxy_coll c;
  cairn_status st = proxy_coll_fetch(ctx, db_field, name, &c, err);
  if (st != CAIRN_OK)
    return st;
  proxy_cached *e = calloc(1, sizeof *e);
  Milvus__Proto__Milvus__ShowPartitionsResponse *parts = NULL;
  if (e == NULL)
    st = cairn_error_set(err, CAIRN_NOMEM, NULL);
  if (st == CAIRN_OK) {
    atomic_init(&e->refs, 1);
    e->version = version;
    e->generation = generation;
    st = proxy_partitions_fetch(ctx, &c, &parts, err);
  }
  if (st == CAIRN_OK) {
    cairn_error state = {0};
    cairn_status loaded = proxy_check_loaded_fetch(ctx, &c, NULL, 0, &state);
    if (loaded != CAIRN_OK && loaded != CAIRN_COLLECTION_NOT_LOADED)
      st = cairn_error_set(err, loaded, "%s", state.message);
    e->loaded = loaded == CAIRN_OK;
  }
  if (st == CAIRN_OK)
    st = fill_metrics(ctx, &c, e, err);
  if (st == CAIRN_OK) {
    e->db = strdup(c.db);
    e->name = strdup(name);
    e->desc = (Milvus__Proto__Milvus__DescribeCollectionResponse *)pb_copy(&c.desc->base);
    e->parts = (Milvus__Proto__Milvus__ShowPartitionsResponse *)pb_copy(&parts->base);
    if (e->db == NULL || e->name == NULL || e->desc == NULL || e->parts == NULL)
      st = cairn_error_set(err, CAIRN_NOMEM, NULL);
    else if (e->parts->n_inmemory_percentages != e->parts->n_partition_names)
      st = cairn_error_set(err, CAIRN_INTERNAL, "partitions listed without load state");
  }
  if (st == CAIRN_OK)
    st = cairn_schema_from_pb(e->desc->schema, &e->schema, err);
  proxy_coll_release(&c);
  if (st != CAIRN_OK && e != NULL) {
    cached_free(e);
    return st;
  }
  *out = e;
  return CAIRN_OK;
}

/* ---- the table ---- */

cairn_status proxy_cache_new(proxy_cache **out, cairn_error *err) {
  proxy_cache *cache = calloc(1, sizeof *cache);
  if (cache == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  atomic_init(&cache->generation, 0);
  pthread_mutex_init(&cache->lock, NULL);
  *out = cache;
  return CAIRN_OK;
}

void proxy_cache_free(proxy_cache *cache) {
  if (cache == NULL)
    return;
  for (size_t i = 0; i < cache->n; i++)
    cached_unref(cache->entries[i]);
  pthread_mutex_destroy(&cache->lock);
  free(cache);
}

/* Position of (db, name) in the table, or -1. Under the lock. */
static long find(const proxy_cache *cache, const char *db, const char *name) {
  for (size_t i = 0; i < cache->n; i++)
    if (strcmp(cache->entries[i]->name, name) == 0 &&
        strcmp(cache->entries[i]->db, db) == 0)
      return (long)i;
  return -1;
}

/* Drop slot i (its table reference). Under the lock. */
static void remove_at(proxy_cache *cache, size_t i) {
  cached_unref(cache->entries[i]);
  cache->entries[i] = cache->entries[--cache->n];
}

void proxy_cache_forget(proxy_cache *cache) {
  if (cache != NULL)
    atomic_fetch_add(&cache->generation, 1);
}

/* The current entry for (db, name) with a reference for the caller, or
 * NULL (a stale one is dropped). */
static proxy_cached *lookup(proxy_cache *cache, const char *db,
                            const char *name, uint64_t version,
                            uint64_t generation) {
  proxy_cached *e = NULL;
  pthread_mutex_lock(&cache->lock);
  long i = find(cache, db, name);
  if (i >= 0 && (cache->entries[i]->version != version ||
                 cache->entries[i]->generation != generation)) {
    remove_at(cache, (size_t)i);
  } else if (i >= 0) {
    e = cache->entries[i];
    e->last_used = ++cache->clock;
    atomic_fetch_add(&e->refs, 1);
  }
  pthread_mutex_unlock(&cache->lock);
  return e;
}

/* Put e in the table (it gains the table's reference), replacing the entry
 * of the same key or the least recently used one when full. */
static void insert(proxy_cache *cache, proxy_cached *e) {
  atomic_fetch_add(&e->refs, 1);
  pthread_mutex_lock(&cache->lock);
  long i = find(cache, e->db, e->name);
  if (i >= 0) {
    remove_at(cache, (size_t)i);
  } else if (cache->n == CACHE_CAPACITY) {
    size_t oldest = 0;
    for (size_t k = 1; k < cache->n; k++)
      if (cache->entries[k]->last_used < cache->entries[oldest]->last_used)
        oldest = k;
    remove_at(cache, oldest);
  }
  e->last_used = ++cache->clock;
  cache->entries[cache->n++] = e;
  pthread_mutex_unlock(&cache->lock);
}

cairn_status proxy_cache_open(cairn_rpc_ctx *ctx, const char *db_field,
                              const char *name, proxy_coll *out,
                              cairn_error *err) {
  memset(out, 0, sizeof *out);
  cairn_proxy *p = proxy_of(ctx);
  const char *db = cairn_pb_db_name(db_field, ctx->dbname);
  name = name ? name : "";
  uint64_t generation = atomic_load(&p->cache->generation);
  uint64_t version = p->catalog_version(p->catalog_version_ctx);
  proxy_cached *e = lookup(p->cache, db, name, version, generation);
  if (e == NULL) {
    cairn_status st = cached_build(ctx, db_field, name, version, generation, &e, err);
    if (st != CAIRN_OK)
      return st;
    insert(p->cache, e);
  }
  if (!cairn_arena_defer(ctx->arena, cached_unref, e)) {
    cached_unref(e);
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  }
  out->db = e->db;
  out->desc = e->desc;
  out->schema = e->schema;
  out->id = e->desc->collectionid;
  out->n_partitions = e->parts->n_partition_names;
  out->partition_names = e->parts->partition_names;
  out->partition_ids = e->parts->partitionids;
  out->partition_in_memory = e->parts->inmemory_percentages;
  out->cached = e;
  return CAIRN_OK;
}

bool proxy_cached_loaded(const proxy_cached *e) { return e->loaded; }

cairn_status proxy_cached_metric(const proxy_cached *e, const cairn_field *f,
                                 const char **metric, cairn_error *err) {
  for (size_t i = 0; i < e->n_metrics; i++) {
    const cached_metric *m = &e->metrics[i];
    if (m->field_id != f->id)
      continue;
    *metric = m->metric;
    return m->status == CAIRN_OK ? CAIRN_OK
                                 : cairn_error_set(err, m->status, "%s", m->message);
  }
  *metric = NULL;
  return cairn_error_set(err, CAIRN_INDEX_NOT_FOUND,
                         "there is no vector index on field %s", f->name);
}
