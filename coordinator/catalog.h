/*
 * catalog.h — the coordinator's catalogue records in the meta store.
 *
 * Key layout (values are cairn.catalog protobuf records, cairn_catalog.proto):
 *   cairn/catalog/db/{db name}              DatabaseInfo
 *   cairn/catalog/coll/{db id}/{name}       CollectionInfo (partitions,
 *                                           indexes and load state inside)
 *   cairn/catalog/collid/{collection id}    CollectionRef -> where it lives
 *   cairn/catalog/alias/{db id}/{alias}     AliasInfo
 * Names are validated before they become keys (letters, digits, '_'), so a
 * '/' never appears inside a name component.
 *
 * Reads go to the meta store every time (no cache to go stale when a standby
 * coordinator takes over); records are unpacked into the caller's arena and
 * may be modified there and written back. Writes that touch several keys are
 * one meta-store transaction, so a crash never leaves half a change.
 *
 * Threading: reads are safe from any thread. Writers take
 * cairn_catalog_lock() around read-modify-write sequences, which makes DDL
 * serial inside one coordinator (one active coordinator per cluster).
 */
#ifndef CAIRN_CATALOG_H
#define CAIRN_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "cairn_catalog.pb-c.h"
#include "meta.h"
#include "status.h"

/* Every catalogue key starts with CAIRN_CATALOG_PREFIX. The segment records
 * and channel checkpoints (coord_segment.c) live under the two prefixes
 * below and change with every flush; the rest (databases, collections with
 * their partitions, indexes and load state, aliases) changes only by DDL:
 * what a cache of collections is checked against (a watch of the prefix
 * ignoring those two, cmd/cluster_proxy.c). */
#define CAIRN_CATALOG_PREFIX "cairn/catalog/"
#define CAIRN_CATALOG_SEGMENT_PREFIX CAIRN_CATALOG_PREFIX "seg/"
#define CAIRN_CATALOG_CHECKPOINT_PREFIX CAIRN_CATALOG_PREFIX "chcp/"

typedef Cairn__Catalog__DatabaseInfo cat_db;
typedef Cairn__Catalog__CollectionInfo cat_coll;
typedef Cairn__Catalog__PartitionInfo cat_part;
typedef Cairn__Catalog__IndexInfo cat_index;
typedef Cairn__Catalog__AliasInfo cat_alias;

typedef struct cairn_catalog cairn_catalog;

/* Open on a meta store (not owned). new_id allocates one ID for the default
 * database when the store is fresh. */
cairn_status cairn_catalog_open(cairn_meta *meta, int64_t default_db_id,
                                uint64_t now_ts, cairn_catalog **out,
                                cairn_error *err);
void cairn_catalog_close(cairn_catalog *cat);
/* A counter this process bumps after every catalogue write it makes (ever
 * after the write, failed ones included). Equal values mean no write of
 * this process happened in between; writes of another process are not
 * seen, so only a process that is the catalogue's sole writer may cache on
 * it (standalone). */
uint64_t cairn_catalog_version(cairn_catalog *cat);
void cairn_catalog_lock(cairn_catalog *cat);
void cairn_catalog_unlock(cairn_catalog *cat);

/* ---- reads: results live in arena ---- */
cairn_status cairn_catalog_get_db(cairn_catalog *cat, cairn_arena *arena,
                                  const char *name, cat_db **out,
                                  cairn_error *err);
cairn_status cairn_catalog_list_dbs(cairn_catalog *cat, cairn_arena *arena,
                                    cat_db ***out, size_t *n, cairn_error *err);
/* A collection by name or alias in a database. */
cairn_status cairn_catalog_get_collection(cairn_catalog *cat, cairn_arena *arena,
                                          const cat_db *db, const char *name,
                                          cat_coll **out, cairn_error *err);
/* A collection by exact name only (no alias resolution); NULL when absent. */
cairn_status cairn_catalog_find_collection(cairn_catalog *cat,
                                           cairn_arena *arena, int64_t db_id,
                                           const char *name, cat_coll **out,
                                           cairn_error *err);
cairn_status cairn_catalog_get_collection_by_id(cairn_catalog *cat,
                                                cairn_arena *arena, int64_t id,
                                                cat_coll **out,
                                                cairn_error *err);
cairn_status cairn_catalog_list_collections(cairn_catalog *cat,
                                            cairn_arena *arena, int64_t db_id,
                                            cat_coll ***out, size_t *n,
                                            cairn_error *err);
/* An alias; *out is NULL when absent. */
cairn_status cairn_catalog_find_alias(cairn_catalog *cat, cairn_arena *arena,
                                      int64_t db_id, const char *name,
                                      cat_alias **out, cairn_error *err);
cairn_status cairn_catalog_list_aliases(cairn_catalog *cat, cairn_arena *arena,
                                        int64_t db_id, cat_alias ***out,
                                        size_t *n, cairn_error *err);

/* ---- writes: caller holds the lock ---- */
cairn_status cairn_catalog_put_db(cairn_catalog *cat, const cat_db *db,
                                  cairn_error *err);
cairn_status cairn_catalog_delete_db(cairn_catalog *cat, const cat_db *db,
                                     cairn_error *err);
cairn_status cairn_catalog_put_collection(cairn_catalog *cat,
                                          const cat_coll *coll,
                                          cairn_error *err);
/* Move a collection record from (old_db_id, old_name) to coll's place. */
cairn_status cairn_catalog_move_collection(cairn_catalog *cat,
                                           int64_t old_db_id,
                                           const char *old_name,
                                           const cat_coll *coll,
                                           cairn_error *err);
cairn_status cairn_catalog_delete_collection(cairn_catalog *cat,
                                             const cat_coll *coll,
                                             cairn_error *err);
cairn_status cairn_catalog_put_alias(cairn_catalog *cat, int64_t db_id,
                                     const cat_alias *alias, cairn_error *err);
cairn_status cairn_catalog_delete_alias(cairn_catalog *cat, int64_t db_id,
                                        const char *name, cairn_error *err);

#endif
