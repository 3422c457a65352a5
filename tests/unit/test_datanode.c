/*
 * test_datanode.c — the datanode role against a real embedded log, local
 * object store and coordinator (test_datanode_util.h):
 *   - flush: segments per partition with the right row counts, every
 *     binlog readable and equal to what was produced (incl. "$meta" and the
 *     row timestamps), stats, the delta log, the checkpoint;
 *   - empty flushes, delete-only ranges, undecodable messages skipped;
 *   - seal by the row limit without a flush call;
 *   - restart mid-stream and after a flush: every row exactly once in the
 *     sealed segments or in the log after the checkpoint;
 *   - CONFLICT stops the collection; a new watch resumes;
 *   - drop removes the collection's objects and its segments' index files.
 * Entries hold ROWS rows: entry k holds pks [k*ROWS, (k+1)*ROWS) at
 * timestamp 1000 + k, so any row can be checked from its pk alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cairn_internal.pb-c.h"
#include "datanode.h"
#include "test_datanode_util.h"

#define ROWS 20
#define MAX_G 100000

static uint64_t ts_of(int64_t g) { return 1000 + (uint64_t)(g / ROWS); }

static int flushed_calls;
static void on_flushed(void *user, int64_t coll) {
  (void)coll;
  __atomic_fetch_add((int *)user, 1, __ATOMIC_SEQ_CST);
}

static cairn_datanode *dn_open(tu_fx *f, uint64_t seal_rows) {
  cairn_datanode_options o = {.mq = f->mq, .objstore = f->store,
                              .coord = f->client, .root = "files",
                              .seal_rows = seal_rows,
                              .on_flushed = on_flushed,
                              .on_flushed_user = &flushed_calls};
  cairn_datanode *dn = NULL;
  cairn_error err = {0};
  assert_int_equal(cairn_datanode_open(&o, &dn, &err), CAIRN_OK);
  assert_int_equal(cairn_datanode_watch(dn, f->coll_id, &err), CAIRN_OK);
  return dn;
}

static void flush(cairn_datanode *dn, tu_fx *f, size_t *n_ids) {
  int64_t *ids = NULL;
  size_t n = 0;
  cairn_error err = {0};
  cairn_status st = cairn_datanode_flush(dn, f->coll_id, &ids, &n, &err);
  if (st != CAIRN_OK)
    fail_msg("flush: %s", err.message);
  free(ids);
  if (n_ids != NULL)
    *n_ids = n;
}

/* Produces entries [k0, k1) to channel ch, alternating partitions when
 * two_parts. */
static void produce(tu_fx *f, size_t ch, int k0, int k1, bool two_parts) {
  for (int k = k0; k < k1; k++)
    tu_insert(f, ch, two_parts && k % 2 ? f->part_p1 : f->part_default,
              (int64_t)k * ROWS, ROWS, ts_of((int64_t)k * ROWS));
}

/* Checks every segment; returns the number of rows seen and fills seen. */
static uint64_t check_all(tu_fx *f, int *seen) {
  Cairn__Data__SegmentInfo **segs;
  size_t n;
  tu_list(f, &segs, &n, NULL, NULL);
  memset(seen, 0, MAX_G * sizeof *seen);
  uint64_t rows = 0;
  for (size_t i = 0; i < n; i++) {
    if (segs[i]->num_rows > 0)
      tu_check_segment(f, segs[i], ts_of, seen, MAX_G);
    rows += segs[i]->num_rows;
  }
  return rows;
}

