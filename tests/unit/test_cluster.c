/*
 * test_cluster.c — what cluster processes share (core/cluster.h) on the
 * embedded meta store, and the querynode's wire form of requests
 * (querynode/qn_wire.h):
 *   - a session puts its key with its lease and takes it away on close;
 *   - a session whose lease is revoked behind its back registers again
 *     under a new node id;
 *   - election: one leader at a time; a standby takes over when the leader
 *     goes; a stopped campaign returns;
 *   - the view follows puts and deletes, lists by prefix, maps node ids to
 *     addresses and names the leader;
 *   - search/query requests survive encode -> protobuf bytes -> decode
 *     (dense and sparse queries, filter text with nested templates, output
 *     fields), and malformed ones are refused with an error.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cluster.h"
#include "meta.h"
#include "qn_wire.h"

static char dir[] = "/tmp/cairn-test-cluster-XXXXXX";
static bool dir_made; /* the random suffix may itself end in 'X' */

static cairn_meta *open_meta(void) {
  if (!dir_made) {
    assert_non_null(mkdtemp(dir));
    dir_made = true;
  }
  cairn_meta *m = NULL;
  cairn_error err = {0};
  assert_int_equal(cairn_meta_open("embedded", dir, &m, &err), CAIRN_OK);
  cairn_meta_delete_prefix(m, "cluster/", NULL, &err);
  return m;
}

/* Polls fn(arg) for up to ms; returns its last answer. */
static bool eventually(bool (*fn)(void *), void *arg, int ms) {
  for (int i = 0; i < ms / 10; i++) {
    if (fn(arg))
      return true;
    usleep(10000);
  }
  return fn(arg);
}

/* ---- sessions ---- */

static void test_session_key_lifecycle(void **state) {
  (void)state;
  cairn_meta *m = open_meta();
  cairn_error err = {0};
  cairn_session *s = NULL;
  assert_int_equal(cairn_session_open(m, "querynode", "127.0.0.1:7000", 5, NULL,
                                      NULL, &s, &err),
                   CAIRN_OK);
  char key[128];
  snprintf(key, sizeof key, "cluster/session/querynode/%lld",
           (long long)cairn_session_node_id(s));
  cairn_meta_kv kv = {0};
  assert_int_equal(cairn_meta_get(m, key, &kv, &err), CAIRN_OK);
  assert_string_equal((char *)kv.value, "127.0.0.1:7000");
  assert_int_equal(kv.lease, cairn_session_node_id(s));
  cairn_meta_kv_clear(&kv);
  cairn_session_close(s);
  assert_int_equal(cairn_meta_get(m, key, &kv, &err), CAIRN_IO_NOT_FOUND);
  assert_int_equal(cairn_session_open(m, "x", "a", 0, NULL, NULL, &s, &err),
                   CAIRN_INVALID_ARGUMENT);
  cairn_meta_close(m);
}

typedef struct reg_probe {
  cairn_session *s;
  int64_t old_id;
} reg_probe;

static bool registered_again(void *arg) {
  reg_probe *p = arg;
  return cairn_session_node_id(p->s) != p->old_id;
}

static void test_session_registers_again(void **state) {
  (void)state;
  cairn_meta *m = open_meta();
  cairn_error err = {0};
  cairn_session *s = NULL;
  assert_int_equal(cairn_session_open(m, "datanode", "h:1", 1, NULL, NULL, &s,
                                      &err),
                   CAIRN_OK);
  reg_probe p = {.s = s, .old_id = cairn_session_node_id(s)};
  assert_int_equal(cairn_meta_lease_revoke(m, p.old_id, &err), CAIRN_OK);
  assert_true(eventually(registered_again, &p, 3000));
  char key[128];
  snprintf(key, sizeof key, "cluster/session/datanode/%lld",
           (long long)cairn_session_node_id(s));
  cairn_meta_kv kv = {0};
  assert_int_equal(cairn_meta_get(m, key, &kv, &err), CAIRN_OK);
  cairn_meta_kv_clear(&kv);
  cairn_session_close(s);
  cairn_meta_close(m);
}

/* ---- election ---- */

typedef struct campaign {
  cairn_session *s;
  volatile bool stop;
  volatile bool won;
  cairn_status st;
  pthread_t t;
} campaign;

static void *campaign_main(void *arg) {
  campaign *c = arg;
  cairn_error err = {0};
  c->st = cairn_session_campaign(c->s, &c->stop, &err);
  c->won = c->st == CAIRN_OK;
  return NULL;
}

