/*
 * test_coord.c — the coordinator's catalogue through its CoordService, over
 * the direct transport: schema round trip, validation errors with their
 * Milvus codes, databases, aliases, index definitions, load state, and
 * persistence across a reopen.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "coord.h"
#include "meta.h"
#include "milvus.pb-c.h"
#include "milvus_util.h"

#define PATH(m) "/cairn.internal.CoordService/" m

static char dir[] = "/tmp/cairn-test-coord-XXXXXX";

typedef struct fx {
  cairn_meta *meta;
  cairn_coord *coord;
  cairn_rpc_client *client;
  cairn_arena *arena;
} fx;

static void open_fx(fx *f) {
  cairn_error err = {0};
  assert_int_equal(cairn_meta_open("embedded", dir, &f->meta, &err), CAIRN_OK);
  assert_int_equal(cairn_coord_open(f->meta, NULL, &f->coord, &err), CAIRN_OK);
  assert_int_equal(cairn_rpc_client_new_direct(cairn_coord_service(f->coord),
                                               &f->client, &err),
                   CAIRN_OK);
  f->arena = cairn_arena_new();
}

static void close_fx(fx *f) {
  cairn_arena_free(f->arena);
  cairn_rpc_client_free(f->client);
  cairn_coord_close(f->coord);
  cairn_meta_close(f->meta);
}

static int setup(void **state) {
  static fx f;
  memset(&f, 0, sizeof f);
  if (dir[strlen(dir) - 1] == 'X')
    assert_non_null(mkdtemp(dir));
  open_fx(&f);
  *state = &f;
  return 0;
}

static int teardown(void **state) {
  close_fx(*state);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static ProtobufCMessage *call(fx *f, const char *method, ProtobufCMessage *req,
                              const ProtobufCMessageDescriptor *out) {
  ProtobufCMessage *reply = NULL;
  cairn_error err = {0};
  assert_int_equal(cairn_rpc_call(f->client, method, req, out, NULL, f->arena,
                                  &reply, &err),
                   CAIRN_OK);
  return reply;
}

static Milvus__Proto__Common__Status *call_status(fx *f, const char *method,
                                                  ProtobufCMessage *req) {
  return (Milvus__Proto__Common__Status *)call(
      f, method, req, &milvus__proto__common__status__descriptor);
}

/* ---- schema builders ---- */

static Milvus__Proto__Common__KeyValuePair *kv(fx *f, const char *k, const char *v) {
  return cairn_pb_kv_new(f->arena, k, v);
}

static Milvus__Proto__Schema__FieldSchema *field(fx *f, const char *name, int type,
                                                 const char *pkey, const char *pval) {
  Milvus__Proto__Schema__FieldSchema *fs =
      CAIRN_ARENA_NEW(f->arena, Milvus__Proto__Schema__FieldSchema, 1);
  milvus__proto__schema__field_schema__init(fs);
  fs->name = (char *)name;
  fs->data_type = type;
  if (pkey != NULL) {
    fs->type_params = CAIRN_ARENA_NEW(f->arena, Milvus__Proto__Common__KeyValuePair *, 1);
    fs->type_params[0] = kv(f, pkey, pval);
    fs->n_type_params = 1;
  }
  return fs;
}

static Milvus__Proto__Common__Status *
create(fx *f, const char *db, const char *name, Milvus__Proto__Schema__FieldSchema **fields,
       size_t n, bool dynamic) {
  Milvus__Proto__Schema__CollectionSchema s = MILVUS__PROTO__SCHEMA__COLLECTION_SCHEMA__INIT;
  s.name = (char *)name;
  s.fields = fields;
  s.n_fields = n;
  s.enable_dynamic_field = dynamic;
  Milvus__Proto__Milvus__CreateCollectionRequest req =
      MILVUS__PROTO__MILVUS__CREATE_COLLECTION_REQUEST__INIT;
  req.db_name = (char *)db;
  req.collection_name = (char *)name;
  req.schema.len = milvus__proto__schema__collection_schema__get_packed_size(&s);
  req.schema.data = cairn_arena_alloc(f->arena, req.schema.len);
  milvus__proto__schema__collection_schema__pack(&s, req.schema.data);
  req.consistency_level = MILVUS__PROTO__COMMON__CONSISTENCY_LEVEL__Bounded;
  return call_status(f, PATH("CreateCollection"), &req.pb_base);
}