static void test_flush(void **state) {
  (void)state;
  tu_fx f;
  tu_open(&f, "docs", 1, 8);
  cairn_datanode *dn = dn_open(&f, 0);
  produce(&f, 0, 0, 5, true);                 /* 100 rows, 2 partitions */
  int64_t del[2] = {3, 47};
  tu_delete(&f, 0, del, 2, 2000);             /* position 5 */
  flushed_calls = 0;
  size_t n_ids = 0;
  flush(dn, &f, &n_ids);
  assert_int_equal(n_ids, 2);
  assert_int_equal(flushed_calls, 1);
  assert_int_equal(cairn_datanode_growing_rows(dn, f.coll_id), 0);
  assert_int_equal(tu_checkpoint(&f, 0), 6);

  Cairn__Data__SegmentInfo **segs;
  size_t n;
  tu_list(&f, &segs, &n, NULL, NULL);
  assert_int_equal(n, 2);
  for (size_t i = 0; i < n; i++) {
    /* entries 0,2,4 go to _default (60 rows), 1,3 to p1 (40 rows) */
    bool def = segs[i]->partition_id == f.part_default;
    assert_int_equal(segs[i]->num_rows, def ? 60 : 40);
    assert_int_equal(segs[i]->n_binlogs, 5); /* id, vector, title, $meta, ts */
    assert_int_equal(segs[i]->start_position, 0);
    assert_int_equal(segs[i]->end_position, 6);
    assert_string_equal(segs[i]->channel, f.channels[0]);
    assert_true(strncmp(segs[i]->binlogs[0]->key, "files/insert_log/", 17) == 0);
    /* stats: pk range and bloom */
    cairn_binlog *sb = tu_open_binlog(&f, segs[i]->stats_key);
    cairn_pk_stats ps;
    assert_int_equal(cairn_binlog_stats(sb, &ps, NULL), CAIRN_OK);
    assert_int_equal(ps.n_rows, segs[i]->num_rows);
    assert_int_equal(ps.min_int, def ? 0 : 20);
    assert_int_equal(ps.max_int, def ? 99 : 79);
    assert_true(cairn_pk_stats_may_contain_int(&ps, def ? 45 : 25));
    cairn_binlog_close(sb);
    /* the delta log of the range, shared by both segments */
    assert_string_equal(segs[i]->deltalog_key, segs[0]->deltalog_key);
  }
  cairn_binlog *db = tu_open_binlog(&f, segs[0]->deltalog_key);
  cairn_delta d;
  assert_int_equal(cairn_binlog_delta(db, &d, NULL), CAIRN_OK);
  assert_int_equal(d.n, 2);
  assert_int_equal(d.int_pks[0], 3);
  assert_int_equal(d.int_pks[1], 47);
  assert_int_equal(d.ts[1], 2000);
  cairn_binlog_close(db);
  int *seen = calloc(MAX_G, sizeof *seen);
  assert_int_equal(check_all(&f, seen), 100);
  for (int g = 0; g < 100; g++)
    assert_int_equal(seen[g], 1);

  /* nothing new: no segment, no callback, same checkpoint */
  flush(dn, &f, &n_ids);
  assert_int_equal(n_ids, 2);
  assert_int_equal(flushed_calls, 1);
  /* a bad message and a delete only: a delete-only segment, the checkpoint
   * passes the bad message */
  uint8_t junk[7] = {0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02};
  assert_int_equal(cairn_mq_produce(f.mq, f.channels[0], junk, sizeof junk,
                                    NULL, NULL), CAIRN_OK);
  tu_insert_bad_dim(&f, 0, 5000, 3, 3000);
  int64_t del2 = 60;
  tu_delete(&f, 0, &del2, 1, 3001);
  flush(dn, &f, &n_ids);
  assert_int_equal(n_ids, 3);
  assert_int_equal(tu_checkpoint(&f, 0), 9);
  tu_reset(&f);
  tu_list(&f, &segs, &n, NULL, NULL);
  const Cairn__Data__SegmentInfo *l0 = NULL;
  for (size_t i = 0; i < n; i++)
    if (segs[i]->num_rows == 0)
      l0 = segs[i];
  assert_non_null(l0);
  assert_int_equal(l0->partition_id, -1);
  assert_int_equal(l0->start_position, 6);
  db = tu_open_binlog(&f, l0->deltalog_key);
  assert_int_equal(cairn_binlog_delta(db, &d, NULL), CAIRN_OK);
  assert_int_equal(d.n, 1);
  assert_int_equal(d.int_pks[0], 60);
  cairn_binlog_close(db);
  /* an empty range after data: the checkpoint still moves */
  uint8_t junk2[1] = {0x07};
  cairn_mq_produce(f.mq, f.channels[0], junk2, 1, NULL, NULL);
  flush(dn, &f, &n_ids);
  assert_int_equal(n_ids, 3);
  assert_int_equal(tu_checkpoint(&f, 0), 10);
  free(seen);
  cairn_datanode_close(dn);
  tu_close(&f);
}