static void test_election(void **state) {
  (void)state;
  cairn_meta *m = open_meta();
  cairn_error err = {0};
  campaign a = {0}, b = {0}, c = {0};
  assert_int_equal(cairn_session_open(m, "coordinator", "a:1", 5, NULL, NULL,
                                      &a.s, &err),
                   CAIRN_OK);
  assert_int_equal(cairn_session_open(m, "coordinator", "b:2", 5, NULL, NULL,
                                      &b.s, &err),
                   CAIRN_OK);
  assert_int_equal(cairn_session_open(m, "coordinator", "c:3", 5, NULL, NULL,
                                      &c.s, &err),
                   CAIRN_OK);
  campaign_main(&a);
  assert_true(a.won);
  pthread_create(&b.t, NULL, campaign_main, &b);
  pthread_create(&c.t, NULL, campaign_main, &c);
  usleep(500000);
  assert_false(b.won);
  assert_false(c.won);
  cairn_cluster_view *v = NULL;
  assert_int_equal(cairn_cluster_view_open(m, NULL, NULL, &v, &err), CAIRN_OK);
  char *leader = cairn_cluster_view_leader(v);
  assert_string_equal(leader, "a:1");
  free(leader);
  /* the leader goes: exactly one standby takes over */
  cairn_session_close(a.s);
  for (int i = 0; i < 300 && !b.won && !c.won; i++)
    usleep(10000);
  assert_true(b.won != c.won);
  campaign *loser = b.won ? &c : &b;
  loser->stop = true;
  pthread_join(b.t, NULL);
  pthread_join(c.t, NULL);
  assert_int_equal(loser->st, CAIRN_NOT_READY);
  cairn_cluster_view_close(v);
  cairn_session_close(b.s);
  cairn_session_close(c.s);
  cairn_meta_close(m);
}

/* ---- the view ---- */

typedef struct view_probe {
  cairn_cluster_view *v;
  const char *key;
  const char *want; /* NULL: absent */
} view_probe;

static bool view_has(void *arg) {
  view_probe *p = arg;
  char *got = cairn_cluster_view_get(p->v, p->key);
  bool ok = p->want ? got && strcmp(got, p->want) == 0 : got == NULL;
  free(got);
  return ok;
}

static void count_change(void *user) { __atomic_add_fetch((int *)user, 1, __ATOMIC_SEQ_CST); }

static void test_view(void **state) {
  (void)state;
  cairn_meta *m = open_meta();
  cairn_error err = {0};
  assert_int_equal(cairn_meta_put(m, "cluster/assign/datanode/7", "42", 2, 0,
                                  NULL, &err),
                   CAIRN_OK);
  assert_int_equal(cairn_meta_put(m, "elsewhere/x", "1", 1, 0, NULL, &err),
                   CAIRN_OK);
  int changes = 0;
  cairn_cluster_view *v = NULL;
  assert_int_equal(cairn_cluster_view_open(m, count_change, &changes, &v, &err),
                   CAIRN_OK);
  view_probe p = {v, "cluster/assign/datanode/7", "42"};
  assert_true(view_has(&p)); /* read at open */
  p = (view_probe){v, "elsewhere/x", NULL};
  assert_true(view_has(&p)); /* only cluster/ */
  cairn_meta_put(m, "cluster/assign/querynode/7/0", "5", 1, 0, NULL, &err);
  cairn_meta_put(m, "cluster/assign/querynode/7/1", "6", 1, 0, NULL, &err);
  cairn_meta_put(m, "cluster/assign/querynode/70/0", "5", 1, 0, NULL, &err);
  p = (view_probe){v, "cluster/assign/querynode/70/0", "5"};
  assert_true(eventually(view_has, &p, 2000));
  cairn_cluster_entry *e = NULL;
  size_t n = cairn_cluster_view_list(v, "cluster/assign/querynode/7/", &e);
  assert_int_equal(n, 2);
  assert_string_equal(e[0].key, "cluster/assign/querynode/7/0");
  assert_string_equal(e[1].value, "6");
  cairn_cluster_entries_free(e, n);
  cairn_meta_delete(m, "cluster/assign/datanode/7", NULL, &err);
  p = (view_probe){v, "cluster/assign/datanode/7", NULL};
  assert_true(eventually(view_has, &p, 2000));
  cairn_meta_put(m, "cluster/session/querynode/5", "10.0.0.5:19530", 14, 0,
                 NULL, &err);
  p = (view_probe){v, "cluster/session/querynode/5", "10.0.0.5:19530"};
  assert_true(eventually(view_has, &p, 2000));
  char *addr = cairn_cluster_view_node_address(v, 5);
  assert_string_equal(addr, "10.0.0.5:19530");
  free(addr);
  assert_null(cairn_cluster_view_node_address(v, 55));
  assert_null(cairn_cluster_view_leader(v));
  assert_true(__atomic_load_n(&changes, __ATOMIC_SEQ_CST) >= 5);
  cairn_cluster_view_close(v);
  cairn_meta_close(m);
}

