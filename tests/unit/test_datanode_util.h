/*
 * test_datanode_util.h — the fixture shared by the datanode and indexnode
 * tests: a real coordinator on a temp embedded meta store (direct client),
 * an embedded log and a local object store, all under one temp directory;
 * a collection created through CoordService; LogEntry messages produced by
 * hand; binlogs read back.
 *
 * Row content is a pure function of the row's primary key g, so any reader
 * can check a row it finds: vector[j] = tu_vec(g, j), title "t<g>" (null
 * when g % 5 == 0), $meta {"g": g}.
 */
#ifndef CAIRN_TEST_DATANODE_UTIL_H
#define CAIRN_TEST_DATANODE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "binlog.h"
#include "cairn_data.pb-c.h"
#include "coord.h"
#include "meta.h"
#include "mq.h"
#include "objstore.h"
#include "rpc.h"

typedef struct tu_fx {
  char dir[64];
  cairn_meta *meta;
  cairn_coord *coord;
  cairn_rpc_client *client;
  cairn_mq *mq;
  cairn_objstore *store;
  cairn_arena *arena;      /* replies of helper calls; reset by tu_reset */
  int64_t coll_id;
  int64_t part_default, part_p1;
  char channels[4][128];
  size_t n_channels;
  int64_t dim;
} tu_fx;

/* Opens everything in a new temp dir and creates collection `name` (pk
 * "id" Int64, "vector" FloatVector dim, "title" VarChar nullable, dynamic
 * fields on) with `shards` shards and a second partition "p1". */
void tu_open(tu_fx *f, const char *name, int shards, int64_t dim);
/* Drops partition `partition` of collection `name` in the catalogue. */
void tu_drop_partition(tu_fx *f, const char *name, const char *partition);
/* Closes everything and removes the temp dir. */
void tu_close(tu_fx *f);
/* A fresh reply arena. */
void tu_reset(tu_fx *f);

float tu_vec(int64_t g, int64_t j);
/* When set, tu_vec is a hash of (g, j) uniform in [0, 1) instead (bench
 * data without structure). */
extern bool tu_random_vectors;

/* Produces one InsertEntry of rows [g0, g0+n) at timestamp ts to channel
 * ch of the fixture's collection, partition part. Returns the position. */
int64_t tu_insert(tu_fx *f, size_t ch, int64_t part, int64_t g0, size_t n,
                  uint64_t ts);
/* Same with a vector dimension that does not fit the schema (bad entry). */
int64_t tu_insert_bad_dim(tu_fx *f, size_t ch, int64_t g0, size_t n,
                          uint64_t ts);
/* Produces one DeleteEntry of pks[0..n) at ts. */
int64_t tu_delete(tu_fx *f, size_t ch, const int64_t *pks, size_t n,
                  uint64_t ts);

/* ListSegments of the collection (reply in f->arena). */
void tu_list(tu_fx *f, Cairn__Data__SegmentInfo ***segs, size_t *n,
             Cairn__Data__ChannelCheckpoint ***cps, size_t *n_cps);
/* The checkpoint position of channel ch, 0 when none. */
int64_t tu_checkpoint(tu_fx *f, size_t ch);

/* Opens the object at key as a binlog (via its local path); NULL on error
 * (the test fails). */
cairn_binlog *tu_open_binlog(tu_fx *f, const char *key);
/* The key of field field_id in segment s, or NULL. */
const char *tu_binlog_key(const Cairn__Data__SegmentInfo *s, int64_t field_id);

/* Checks every row of segment s against the row rule above and that its
 * timestamp binlog equals ts_of(g); adds the segment's pks to seen[]
 * (seen has room for max_g entries; a pk seen twice fails the test). */
void tu_check_segment(tu_fx *f, const Cairn__Data__SegmentInfo *s,
                      uint64_t (*ts_of)(int64_t g), int *seen, int64_t max_g);

/* Waits up to ms for cond(f) to hold; returns whether it did. */
bool tu_wait(tu_fx *f, bool (*cond)(tu_fx *f), int ms);

#endif