static tu_fx *wait_fx;
static bool three_segments(tu_fx *f) {
  Cairn__Data__SegmentInfo **segs;
  size_t n;
  tu_reset(f);
  tu_list(f, &segs, &n, NULL, NULL);
  return n >= 3;
}

static void test_seal_by_rows(void **state) {
  (void)state;
  tu_fx f;
  tu_open(&f, "sealed", 1, 8);
  wait_fx = &f;
  cairn_datanode *dn = dn_open(&f, 50);
  produce(&f, 0, 0, 10, false); /* 200 rows: cuts after 60, 120, 180 */
  assert_true(tu_wait(&f, three_segments, 10000));
  Cairn__Data__SegmentInfo **segs;
  size_t n;
  tu_list(&f, &segs, &n, NULL, NULL);
  assert_int_equal(n, 3);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(segs[i]->num_rows, 60);
  assert_int_equal(tu_checkpoint(&f, 0), 9);
  /* The growing count drops just after a cut is recorded: wait for it to
   * settle rather than for a lower bound. */
  for (int i = 0; i < 500 && cairn_datanode_growing_rows(dn, f.coll_id) != 20; i++)
    tu_wait(&f, three_segments, 10);
  assert_int_equal(cairn_datanode_growing_rows(dn, f.coll_id), 20);
  size_t n_ids;
  flush(dn, &f, &n_ids);
  assert_int_equal(n_ids, 4);
  int *seen = calloc(MAX_G, sizeof *seen);
  tu_reset(&f);
  assert_int_equal(check_all(&f, seen), 200);
  free(seen);
  cairn_datanode_close(dn);
  tu_close(&f);
}

static bool one_segment(tu_fx *f) {
  Cairn__Data__SegmentInfo **segs;
  size_t n;
  tu_reset(f);
  tu_list(f, &segs, &n, NULL, NULL);
  return n >= 1;
}

static void test_seal_by_age_and_bytes(void **state) {
  (void)state;
  tu_fx f;
  tu_open(&f, "aged", 1, 8);
  cairn_datanode_options o = {.mq = f.mq, .objstore = f.store,
                              .coord = f.client, .seal_age_ms = 200};
  cairn_datanode *dn = NULL;
  assert_int_equal(cairn_datanode_open(&o, &dn, NULL), CAIRN_OK);
  assert_int_equal(cairn_datanode_watch(dn, f.coll_id, NULL), CAIRN_OK);
  produce(&f, 0, 0, 1, false);
  assert_false(tu_wait(&f, one_segment, 50)); /* not yet */
  assert_true(tu_wait(&f, one_segment, 5000));
  assert_int_equal(tu_checkpoint(&f, 0), 1);
  cairn_datanode_close(dn);
  /* bytes: every entry is well over 100 bytes, so each is cut alone */
  o.seal_age_ms = 0;
  o.seal_bytes = 100;
  assert_int_equal(cairn_datanode_open(&o, &dn, NULL), CAIRN_OK);
  assert_int_equal(cairn_datanode_watch(dn, f.coll_id, NULL), CAIRN_OK);
  produce(&f, 0, 1, 3, false);
  assert_true(tu_wait(&f, three_segments, 5000));
  assert_int_equal(tu_checkpoint(&f, 0), 3);
  int *seen = calloc(MAX_G, sizeof *seen);
  tu_reset(&f);
  assert_int_equal(check_all(&f, seen), 3 * ROWS);
  free(seen);
  cairn_datanode_close(dn);
  tu_close(&f);
}

/* pks of the inserts at positions >= from of channel ch, added to seen */
static void seen_in_log(tu_fx *f, size_t ch, int64_t from, int *seen) {
  cairn_mq_consumer *c = NULL;
  assert_int_equal(cairn_mq_consumer_open(f->mq, f->channels[ch], from, &c, NULL),
                   CAIRN_OK);
  cairn_mq_message m;
  while (cairn_mq_consumer_next(c, 0, &m, NULL) == CAIRN_OK) {
    Cairn__Data__LogEntry *e = cairn__data__log_entry__unpack(NULL, m.len, m.payload);
    if (e != NULL && e->body_case == CAIRN__DATA__LOG_ENTRY__BODY_INSERT)
      for (size_t i = 0; i < e->insert->fields_data[0]->scalars->long_data->n_data; i++) {
        int64_t g = e->insert->fields_data[0]->scalars->long_data->data[i];
        if (seen[g]++ != 0)
          fail_msg("pk %lld is both sealed and after the checkpoint", (long long)g);
      }
    if (e != NULL)
      cairn__data__log_entry__free_unpacked(e, NULL);
  }
  cairn_mq_consumer_close(c);
}