/* ---- wire form of querynode requests ---- */

static cairn_schema *test_schema(void) {
  cairn_schema *s = calloc(1, sizeof *s);
  s->name = strdup("c");
  s->n_fields = 4;
  s->fields = calloc(4, sizeof *s->fields);
  s->fields[0] = (cairn_field){.id = 100, .name = strdup("id"),
                               .type = CAIRN_TYPE_INT64, .is_primary = true};
  s->fields[1] = (cairn_field){.id = 101, .name = strdup("tag"),
                               .type = CAIRN_TYPE_VARCHAR, .max_length = 64};
  s->fields[2] = (cairn_field){.id = 102, .name = strdup("v"),
                               .type = CAIRN_TYPE_FLOAT_VECTOR, .dim = 4};
  s->fields[3] = (cairn_field){.id = 103, .name = strdup("sp"),
                               .type = CAIRN_TYPE_SPARSE_FLOAT_VECTOR};
  return s;
}

/* Encode, pack to bytes, unpack, decode. */
static cairn_status search_round_trip(cairn_arena *a, const cairn_qn_search *in,
                                      const cairn_schema *schema,
                                      cairn_qn_search *out, cairn_expr **filter,
                                      cairn_error *err) {
  Cairn__Cluster__SearchRequest *m = NULL;
  assert_int_equal(qn_wire_encode_search(a, in, &m, err), CAIRN_OK);
  size_t len = protobuf_c_message_get_packed_size(&m->base);
  uint8_t *buf = cairn_arena_alloc(a, len + 1);
  protobuf_c_message_pack(&m->base, buf);
  Cairn__Cluster__SearchRequest *back =
      cairn__cluster__search_request__unpack(cairn_arena_protobuf(a), len, buf);
  assert_non_null(back);
  return qn_wire_decode_search(a, back, schema, out, filter, err);
}

