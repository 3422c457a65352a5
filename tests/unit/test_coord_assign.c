/*
 * test_coord_assign.c — the active coordinator's assignment of collections
 * to nodes (coordinator/coord_assign.c) on the embedded meta store, with
 * node sessions played by leases the test grants and revokes:
 *   - every collection gets one live datanode, spread over the datanodes;
 *   - a loaded collection gets replica_number distinct querynodes;
 *   - a node whose lease goes loses its assignments to the survivors;
 *   - a released collection loses its querynodes, a dropped one everything;
 *   - a coordinator that is not (or no longer) the leader writes nothing.
 */
#include <inttypes.h>
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
#include "coord.h"
#include "meta.h"
#include "milvus.pb-c.h"
#include "milvus_util.h"

#define PATH(m) "/cairn.internal.CoordService/" m
#define LEADER "1 test:1"

static char dir[] = "/tmp/cairn-test-assign-XXXXXX";
static bool dir_made; /* the random suffix may itself end in 'X' */

typedef struct fx {
  pthread_mutex_t mu; /* guards assigner against the view's kicks */
  cairn_meta *meta;
  cairn_coord *coord;
  cairn_rpc_client *client;
  cairn_cluster_view *view;
  cairn_coord_assigner *assigner;
  cairn_arena *arena;
} fx;

static void kick(void *user) {
  fx *f = user;
  pthread_mutex_lock(&f->mu);
  cairn_coord_assign_kick(f->assigner);
  pthread_mutex_unlock(&f->mu);
}

static void ok_status(ProtobufCMessage *reply) {
  Milvus__Proto__Common__Status *s = (Milvus__Proto__Common__Status *)reply;
  if (s->code != 0)
    fail_msg("status %d: %s", s->code, s->reason);
}

static void call(fx *f, const char *method, ProtobufCMessage *req) {
  ProtobufCMessage *reply = NULL;
  cairn_error err = {0};
  assert_int_equal(cairn_rpc_call(f->client, method, req,
                                  &milvus__proto__common__status__descriptor,
                                  NULL, f->arena, &reply, &err),
                   CAIRN_OK);
  ok_status(reply);
}

static Milvus__Proto__Schema__FieldSchema *field(fx *f, const char *name, int type,
                                                 bool pk) {
  Milvus__Proto__Schema__FieldSchema *fs =
      CAIRN_ARENA_NEW(f->arena, Milvus__Proto__Schema__FieldSchema, 1);
  milvus__proto__schema__field_schema__init(fs);
  fs->name = (char *)name;
  fs->data_type = type;
  fs->is_primary_key = pk;
  if (!pk) {
    fs->type_params = CAIRN_ARENA_NEW(f->arena, Milvus__Proto__Common__KeyValuePair *, 1);
    fs->type_params[0] = cairn_pb_kv_new(f->arena, "dim", "4");
    fs->n_type_params = 1;
  }
  return fs;
}

static int64_t create(fx *f, const char *name) {
  Milvus__Proto__Schema__FieldSchema *fields[2] = {
      field(f, "id", MILVUS__PROTO__SCHEMA__DATA_TYPE__Int64, true),
      field(f, "v", MILVUS__PROTO__SCHEMA__DATA_TYPE__FloatVector, false)};
  Milvus__Proto__Schema__CollectionSchema s = MILVUS__PROTO__SCHEMA__COLLECTION_SCHEMA__INIT;
  s.name = (char *)name;
  s.fields = fields;
  s.n_fields = 2;
  Milvus__Proto__Milvus__CreateCollectionRequest req =
      MILVUS__PROTO__MILVUS__CREATE_COLLECTION_REQUEST__INIT;
  req.collection_name = (char *)name;
  req.schema.len = milvus__proto__schema__collection_schema__get_packed_size(&s);
  req.schema.data = cairn_arena_alloc(f->arena, req.schema.len);
  milvus__proto__schema__collection_schema__pack(&s, req.schema.data);
  call(f, PATH("CreateCollection"), &req.pb_base);
  Milvus__Proto__Milvus__DescribeCollectionRequest d =
      MILVUS__PROTO__MILVUS__DESCRIBE_COLLECTION_REQUEST__INIT;
  d.collection_name = (char *)name;
  ProtobufCMessage *reply = NULL;
  cairn_error err = {0};
  assert_int_equal(cairn_rpc_call(f->client, PATH("DescribeCollection"), &d.pb_base,
                                  &milvus__proto__milvus__describe_collection_response__descriptor,
                                  NULL, f->arena, &reply, &err),
                   CAIRN_OK);
  return ((Milvus__Proto__Milvus__DescribeCollectionResponse *)reply)->collectionid;
}