static Milvus__Proto__Milvus__DescribeCollectionResponse *describe(fx *f, const char *name) {
  Milvus__Proto__Milvus__DescribeCollectionRequest req =
      MILVUS__PROTO__MILVUS__DESCRIBE_COLLECTION_REQUEST__INIT;
  req.collection_name = (char *)name;
  return (Milvus__Proto__Milvus__DescribeCollectionResponse *)call(
      f, PATH("DescribeCollection"), &req.pb_base,
      &milvus__proto__milvus__describe_collection_response__descriptor);
}

static Milvus__Proto__Schema__FieldSchema **basic_fields(fx *f) {
  Milvus__Proto__Schema__FieldSchema **fs =
      CAIRN_ARENA_NEW(f->arena, Milvus__Proto__Schema__FieldSchema *, 4);
  fs[0] = field(f, "id", MILVUS__PROTO__SCHEMA__DATA_TYPE__Int64, NULL, NULL);
  fs[0]->is_primary_key = 1;
  fs[1] = field(f, "vector", MILVUS__PROTO__SCHEMA__DATA_TYPE__FloatVector, "dim", "8");
  fs[2] = field(f, "title", MILVUS__PROTO__SCHEMA__DATA_TYPE__VarChar, "max_length", "64");
  fs[2]->nullable = 1;
  fs[3] = field(f, "tags", MILVUS__PROTO__SCHEMA__DATA_TYPE__Array, "max_capacity", "10");
  fs[3]->element_type = MILVUS__PROTO__SCHEMA__DATA_TYPE__Int32;
  return fs;
}

static void test_schema_round_trip(void **state) {
  fx *f = *state;
  Milvus__Proto__Common__Status *s = create(f, "", "docs", basic_fields(f), 4, true);
  assert_int_equal(s->code, 0);
  Milvus__Proto__Milvus__DescribeCollectionResponse *d = describe(f, "docs");
  assert_int_equal(d->status->code, 0);
  assert_string_equal(d->collection_name, "docs");
  assert_true(d->schema->enable_dynamic_field);
  assert_int_equal(d->schema->n_fields, 4); /* "$meta" hidden */
  const char *names[] = {"id", "vector", "title", "tags"};
  for (size_t i = 0; i < 4; i++) {
    assert_string_equal(d->schema->fields[i]->name, names[i]);
    assert_int_equal(d->schema->fields[i]->fieldid, 100 + (int64_t)i);
  }
  assert_string_equal(d->schema->fields[1]->type_params[0]->value, "8");
  assert_true(d->schema->fields[2]->nullable);
  assert_int_equal(d->schema->fields[3]->element_type, MILVUS__PROTO__SCHEMA__DATA_TYPE__Int32);
  assert_int_equal(d->consistency_level, MILVUS__PROTO__COMMON__CONSISTENCY_LEVEL__Bounded);
  assert_int_equal(d->shards_num, 1);
  assert_true(d->collectionid > 0);
  assert_true(d->created_timestamp > 0);
  assert_string_equal(d->db_name, "default");
  /* The same create again is a no-op; a different schema is an error. */
  assert_int_equal(create(f, "", "docs", basic_fields(f), 4, true)->code, 0);
  assert_int_equal(create(f, "", "docs", basic_fields(f), 3, true)->code, 1100);
}

static void expect_invalid(fx *f, Milvus__Proto__Schema__FieldSchema **fs, size_t n,
                           const char *needle) {
  Milvus__Proto__Common__Status *s = create(f, "", "bad", fs, n, false);
  assert_int_equal(s->code, 1100);
  assert_int_equal(s->error_code, 5);
  if (strstr(s->reason, needle) == NULL)
    fail_msg("reason '%s' lacks '%s'", s->reason, needle);
}