static void test_wire_search(void **state) {
  (void)state;
  cairn_schema *schema = test_schema();
  cairn_arena *a = cairn_arena_new();
  cairn_error err = {0};
  cairn_expr_value inner[2] = {{.type = CAIRN_EXPR_STRING, .u.s = {"x", 1}},
                               {.type = CAIRN_EXPR_STRING, .u.s = {"y\"z", 3}}};
  cairn_expr_template t[2] = {
      {.name = "tags", .value = {.type = CAIRN_EXPR_LIST, .u.list = {inner, 2}}},
      {.name = "lo", .value = {.type = CAIRN_EXPR_INT, .u.i = -7}}};
  cairn_expr_templates ts = {.n = 2, .items = t};
  cairn_expr *filter = NULL;
  assert_int_equal(cairn_expr_parse(schema, "tag in {tags} and id > {lo}", &ts,
                                    &filter, &err),
                   CAIRN_OK);
  float q[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  int64_t parts[2] = {11, 12};
  int64_t outs[1] = {101};
  const char *keys[1] = {"k"};
  cairn_qn_search in = {
      .collection_id = 9, .partition_ids = parts, .n_partition_ids = 2,
      .field_id = 102, .metric = "L2", .nq = 2, .queries = q,
      .row_bytes = 16, .topk = 10, .params = {.ef = 64, .nprobe = 3},
      .range_filter = NAN, .filter = filter, .strong = true,
      .group_by_field_id = 101, .group_size = 2,
      .output = {.field_ids = outs, .n_fields = 1, .dynamic_keys = keys,
                 .n_dynamic_keys = 1}};
  cairn_qn_search out;
  cairn_expr *back = NULL;
  assert_int_equal(search_round_trip(a, &in, schema, &out, &back, &err), CAIRN_OK);
  assert_int_equal(out.collection_id, 9);
  assert_int_equal(out.n_partition_ids, 2);
  assert_int_equal(out.partition_ids[1], 12);
  assert_string_equal(out.metric, "L2");
  assert_int_equal(out.nq, 2);
  assert_memory_equal(out.queries, q, sizeof q);
  assert_int_equal(out.topk, 10);
  assert_int_equal(out.params.ef, 64);
  assert_int_equal(out.params.nprobe, 3);
  assert_true(isnan(out.range_filter));
  assert_true(out.strong);
  assert_int_equal(out.group_size, 2);
  assert_int_equal(out.output.n_fields, 1);
  assert_string_equal(out.output.dynamic_keys[0], "k");
  assert_non_null(back);
  const char *text = NULL;
  const cairn_expr_templates *bt = NULL;
  cairn_expr_source(back, &text, &bt);
  assert_string_equal(text, "tag in {tags} and id > {lo}");
  assert_int_equal(bt->n, 2);
  assert_int_equal(bt->items[0].value.u.list.n, 2);
  assert_int_equal(bt->items[0].value.u.list.items[1].u.s.len, 3);
  assert_int_equal(bt->items[1].value.u.i, -7);
  cairn_expr_free(back);

  /* sparse queries, no filter, a range */
  uint32_t idx[2] = {3, 900};
  float val[2] = {0.5f, -1.0f};
  cairn_sparse_row rows[2] = {{2, idx, val}, {0, NULL, NULL}};
  cairn_qn_search sp = {.collection_id = 9, .field_id = 103, .metric = "IP",
                        .nq = 2, .queries = rows, .topk = 3, .is_range = true,
                        .radius = 0.1f, .range_filter = 2.0f};
  assert_int_equal(search_round_trip(a, &sp, schema, &out, &back, &err), CAIRN_OK);
  assert_null(back);
  const cairn_sparse_row *r = out.queries;
  assert_int_equal(r[0].nnz, 2);
  assert_int_equal(r[0].idx[1], 900);
  assert_true(r[0].val[1] == -1.0f);
  assert_int_equal(r[1].nnz, 0);
  assert_true(out.is_range);
  assert_true(out.range_filter == 2.0f);

  /* refused: the wrong vector size, an unknown field */
  in.row_bytes = 12;
  assert_int_equal(search_round_trip(a, &in, schema, &out, &back, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_null(back);
  in.row_bytes = 16;
  in.field_id = 999;
  assert_int_equal(search_round_trip(a, &in, schema, &out, &back, &err),
                   CAIRN_SCHEMA_MISMATCH);
  cairn_expr_free(filter);
  cairn_arena_free(a);
  cairn_schema_free(schema);
}

static void test_wire_query(void **state) {
  (void)state;
  cairn_schema *schema = test_schema();
  cairn_arena *a = cairn_arena_new();
  cairn_error err = {0};
  cairn_expr *filter = NULL;
  assert_int_equal(cairn_expr_parse(schema, "id in [1, 2, 3]", NULL, &filter, &err),
                   CAIRN_OK);
  int64_t outs[2] = {100, 101};
  cairn_qn_query in = {.collection_id = 4, .filter = filter, .offset = 5,
                       .limit = 20, .count_only = true,
                       .output = {.field_ids = outs, .n_fields = 2}};
  Cairn__Cluster__QueryRequest *m = NULL;
  assert_int_equal(qn_wire_encode_query(a, &in, &m, &err), CAIRN_OK);
  size_t len = protobuf_c_message_get_packed_size(&m->base);
  uint8_t *buf = cairn_arena_alloc(a, len + 1);
  protobuf_c_message_pack(&m->base, buf);
  Cairn__Cluster__QueryRequest *u =
      cairn__cluster__query_request__unpack(cairn_arena_protobuf(a), len, buf);
  assert_non_null(u);
  cairn_qn_query out;
  cairn_expr *back = NULL;
  assert_int_equal(qn_wire_decode_query(a, u, schema, &out, &back, &err), CAIRN_OK);
  assert_int_equal(out.offset, 5);
  assert_int_equal(out.limit, 20);
  assert_true(out.count_only);
  assert_int_equal(out.output.field_ids[1], 101);
  assert_non_null(back);
  cairn_expr_free(back);
  /* a filter that does not parse against the schema */
  u->filter->text = "nope > 1";
  assert_int_not_equal(qn_wire_decode_query(a, u, schema, &out, &back, &err),
                       CAIRN_OK);
  assert_null(back);
  cairn_expr_free(filter);
  cairn_arena_free(a);
  cairn_schema_free(schema);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_session_key_lifecycle),
      cmocka_unit_test(test_session_registers_again),
      cmocka_unit_test(test_election),
      cmocka_unit_test(test_view),
      cmocka_unit_test(test_wire_search),
      cmocka_unit_test(test_wire_query),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (dir_made && system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", dir);
  return rc;
}