static void load(fx *f, const char *name, int replicas) {
  Milvus__Proto__Milvus__CreateIndexRequest ix = MILVUS__PROTO__MILVUS__CREATE_INDEX_REQUEST__INIT;
  ix.collection_name = (char *)name;
  ix.field_name = "v";
  ix.extra_params = CAIRN_ARENA_NEW(f->arena, Milvus__Proto__Common__KeyValuePair *, 2);
  ix.extra_params[0] = cairn_pb_kv_new(f->arena, "index_type", "FLAT");
  ix.extra_params[1] = cairn_pb_kv_new(f->arena, "metric_type", "L2");
  ix.n_extra_params = 2;
  call(f, PATH("CreateIndex"), &ix.pb_base);
  Milvus__Proto__Milvus__LoadCollectionRequest req =
      MILVUS__PROTO__MILVUS__LOAD_COLLECTION_REQUEST__INIT;
  req.collection_name = (char *)name;
  req.replica_number = replicas;
  call(f, PATH("LoadCollection"), &req.pb_base);
}

static void release(fx *f, const char *name) {
  Milvus__Proto__Milvus__ReleaseCollectionRequest req =
      MILVUS__PROTO__MILVUS__RELEASE_COLLECTION_REQUEST__INIT;
  req.collection_name = (char *)name;
  call(f, PATH("ReleaseCollection"), &req.pb_base);
}

static void drop(fx *f, const char *name) {
  Milvus__Proto__Milvus__DropCollectionRequest req =
      MILVUS__PROTO__MILVUS__DROP_COLLECTION_REQUEST__INIT;
  req.collection_name = (char *)name;
  call(f, PATH("DropCollection"), &req.pb_base);
}

/* A node session: key with a lease of its own; returns the node id. */
static int64_t node(fx *f, const char *role) {
  cairn_error err = {0};
  int64_t lease = 0;
  assert_int_equal(cairn_meta_lease_grant(f->meta, 60, &lease, &err), CAIRN_OK);
  char key[128];
  snprintf(key, sizeof key, "cluster/session/%s/%" PRId64, role, lease);
  assert_int_equal(cairn_meta_put(f->meta, key, "h:1", 3, lease, NULL, &err),
                   CAIRN_OK);
  return lease;
}

/* The node id assigned under key (0: none), after waiting up to 3 s for
 * the assigner to settle on `want` (0 = any, -1 = absent). */
static int64_t assigned(fx *f, const char *key, int64_t want) {
  int64_t got = 0;
  for (int i = 0; i < 300; i++) {
    char *v = cairn_cluster_view_get(f->view, key);
    got = v ? strtoll(v, NULL, 10) : 0;
    free(v);
    if ((want == 0 && got != 0) || (want == -1 && got == 0) || (want > 0 && got == want))
      break;
    usleep(10000);
  }
  return got;
}

static void key_of(char *buf, const char *prefix, int64_t coll, int replica) {
  if (replica < 0)
    snprintf(buf, 128, "%s%" PRId64, prefix, coll);
  else
    snprintf(buf, 128, "%s%" PRId64 "/%d", prefix, coll, replica);
}

static void open_fx(fx *f, const char *leader_value) {
  if (!dir_made) {
    assert_non_null(mkdtemp(dir));
    dir_made = true;
  }
  cairn_error err = {0};
  pthread_mutex_init(&f->mu, NULL);
  assert_int_equal(cairn_meta_open("embedded", dir, &f->meta, &err), CAIRN_OK);
  cairn_coord_options opts;
  cairn_coord_options_default(&opts);
  opts.publish_events = true;
  assert_int_equal(cairn_coord_open(f->meta, &opts, &f->coord, &err), CAIRN_OK);
  assert_int_equal(cairn_rpc_client_new_direct(cairn_coord_service(f->coord),
                                               &f->client, &err),
                   CAIRN_OK);
  f->arena = cairn_arena_new();
  assert_int_equal(cairn_meta_put(f->meta, CAIRN_CLUSTER_LEADER_KEY, LEADER,
                                  strlen(LEADER), 0, NULL, &err),
                   CAIRN_OK);
  assert_int_equal(cairn_cluster_view_open(f->meta, kick, f, &f->view, &err),
                   CAIRN_OK);
  cairn_coord_assigner *a = NULL;
  assert_int_equal(cairn_coord_assign_start(f->coord, f->view, leader_value, &a,
                                            &err),
                   CAIRN_OK);
  pthread_mutex_lock(&f->mu);
  f->assigner = a;
  pthread_mutex_unlock(&f->mu);
}