static void test_schema_validation(void **state) {
  fx *f = *state;
  Milvus__Proto__Schema__FieldSchema **fs = basic_fields(f);
  fs[0]->is_primary_key = 0;
  expect_invalid(f, fs, 4, "primary key is not specified");
  fs = basic_fields(f);
  fs[1]->type_params[0]->value = "0";
  expect_invalid(f, fs, 4, "dim");
  fs = basic_fields(f);
  fs[2]->name = "id";
  expect_invalid(f, fs, 4, "duplicated field name");
  fs = basic_fields(f);
  fs[2]->n_type_params = 0;
  expect_invalid(f, fs, 4, "max_length");
  fs = basic_fields(f);
  expect_invalid(f, fs, 1, "vector field");
  fs = basic_fields(f);
  fs[1]->data_type = MILVUS__PROTO__SCHEMA__DATA_TYPE__BinaryVector;
  fs[1]->type_params[0]->value = "12";
  expect_invalid(f, fs, 4, "multiple of 8");
  fs = basic_fields(f);
  fs[2]->name = "9lives";
  expect_invalid(f, fs, 4, "first character");
  fs = basic_fields(f);
  fs[2]->autoid = 1;
  expect_invalid(f, fs, 4, "auto_id");
}

static void test_not_found_codes(void **state) {
  fx *f = *state;
  Milvus__Proto__Milvus__DescribeCollectionResponse *d = describe(f, "nope");
  assert_int_equal(d->status->code, 100);
  assert_int_equal(d->status->error_code, 4); /* CollectionNotExists */
  assert_non_null(strstr(d->status->reason, "nope"));
  Milvus__Proto__Milvus__DescribeIndexRequest di =
      MILVUS__PROTO__MILVUS__DESCRIBE_INDEX_REQUEST__INIT;
  di.collection_name = "docs";
  Milvus__Proto__Milvus__DescribeIndexResponse *r =
      (Milvus__Proto__Milvus__DescribeIndexResponse *)call(
          f, PATH("DescribeIndex"), &di.pb_base,
          &milvus__proto__milvus__describe_index_response__descriptor);
  assert_int_equal(r->status->code, 700);
  assert_int_equal(r->status->error_code, 25); /* IndexNotExist */
  assert_int_equal(create(f, "nodb", "x", basic_fields(f), 4, false)->code, 800);
}

static Milvus__Proto__Common__Status *create_index(fx *f, const char *params) {
  Milvus__Proto__Milvus__CreateIndexRequest req =
      MILVUS__PROTO__MILVUS__CREATE_INDEX_REQUEST__INIT;
  req.collection_name = "docs";
  req.field_name = "vector";
  req.extra_params = CAIRN_ARENA_NEW(f->arena, Milvus__Proto__Common__KeyValuePair *, 3);
  req.extra_params[0] = kv(f, "index_type", "HNSW");
  req.extra_params[1] = kv(f, "metric_type", "L2");
  req.extra_params[2] = kv(f, "params", params);
  req.n_extra_params = 3;
  return call_status(f, PATH("CreateIndex"), &req.pb_base);
}

static Milvus__Proto__Common__Status *load(fx *f, const char *name) {
  Milvus__Proto__Milvus__LoadCollectionRequest req =
      MILVUS__PROTO__MILVUS__LOAD_COLLECTION_REQUEST__INIT;
  req.collection_name = (char *)name;
  return call_status(f, PATH("LoadCollection"), &req.pb_base);
}

static void test_index_and_load(void **state) {
  fx *f = *state;
  assert_int_equal(load(f, "docs")->code, 700); /* no index yet */
  Milvus__Proto__Common__Status *bad = create_index(f, "{\"M\": 0}");
  assert_int_equal(bad->code, 1100);
  assert_int_equal(create_index(f, "{\"M\": 16, \"efConstruction\": 64}")->code, 0);
  assert_int_equal(create_index(f, "{\"M\": 16, \"efConstruction\": 64}")->code, 0);
  assert_int_not_equal(create_index(f, "{\"M\": 32, \"efConstruction\": 64}")->code, 0);
  assert_int_equal(load(f, "docs")->code, 0);
  Milvus__Proto__Milvus__GetLoadStateRequest gs = MILVUS__PROTO__MILVUS__GET_LOAD_STATE_REQUEST__INIT;
  gs.collection_name = "docs";
  Milvus__Proto__Milvus__GetLoadStateResponse *st =
      (Milvus__Proto__Milvus__GetLoadStateResponse *)call(
          f, PATH("GetLoadState"), &gs.pb_base,
          &milvus__proto__milvus__get_load_state_response__descriptor);
  assert_int_equal(st->state, MILVUS__PROTO__COMMON__LOAD_STATE__LoadStateLoaded);
  Milvus__Proto__Milvus__DropIndexRequest drop = MILVUS__PROTO__MILVUS__DROP_INDEX_REQUEST__INIT;
  drop.collection_name = "docs";
  drop.field_name = "vector";
  assert_int_equal(call_status(f, PATH("DropIndex"), &drop.pb_base)->code, 1100);
}

