/*
 * dn_drop.c — removing the objects of a dropped collection or partition.
 *
 * What goes: every key under insert_log/{coll}/, delta_log/{coll}/ and
 * stats_log/{coll}/ (recorded segments and the garbage of flushes that were
 * never recorded alike), and the index files of the collection's segments,
 * index_files/{index id}/{version}/{segment}/... . The index keys do not
 * name the collection, so the segment ids are gathered first — from the
 * catalogue when it still knows the collection, and from the segment
 * components of the log keys (which also covers unrecorded segments) —
 * and index_files/ is listed and filtered on the segment component.
 * Segment ids are unique across collections (CoordService.AllocID), so the
 * filter never hits another collection's files.
 *
 * A dropped partition loses its insert logs, insert_log/{coll}/{part}/,
 * its stats logs, stats_log/{coll}/{part}/, and the index files of the
 * segments found there; its delta logs stay: the delta log of a flush
 * lives under the flush's first segment whatever its partition, and holds
 * deletes of rows of every partition (dn_flush.c), so it is still read
 * (the catalogue shows such a segment delete-only, coord_segment.c). Rows
 * of the partition that were still buffered are never written: a cut
 * forgets the rows of partitions the catalogue no longer has (dn_flush.c).
 *
 * The sweep (dn_sweep_dropped_partitions, run by a collection's consumer
 * thread once per start, when it has caught up with the log) removes the same objects for every partition that
 * still has insert or stats logs but is no longer in the catalogue: a drop
 * whose removal failed (a cluster's datanode unreachable at the drop, a
 * crash in between) or that raced with a cut writing the partition's rows.
 * It lists first and asks the catalogue second: a partition with objects
 * existed, and partition ids are never reused, so missing from the
 * catalogue after the listing means dropped. The listing costs one call
 * per partition: after each partition found it starts past its keys.
 *
 * XXX listing index_files/ costs one pass over every index file of the
 * store; a per-collection index prefix would need a new key layout.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dn_internal.h"
#include "log.h"

#define PAGE 1000

typedef struct id_set {
  int64_t *ids;
  size_t n, cap;
} id_set;

static cairn_status id_add(id_set *s, int64_t id, cairn_error *err) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    int64_t *p = realloc(s->ids, cap * sizeof *p);
    if (p == NULL)
      return cairn_error_set(err, CAIRN_NOMEM, NULL);
    s->ids = p;
    s->cap = cap;
  }
  s->ids[s->n++] = id;
  return CAIRN_OK;
}

static int cmp_id(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static bool id_has(const id_set *s, int64_t id) {
  return bsearch(&id, s->ids, s->n, sizeof id, cmp_id) != NULL;
}

/* The integer of path component `skip` (0-based) of rest, or -1. */
static int64_t component(const char *rest, int skip) {
  for (int i = 0; i < skip && rest != NULL; i++) {
    rest = strchr(rest, '/');
    rest = rest ? rest + 1 : NULL;
  }
  if (rest == NULL)
    return -1;
  char *end = NULL;
  long long v = strtoll(rest, &end, 10);
  return end != rest && (*end == '/' || *end == '\0') ? (int64_t)v : -1;
}

typedef cairn_status (*key_fn)(void *ctx, const char *rest, const char *key,
                               cairn_error *err);

/* Calls fn for every key under prefix, with the part after the prefix. */
static cairn_status each_key(cairn_objstore *store, const char *prefix,
                             key_fn fn, void *ctx, cairn_error *err) {
  char after[CAIRN_OBJ_MAX_KEY + 1] = "";
  bool more = true;
  cairn_status st = CAIRN_OK;
  size_t plen = strlen(prefix);
  while (st == CAIRN_OK && more) {
    cairn_obj_info *items = NULL;
    size_t n = 0;
    st = cairn_objstore_list(store, prefix, after[0] ? after : NULL, PAGE,
                             &items, &n, &more, err);
    for (size_t i = 0; st == CAIRN_OK && i < n; i++)
      st = fn(ctx, items[i].key + plen, items[i].key, err);
    if (n > 0)
      snprintf(after, sizeof after, "%s", items[n - 1].key);
    else
      more = false;
    cairn_obj_infos_free(items, n);
  }
  return st;
}