static bool consumed_some(tu_fx *f) {
  (void)f;
  return false;
}

static void test_restart(void **state) {
  (void)state;
  tu_fx f;
  tu_open(&f, "restart", 2, 8);
  int *seen = calloc(MAX_G, sizeof *seen);
  /* entries 0..9 on channel 0, 10..19 on channel 1; seal every 100 rows */
  cairn_datanode *dn = dn_open(&f, 100);
  produce(&f, 0, 0, 10, true);
  produce(&f, 1, 10, 20, false);
  flush(dn, &f, NULL);
  /* restart after a flush: nothing is re-read or duplicated */
  cairn_datanode_close(dn);
  dn = dn_open(&f, 100);
  size_t n_before, n_after;
  tu_reset(&f);
  Cairn__Data__SegmentInfo **segs;
  tu_list(&f, &segs, &n_before, NULL, NULL);
  flush(dn, &f, &n_after);
  assert_int_equal(n_before, n_after);
  /* restart mid-stream: close while rows are buffered, several times */
  for (int round = 0; round < 4; round++) {
    int k0 = 20 + round * 12;
    produce(&f, 0, k0, k0 + 6, true);
    produce(&f, 1, k0 + 6, k0 + 12, false);
    tu_wait(&f, consumed_some, 5 * round); /* close at varied moments */
    cairn_datanode_close(dn);
    /* invariant: every row sealed exactly once or after the checkpoint */
    tu_reset(&f);
    uint64_t rows = check_all(&f, seen);
    for (size_t ch = 0; ch < 2; ch++)
      seen_in_log(&f, ch, tu_checkpoint(&f, ch), seen);
    int total = (k0 + 12) * ROWS;
    for (int g = 0; g < total; g++)
      if (seen[g] != 1)
        fail_msg("round %d: pk %d seen %d times", round, g, seen[g]);
    assert_true(rows <= (uint64_t)total);
    dn = dn_open(&f, 100);
  }
  flush(dn, &f, NULL);
  tu_reset(&f);
  assert_int_equal(check_all(&f, seen), 68 * ROWS);
  for (int g = 0; g < 68 * ROWS; g++)
    assert_int_equal(seen[g], 1);
  assert_int_equal(tu_checkpoint(&f, 0), 10 + 4 * 6);
  assert_int_equal(tu_checkpoint(&f, 1), 10 + 4 * 6);
  free(seen);
  cairn_datanode_close(dn);
  tu_close(&f);
}

static void test_conflict(void **state) {
  (void)state;
  tu_fx f;
  tu_open(&f, "conflict", 1, 8);
  cairn_datanode *dn = dn_open(&f, 0);
  produce(&f, 0, 0, 2, false);
  flush(dn, &f, NULL);
  /* another "datanode" records the next range behind our back */
  produce(&f, 0, 2, 3, false);
  Cairn__Data__ChannelCheckpoint cp = CAIRN__DATA__CHANNEL_CHECKPOINT__INIT;
  cp.channel = f.channels[0];
  cp.collection_id = f.coll_id;
  cp.position = 3;
  Cairn__Internal__SaveSegmentsRequest req = CAIRN__INTERNAL__SAVE_SEGMENTS_REQUEST__INIT;
  req.collection_id = f.coll_id;
  req.channel = f.channels[0];
  req.expected_position = 2;
  req.checkpoint = &cp;
  ProtobufCMessage *reply = NULL;
  assert_int_equal(cairn_rpc_call(f.client, "/cairn.internal.CoordService/SaveSegments",
                                  &req.base, &milvus__proto__common__status__descriptor,
                                  NULL, f.arena, &reply, NULL), CAIRN_OK);
  assert_int_equal(((Milvus__Proto__Common__Status *)reply)->code, 0);
  cairn_error err = {0};
  assert_int_not_equal(cairn_datanode_flush(dn, f.coll_id, NULL, NULL, &err), CAIRN_OK);
  assert_non_null(strstr(err.message, "another datanode"));
  /* stopped: a later flush fails too */
  assert_int_not_equal(cairn_datanode_flush(dn, f.coll_id, NULL, NULL, &err), CAIRN_OK);
  /* a new watch resumes from the recorded checkpoint */
  assert_int_equal(cairn_datanode_watch(dn, f.coll_id, &err), CAIRN_OK);
  produce(&f, 0, 3, 4, false);
  flush(dn, &f, NULL);
  assert_int_equal(tu_checkpoint(&f, 0), 4);
  int *seen = calloc(MAX_G, sizeof *seen);
  tu_reset(&f);
  assert_int_equal(check_all(&f, seen), 3 * ROWS); /* entry 2 went to "them" */
  assert_int_equal(seen[2 * ROWS], 0);
  free(seen);
  cairn_datanode_close(dn);
  tu_close(&f);
}