static void close_fx(fx *f) {
  pthread_mutex_lock(&f->mu);
  cairn_coord_assigner *a = f->assigner;
  f->assigner = NULL; /* the view's callback may still run */
  pthread_mutex_unlock(&f->mu);
  cairn_coord_assign_stop(a);
  cairn_cluster_view_close(f->view);
  cairn_arena_free(f->arena);
  cairn_rpc_client_free(f->client);
  cairn_coord_close(f->coord);
  cairn_meta_close(f->meta);
  pthread_mutex_destroy(&f->mu);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
  strcpy(dir + strlen(dir) - 6, "XXXXXX");
  dir_made = false;
}

static void test_assignments_follow_nodes(void **state) {
  (void)state;
  fx f = {0};
  open_fx(&f, LEADER);
  char key[128];
  int64_t dn1 = node(&f, "datanode"), dn2 = node(&f, "datanode");
  int64_t qn1 = node(&f, "querynode"), qn2 = node(&f, "querynode");
  int64_t a = create(&f, "a"), b = create(&f, "b");
  key_of(key, CAIRN_CLUSTER_ASSIGN_DN_PREFIX, a, -1);
  int64_t da = assigned(&f, key, 0);
  key_of(key, CAIRN_CLUSTER_ASSIGN_DN_PREFIX, b, -1);
  int64_t db = assigned(&f, key, 0);
  assert_true((da == dn1 && db == dn2) || (da == dn2 && db == dn1));

  load(&f, "a", 2);
  key_of(key, CAIRN_CLUSTER_ASSIGN_QN_PREFIX, a, 0);
  int64_t r0 = assigned(&f, key, 0);
  key_of(key, CAIRN_CLUSTER_ASSIGN_QN_PREFIX, a, 1);
  int64_t r1 = assigned(&f, key, 0);
  assert_true((r0 == qn1 && r1 == qn2) || (r0 == qn2 && r1 == qn1));
  key_of(key, CAIRN_CLUSTER_ASSIGN_QN_PREFIX, b, 0);
  assert_int_equal(assigned(&f, key, -1), 0); /* b is not loaded */

  /* a datanode dies: its collection moves to the survivor */
  cairn_error err = {0};
  assert_int_equal(cairn_meta_lease_revoke(f.meta, da, &err), CAIRN_OK);
  int64_t survivor = da == dn1 ? dn2 : dn1;
  key_of(key, CAIRN_CLUSTER_ASSIGN_DN_PREFIX, a, -1);
  assert_int_equal(assigned(&f, key, survivor), survivor);
  /* a querynode dies: replica 1 of 2 cannot be placed, replica 0 stays */
  assert_int_equal(cairn_meta_lease_revoke(f.meta, r1, &err), CAIRN_OK);
  key_of(key, CAIRN_CLUSTER_ASSIGN_QN_PREFIX, a, 1);
  assert_int_equal(assigned(&f, key, -1), 0);
  key_of(key, CAIRN_CLUSTER_ASSIGN_QN_PREFIX, a, 0);
  assert_int_equal(assigned(&f, key, r0), r0);
  /* a new querynode takes the missing replica */
  int64_t qn3 = node(&f, "querynode");
  key_of(key, CAIRN_CLUSTER_ASSIGN_QN_PREFIX, a, 1);
  assert_int_equal(assigned(&f, key, qn3), qn3);

  /* release drops the querynodes; drop drops everything */
  release(&f, "a");
  key_of(key, CAIRN_CLUSTER_ASSIGN_QN_PREFIX, a, 0);
  assert_int_equal(assigned(&f, key, -1), 0);
  drop(&f, "a");
  key_of(key, CAIRN_CLUSTER_ASSIGN_DN_PREFIX, a, -1);
  assert_int_equal(assigned(&f, key, -1), 0);
  key_of(key, CAIRN_CLUSTER_EVENT_PREFIX, a, -1);
  assert_int_equal(assigned(&f, key, -1), 0);
  close_fx(&f);
}

static void test_not_leader_writes_nothing(void **state) {
  (void)state;
  fx f = {0};
  open_fx(&f, "2 someone-else:2");
  node(&f, "datanode");
  int64_t a = create(&f, "a");
  char key[128];
  key_of(key, CAIRN_CLUSTER_ASSIGN_DN_PREFIX, a, -1);
  usleep(1500000); /* more than one pass */
  assert_int_equal(assigned(&f, key, -1), 0);
  close_fx(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_assignments_follow_nodes),
      cmocka_unit_test(test_not_leader_writes_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