static cairn_status add_log_segment(void *ctx, const char *rest,
                                    const char *key, cairn_error *err) {
  (void)key;
  int64_t seg = component(rest, 1); /* {partition}/{segment}/... */
  return seg >= 0 ? id_add(ctx, seg, err) : CAIRN_OK;
}

typedef struct index_ctx {
  cairn_objstore *store;
  const id_set *segs;
  size_t removed;
} index_ctx;

static cairn_status remove_index_file(void *ctx, const char *rest,
                                      const char *key, cairn_error *err) {
  index_ctx *c = ctx;
  int64_t seg = component(rest, 2); /* {index}/{version}/{segment}/... */
  if (seg < 0 || !id_has(c->segs, seg))
    return CAIRN_OK;
  c->removed++;
  return cairn_objstore_remove(c->store, key, err);
}

static cairn_status catalogue_segments(cairn_datanode *dn, int64_t id,
                                       id_set *set, cairn_error *err) {
  cairn_arena *arena = cairn_arena_new();
  if (arena == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  Cairn__Data__SegmentInfo **segs;
  Cairn__Data__ChannelCheckpoint **cps;
  size_t n_segs = 0, n_cps;
  cairn_error ignored = {0}; /* a dropped collection is not listed: fine */
  cairn_status st = CAIRN_OK;
  if (dn_coord_list(dn, arena, id, &segs, &n_segs, &cps, &n_cps, &ignored) ==
      CAIRN_OK)
    for (size_t i = 0; st == CAIRN_OK && i < n_segs; i++)
      st = id_add(set, segs[i]->id, err);
  cairn_arena_free(arena);
  return st;
}

static const char *const log_dirs[] = {"insert_log", "delta_log", "stats_log"};

static void sort_unique(id_set *set) {
  if (set->n > 1)
    qsort(set->ids, set->n, sizeof *set->ids, cmp_id);
  size_t u = 0;
  for (size_t i = 0; i < set->n; i++)
    if (u == 0 || set->ids[u - 1] != set->ids[i])
      set->ids[u++] = set->ids[i];
  set->n = u;
}

/* Removes the index files of the (sorted) segments; *removed counts them. */
static cairn_status remove_index_files(cairn_datanode *dn, const id_set *segs,
                                       size_t *removed, cairn_error *err) {
  index_ctx ic = {.store = dn->opts.objstore, .segs = segs};
  cairn_status st = CAIRN_OK;
  if (segs->n > 0) {
    char prefix[CAIRN_OBJ_MAX_KEY];
    dn_key(dn, prefix, sizeof prefix, "index_files/");
    st = each_key(dn->opts.objstore, prefix, remove_index_file, &ic, err);
  }
  *removed = ic.removed;
  return st;
}

cairn_status dn_remove_objects(cairn_datanode *dn, int64_t id,
                               cairn_error *err) {
  cairn_objstore *store = dn->opts.objstore;
  id_set set = {0};
  char prefix[CAIRN_OBJ_MAX_KEY];
  size_t removed = 0;
  cairn_status st = catalogue_segments(dn, id, &set, err);
  for (size_t i = 0; st == CAIRN_OK && i < 3; i++) {
    dn_key(dn, prefix, sizeof prefix, "%s/%" PRId64 "/", log_dirs[i], id);
    st = each_key(store, prefix, add_log_segment, &set, err);
  }
  sort_unique(&set);
  if (st == CAIRN_OK)
    st = remove_index_files(dn, &set, &removed, err);
  for (size_t i = 0; st == CAIRN_OK && i < 3; i++) {
    dn_key(dn, prefix, sizeof prefix, "%s/%" PRId64 "/", log_dirs[i], id);
    st = cairn_objstore_remove_prefix(store, prefix, err);
  }
  if (st == CAIRN_OK)
    cairn_log_info("datanode: removed the objects of collection %" PRId64
                   " (%zu segments, %zu index files)", id, set.n, removed);
  free(set.ids);
  return st;
}

static cairn_status add_partition_segment(void *ctx, const char *rest,
                                          const char *key, cairn_error *err) {
  (void)key;
  int64_t seg = component(rest, 0); /* {segment}/... */
  return seg >= 0 ? id_add(ctx, seg, err) : CAIRN_OK;
}

/* The logs of a partition that go with it (see the top). */
static const char *const partition_dirs[] = {"insert_log", "stats_log"};

cairn_status cairn_datanode_drop_partition(cairn_datanode *dn,
                                           int64_t collection_id,
                                           int64_t partition_id,
                                           cairn_error *err) {
  cairn_objstore *store = dn->opts.objstore;
  id_set set = {0};
  char prefix[CAIRN_OBJ_MAX_KEY];
  size_t removed = 0;
  cairn_status st = CAIRN_OK;
  for (size_t i = 0; st == CAIRN_OK && i < 2; i++) {
    dn_key(dn, prefix, sizeof prefix, "%s/%" PRId64 "/%" PRId64 "/",
           partition_dirs[i], collection_id, partition_id);
    st = each_key(store, prefix, add_partition_segment, &set, err);
  }
  sort_unique(&set);
  if (st == CAIRN_OK)
    st = remove_index_files(dn, &set, &removed, err);
  for (size_t i = 0; st == CAIRN_OK && i < 2; i++) {
    dn_key(dn, prefix, sizeof prefix, "%s/%" PRId64 "/%" PRId64 "/",
           partition_dirs[i], collection_id, partition_id);
    st = cairn_objstore_remove_prefix(store, prefix, err);
  }
  if (st == CAIRN_OK)
    cairn_log_info("datanode: removed the rows of partition %" PRId64
                   " of collection %" PRId64 " (%zu segments, %zu index files)",
                   partition_id, collection_id, set.n, removed);
  free(set.ids);
  return st;
}

/* Adds to set the partition ids that have keys under prefix
 * ("…/{coll}/"): one list call of one key per partition, each starting past
 * the keys of the one before ({part}/ then '~', above digits and '/'). */
static cairn_status partitions_under(cairn_objstore *store, const char *prefix,
                                     id_set *set, cairn_error *err) {
  char after[CAIRN_OBJ_MAX_KEY + 2] = "";
  size_t plen = strlen(prefix);
  for (;;) {
    cairn_obj_info *items = NULL;
    size_t n = 0;
    bool more = false;
    cairn_status st = cairn_objstore_list(store, prefix, after[0] ? after : NULL,
                                          1, &items, &n, &more, err);
    if (st != CAIRN_OK || n == 0) {
      cairn_obj_infos_free(items, n);
      return st;
    }
    int64_t part = component(items[0].key + plen, 0);
    if (part >= 0) {
      st = id_add(set, part, err);
      snprintf(after, sizeof after, "%s%" PRId64 "/~", prefix, part);
    } else { /* a key that is not ours: step over it alone */
      snprintf(after, sizeof after, "%s", items[0].key);
    }
    cairn_obj_infos_free(items, n);
    if (st != CAIRN_OK || !more)
      return st;
  }
}

cairn_status dn_sweep_dropped_partitions(cairn_datanode *dn,
                                         int64_t collection_id,
                                         cairn_error *err) {
  id_set found = {0};
  char prefix[CAIRN_OBJ_MAX_KEY];
  cairn_status st = CAIRN_OK;
  for (size_t i = 0; st == CAIRN_OK && i < 2; i++) {
    dn_key(dn, prefix, sizeof prefix, "%s/%" PRId64 "/", partition_dirs[i],
           collection_id);
    st = partitions_under(dn->opts.objstore, prefix, &found, err);
  }
  sort_unique(&found);
  cairn_arena *arena = NULL;
  const int64_t *live = NULL;
  size_t n_live = 0;
  if (st == CAIRN_OK && found.n > 0) {
    arena = cairn_arena_new();
    st = arena ? dn_coord_partitions(dn, arena, collection_id, &live, &n_live, err)
               : cairn_error_set(err, CAIRN_NOMEM, NULL);
  }
  for (size_t i = 0; st == CAIRN_OK && i < found.n; i++)
    if (!dn_partition_in(live, n_live, found.ids[i])) {
      cairn_log_info("datanode: collection %" PRId64 ": partition %" PRId64
                     " is dropped but has objects left", collection_id,
                     found.ids[i]);
      st = cairn_datanode_drop_partition(dn, collection_id, found.ids[i], err);
    }
  cairn_arena_free(arena);
  free(found.ids);
  return st;
}