static size_t count_keys(tu_fx *f, const char *prefix) {
  cairn_obj_info *items = NULL;
  size_t n = 0;
  bool more = false;
  assert_int_equal(cairn_objstore_list(f->store, prefix, NULL, 0, &items, &n,
                                       &more, NULL), CAIRN_OK);
  cairn_obj_infos_free(items, n);
  return n;
}

static void test_drop(void **state) {
  (void)state;
  tu_fx f;
  tu_open(&f, "dropme", 1, 8);
  cairn_datanode *dn = dn_open(&f, 0);
  produce(&f, 0, 0, 3, true);
  int64_t del = 1;
  tu_delete(&f, 0, &del, 1, 5000);
  flush(dn, &f, NULL);
  Cairn__Data__SegmentInfo **segs;
  size_t n;
  tu_list(&f, &segs, &n, NULL, NULL);
  assert_int_equal(n, 2);
  char key[256];
  snprintf(key, sizeof key, "files/index_files/77/1/%lld/index", (long long)segs[0]->id);
  assert_int_equal(cairn_objstore_put(f.store, key, "x", 1, NULL), CAIRN_OK);
  assert_int_equal(cairn_objstore_put(f.store, "files/index_files/77/1/424242/index",
                                      "y", 1, NULL), CAIRN_OK);
  char prefix[128];
  snprintf(prefix, sizeof prefix, "files/insert_log/%lld/", (long long)f.coll_id);
  assert_int_equal(count_keys(&f, prefix), 10);
  cairn_error err = {0};
  assert_int_equal(cairn_datanode_drop(dn, f.coll_id, &err), CAIRN_OK);
  assert_int_equal(count_keys(&f, prefix), 0);
  snprintf(prefix, sizeof prefix, "files/delta_log/%lld/", (long long)f.coll_id);
  assert_int_equal(count_keys(&f, prefix), 0);
  snprintf(prefix, sizeof prefix, "files/stats_log/%lld/", (long long)f.coll_id);
  assert_int_equal(count_keys(&f, prefix), 0);
  assert_int_equal(count_keys(&f, "files/index_files/"), 1); /* the other one */
  assert_int_equal(cairn_datanode_growing_rows(dn, f.coll_id), 0);
  cairn_datanode_close(dn);
  tu_close(&f);
}

static cairn_datanode *wait_dn;
static bool growing_80(tu_fx *f) {
  return cairn_datanode_growing_rows(wait_dn, f->coll_id) == 80;
}

/* Rows of a partition dropped before they were flushed are not written:
 * the cut keeps the live partition's rows and the range's deletes, and the
 * checkpoint passes the dropped rows. cairn_datanode_drop_partition removes
 * what an earlier flush wrote for the partition. */