static void test_aliases(void **state) {
  fx *f = *state;
  Milvus__Proto__Milvus__CreateAliasRequest ca = MILVUS__PROTO__MILVUS__CREATE_ALIAS_REQUEST__INIT;
  ca.collection_name = "docs";
  ca.alias = "papers";
  assert_int_equal(call_status(f, PATH("CreateAlias"), &ca.pb_base)->code, 0);
  assert_string_equal(describe(f, "papers")->collection_name, "docs");
  Milvus__Proto__Milvus__DropCollectionRequest dc =
      MILVUS__PROTO__MILVUS__DROP_COLLECTION_REQUEST__INIT;
  dc.collection_name = "docs";
  assert_int_equal(call_status(f, PATH("DropCollection"), &dc.pb_base)->code, 1100);
  ca.alias = "docs"; /* an alias may not shadow a collection */
  assert_int_equal(call_status(f, PATH("CreateAlias"), &ca.pb_base)->code, 1601);
}

static void test_persistence_and_databases(void **state) {
  fx *f = *state;
  int64_t id = describe(f, "docs")->collectionid;
  close_fx(f);
  open_fx(f);
  Milvus__Proto__Milvus__DescribeCollectionResponse *d = describe(f, "papers");
  assert_int_equal(d->status->code, 0);
  assert_int_equal(d->collectionid, id);
  assert_int_equal(d->schema->n_fields, 4);
  Milvus__Proto__Milvus__CreateDatabaseRequest cd =
      MILVUS__PROTO__MILVUS__CREATE_DATABASE_REQUEST__INIT;
  cd.db_name = "books";
  assert_int_equal(call_status(f, PATH("CreateDatabase"), &cd.pb_base)->code, 0);
  assert_int_equal(call_status(f, PATH("CreateDatabase"), &cd.pb_base)->code, 1100);
  assert_int_equal(create(f, "books", "docs", basic_fields(f), 4, false)->code, 0);
  Milvus__Proto__Milvus__DropDatabaseRequest dd =
      MILVUS__PROTO__MILVUS__DROP_DATABASE_REQUEST__INIT;
  dd.db_name = "books";
  assert_int_equal(call_status(f, PATH("DropDatabase"), &dd.pb_base)->code, 1100);
  dd.db_name = "default";
  assert_int_equal(call_status(f, PATH("DropDatabase"), &dd.pb_base)->code, 1100);
  Milvus__Proto__Milvus__ListDatabasesRequest ld = MILVUS__PROTO__MILVUS__LIST_DATABASES_REQUEST__INIT;
  Milvus__Proto__Milvus__ListDatabasesResponse *l =
      (Milvus__Proto__Milvus__ListDatabasesResponse *)call(
          f, PATH("ListDatabases"), &ld.pb_base,
          &milvus__proto__milvus__list_databases_response__descriptor);
  assert_int_equal(l->n_db_names, 2);
  /* A new collection ID is larger than the one made before the reopen. */
  Milvus__Proto__Milvus__DescribeCollectionRequest req =
      MILVUS__PROTO__MILVUS__DESCRIBE_COLLECTION_REQUEST__INIT;
  req.db_name = "books";
  req.collection_name = "docs";
  Milvus__Proto__Milvus__DescribeCollectionResponse *b =
      (Milvus__Proto__Milvus__DescribeCollectionResponse *)call(
          f, PATH("DescribeCollection"), &req.pb_base,
          &milvus__proto__milvus__describe_collection_response__descriptor);
  assert_true(b->collectionid > id);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_schema_round_trip),
      cmocka_unit_test(test_schema_validation),
      cmocka_unit_test(test_not_found_codes),
      cmocka_unit_test(test_index_and_load),
      cmocka_unit_test(test_aliases),
      cmocka_unit_test(test_persistence_and_databases),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