static void test_dropped_partition(void **state) {
  (void)state;
  tu_fx f;
  tu_open(&f, "parted", 1, 8);
  cairn_datanode *dn = dn_open(&f, 0);
  produce(&f, 0, 0, 2, true); /* 20 rows in each partition */
  flush(dn, &f, NULL);
  char p1_logs[128];
  snprintf(p1_logs, sizeof p1_logs, "files/insert_log/%lld/%lld/",
           (long long)f.coll_id, (long long)f.part_p1);
  assert_int_equal(count_keys(&f, p1_logs), 5);
  produce(&f, 0, 2, 6, true); /* 40 more rows in each */
  int64_t del = 3;
  tu_delete(&f, 0, &del, 1, 5000);
  wait_dn = dn;
  assert_true(tu_wait(&f, growing_80, 10000));
  tu_drop_partition(&f, "parted", "p1");
  size_t n_ids = 0;
  flush(dn, &f, &n_ids);
  assert_int_equal(n_ids, 2); /* _default's two: p1's is no longer listed */
  assert_int_equal(cairn_datanode_growing_rows(dn, f.coll_id), 0);
  assert_int_equal(tu_checkpoint(&f, 0), 7);
  assert_int_equal(count_keys(&f, p1_logs), 5); /* the first flush's only */
  Cairn__Data__SegmentInfo **segs;
  size_t n;
  tu_reset(&f);
  tu_list(&f, &segs, &n, NULL, NULL);
  const Cairn__Data__SegmentInfo *last = NULL;
  for (size_t i = 0; i < n; i++)
    if (segs[i]->start_position == 2)
      last = segs[i];
  assert_non_null(last);
  assert_int_equal(last->partition_id, f.part_default);
  assert_int_equal(last->num_rows, 40);
  assert_true(last->deltalog_key != NULL && last->deltalog_key[0] != '\0');
  cairn_error err = {0};
  assert_int_equal(cairn_datanode_drop_partition(dn, f.coll_id, f.part_p1, &err),
                   CAIRN_OK);
  assert_int_equal(count_keys(&f, p1_logs), 0);
  cairn_datanode_close(dn);
  tu_close(&f);
}

static const char *sweep_prefix;
static bool swept(tu_fx *f) { return count_keys(f, sweep_prefix) == 0; }

/* A partition dropped from the catalogue while no datanode removed its
 * objects (a cluster's datanode unreachable, a crash): the consumer thread
 * sweeps them once it has caught up with the log after its start; live
 * partitions and keys that are not ours stay. */
static void test_sweep_dropped_partition(void **state) {
  (void)state;
  tu_fx f;
  tu_open(&f, "swept", 1, 8);
  cairn_datanode *dn = dn_open(&f, 0);
  produce(&f, 0, 0, 2, true);
  flush(dn, &f, NULL);
  cairn_datanode_close(dn);
  char p1_logs[128], p1_stats[128], def_logs[128], junk[160];
  snprintf(p1_logs, sizeof p1_logs, "files/insert_log/%lld/%lld/",
           (long long)f.coll_id, (long long)f.part_p1);
  snprintf(p1_stats, sizeof p1_stats, "files/stats_log/%lld/%lld/",
           (long long)f.coll_id, (long long)f.part_p1);
  snprintf(def_logs, sizeof def_logs, "files/insert_log/%lld/%lld/",
           (long long)f.coll_id, (long long)f.part_default);
  snprintf(junk, sizeof junk, "files/insert_log/%lld/zzz", (long long)f.coll_id);
  assert_int_equal(cairn_objstore_put(f.store, junk, "j", 1, NULL), CAIRN_OK);
  assert_int_equal(count_keys(&f, p1_logs), 5);
  assert_int_equal(count_keys(&f, p1_stats), 1);
  tu_drop_partition(&f, "swept", "p1"); /* the catalogue only */
  dn = dn_open(&f, 0);
  sweep_prefix = p1_logs;
  assert_true(tu_wait(&f, swept, 10000)); /* at the first idle round */
  flush(dn, &f, NULL);
  assert_int_equal(count_keys(&f, p1_logs), 0);
  assert_int_equal(count_keys(&f, p1_stats), 0);
  assert_int_equal(count_keys(&f, def_logs), 5);
  assert_int_equal(count_keys(&f, junk), 1);
  cairn_datanode_close(dn);
  tu_close(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_flush),
      cmocka_unit_test(test_seal_by_rows),
      cmocka_unit_test(test_seal_by_age_and_bytes),
      cmocka_unit_test(test_restart),
      cmocka_unit_test(test_conflict),
      cmocka_unit_test(test_drop),
      cmocka_unit_test(test_dropped_partition),
      cmocka_unit_test(test_sweep_dropped_partition),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
