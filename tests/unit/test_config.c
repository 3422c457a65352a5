/*
 * test_config.c — the configuration store: defaults, parsers, YAML
 * flattening, environment and flags, precedence, error messages with
 * suggestions, malformed YAML never crashing, and docs/config.md being in
 * sync with the reference table (CAIRN_SOURCE_DIR is set by core.cmake).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

static cairn_config *fresh(void) {
  cairn_config *cfg;
  cairn_error err;
  assert_int_equal(cairn_config_new(&cfg, &err), CAIRN_OK);
  return cfg;
}

static void test_defaults(void **state) {
  (void)state;
  cairn_config *cfg = fresh();
  assert_string_equal(cairn_config_string(cfg, "grpc.host"), "0.0.0.0");
  assert_int_equal(cairn_config_int(cfg, "grpc.port"), 19530);
  assert_int_equal(cairn_config_size(cfg, "grpc.maxMessageSize"), 268435456);
  assert_int_equal(cairn_config_int(cfg, "grpc.workers"), 0);
  assert_string_equal(cairn_config_string(cfg, "http.host"), "0.0.0.0");
  assert_int_equal(cairn_config_int(cfg, "http.port"), 9091);
  assert_string_equal(cairn_config_string(cfg, "dataDir"), "./cairn-data");
  assert_string_equal(cairn_config_string(cfg, "log.level"), "info");
  assert_string_equal(cairn_config_string(cfg, "meta.backend"), "embedded");
  assert_false(cairn_config_bool(cfg, "auth.enabled"));
  assert_string_equal(cairn_config_source_of(cfg, "grpc.port"), "default");
  /* wrong-type and unknown getters return zero values, not garbage */
  assert_int_equal(cairn_config_int(cfg, "grpc.host"), 0);
  assert_int_equal(cairn_config_int(cfg, "no.such.key"), 0);
  assert_string_equal(cairn_config_string(cfg, "grpc.port"), "");
  assert_null(cairn_config_source_of(cfg, "no.such.key"));
  /* every row of the table has a unique key and a doc line */
  size_t n;
  const cairn_config_def *d = cairn_config_defs(&n);
  assert_true(n >= 10);
  for (size_t i = 0; i < n; i++) {
    assert_true(strlen(d[i].doc) > 10);
    for (size_t j = 0; j < i; j++)
      assert_string_not_equal(d[i].key, d[j].key);
  }
  cairn_config_free(cfg);
}

static void test_parsers(void **state) {
  (void)state;
  int64_t v;
  assert_int_equal(cairn_config_parse_size("256MB", &v), 0);
  assert_int_equal(v, 268435456);
  assert_int_equal(cairn_config_parse_size("1gib", &v), 0);
  assert_int_equal(v, 1073741824);
  assert_int_equal(cairn_config_parse_size("512 KB", &v), 0);
  assert_int_equal(v, 524288);
  assert_int_equal(cairn_config_parse_size("1.5K", &v), 0);
  assert_int_equal(v, 1536);
  assert_int_equal(cairn_config_parse_size("4096", &v), 0);
  assert_int_equal(v, 4096);
  assert_int_equal(cairn_config_parse_size("-1MB", &v), -1);
  assert_int_equal(cairn_config_parse_size("12XB", &v), -1);
  assert_int_equal(cairn_config_parse_size("", &v), -1);
  assert_int_equal(cairn_config_parse_size("99999999TB", &v), -1);
  assert_int_equal(cairn_config_parse_size("0.3B", &v), -1);
  assert_int_equal(cairn_config_parse_duration_ms("10s", &v), 0);
  assert_int_equal(v, 10000);
  assert_int_equal(cairn_config_parse_duration_ms("250ms", &v), 0);
  assert_int_equal(v, 250);
  assert_int_equal(cairn_config_parse_duration_ms("1h30m", &v), 0);
  assert_int_equal(v, 5400000);
  assert_int_equal(cairn_config_parse_duration_ms("1.5s", &v), 0);
  assert_int_equal(v, 1500);
  assert_int_equal(cairn_config_parse_duration_ms("7", &v), 0);
  assert_int_equal(v, 7000);
  assert_int_equal(cairn_config_parse_duration_ms("10x", &v), -1);
  assert_int_equal(cairn_config_parse_duration_ms("s", &v), -1);
  assert_int_equal(cairn_config_parse_duration_ms("-5s", &v), -1);
  bool b;
  assert_int_equal(cairn_config_parse_bool("Yes", &b), 0);
  assert_true(b);
  assert_int_equal(cairn_config_parse_bool("off", &b), 0);
  assert_false(b);
  assert_int_equal(cairn_config_parse_bool("maybe", &b), -1);
}

static const char *yaml_ok =
    "# Cairn config\n"
    "grpc:\n"
    "  port: 29530\n"
    "  maxMessageSize: 64MB\n"
    "http:\n"
    "  port: 0\n"
    "dataDir: /var/lib/cairn\n"
    "etcd:\n"
    "  endpoints:\n"
    "    - etcd-0:2379\n"
    "    - etcd-1:2379\n"
    "minio: {address: 'minio:9000', useSSL: yes}\n"
    "log:\n"
    "  level:\n"   /* null: ignored */
    "auth.enabled: true\n";

static void test_yaml(void **state) {
  (void)state;
  cairn_config *cfg = fresh();
  cairn_error err = {0};
  cairn_status st =
      cairn_config_load_yaml_buffer(cfg, yaml_ok, strlen(yaml_ok), "cairn.yaml", &err);
  if (st != CAIRN_OK)
    fail_msg("yaml: %s", err.message);
  assert_int_equal(cairn_config_int(cfg, "grpc.port"), 29530);
  assert_int_equal(cairn_config_size(cfg, "grpc.maxMessageSize"), 64 << 20);
  assert_int_equal(cairn_config_int(cfg, "http.port"), 0);
  assert_string_equal(cairn_config_string(cfg, "dataDir"), "/var/lib/cairn");
  assert_string_equal(cairn_config_string(cfg, "etcd.endpoints"),
                      "etcd-0:2379,etcd-1:2379");
  assert_string_equal(cairn_config_string(cfg, "minio.address"), "minio:9000");
  assert_true(cairn_config_bool(cfg, "minio.useSSL"));
  assert_true(cairn_config_bool(cfg, "auth.enabled"));
  assert_string_equal(cairn_config_string(cfg, "log.level"), "info");
  assert_string_equal(cairn_config_source_of(cfg, "grpc.port"), "cairn.yaml line 3");
  /* empty and comment-only files are fine */
  assert_int_equal(cairn_config_load_yaml_buffer(cfg, "", 0, "e.yaml", &err), CAIRN_OK);
  assert_int_equal(cairn_config_load_yaml_buffer(cfg, "# x\n", 4, "c.yaml", &err),
                   CAIRN_OK);
  cairn_config_free(cfg);
}

static void expect_yaml_error(const char *text, const char *needle) {
  cairn_config *cfg = fresh();
  cairn_error err = {0};
  assert_int_equal(cairn_config_load_yaml_buffer(cfg, text, strlen(text),
                                                 "cairn.yaml", &err),
                   CAIRN_INVALID_ARGUMENT);
  if (needle != NULL && strstr(err.message, needle) == NULL)
    fail_msg("error '%s' lacks '%s'", err.message, needle);
  cairn_config_free(cfg);
}

static void test_yaml_errors(void **state) {
  (void)state;
  expect_yaml_error("grcp:\n  port: 1\n",
                    "unknown config key 'grcp.port' in cairn.yaml line 2; did "
                    "you mean 'grpc.port'?");
  expect_yaml_error("grpc:\n  port: abc\n",
                    "invalid value 'abc' for config key 'grpc.port' in "
                    "cairn.yaml line 2: expected int");
  expect_yaml_error("grpc:\n  port: 70000\n", "expected an int in 0..65535");
  expect_yaml_error("grpc:\n  maxMessageSize: lots\n", "expected size");
  expect_yaml_error("totally.unrelated.thing: 1\n", "unknown config key");
  expect_yaml_error("config: other.yaml\n", "cannot be set from a config file");
  /* malformed YAML: each must fail cleanly, never crash */
  static const char *bad[] = {
      "grpc: [port: 1\n",             /* unterminated flow sequence */
      "grpc:\n  port: 1\n port: 2\n", /* bad indentation */
      "- a\n- b\n",                   /* top level is a list */
      "just a scalar\n",
      "grpc:\n  host: &x h\nhttp:\n  host: *x\n", /* alias */
      "grpc:\n  - {port: 1}\n",       /* mapping in a list */
      "? [a, b]\n: c\n",              /* complex key */
      "grpc: 'unterminated\n",
      "\"\\xZZ\": 1\n",               /* bad escape */
      "grpc:\n\tport: 1\n",           /* tab indentation */
      "---\ngrpc: {}\n---\nhttp: {}\n", /* two documents */
      "grpc: {port: 1, port: {",
      "a:\n b:\n  c:\n   d:\n    e:\n     f:\n      g:\n       h:\n        i: 1\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    expect_yaml_error(bad[i], NULL);
  /* binary garbage: any clean result is fine (here: a UTF-16 BOM) */
  static const char garbage[] = "\xff\xfe\x00\x01garbage\x80\x81: [";
  cairn_config *cfg = fresh();
  cairn_error err;
  (void)cairn_config_load_yaml_buffer(cfg, garbage, sizeof garbage - 1, "g", &err);
  cairn_config_free(cfg);
  expect_yaml_error("grpc:\n  host: &x h\nhttp:\n  host: *x\n", "aliases");
  /* deep nesting is refused, not recursed into */
  char deep[4096] = "";
  for (int i = 0; i < 200; i++)
    strcat(deep, "{a: ");
  expect_yaml_error(deep, NULL);
  char deepseq[1024] = "a: ";
  for (int i = 0; i < 300; i++)
    strcat(deepseq, "[");
  expect_yaml_error(deepseq, NULL);
}

static void test_yaml_file(void **state) {
  (void)state;
  char path[] = "/tmp/cairn-config-test-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, yaml_ok, strlen(yaml_ok)), (ssize_t)strlen(yaml_ok));
  close(fd);
  cairn_config *cfg = fresh();
  cairn_error err;
  assert_int_equal(cairn_config_load_yaml_file(cfg, path, &err), CAIRN_OK);
  assert_int_equal(cairn_config_int(cfg, "grpc.port"), 29530);
  unlink(path);
  assert_int_equal(cairn_config_load_yaml_file(cfg, path, &err), CAIRN_IO);
  assert_non_null(strstr(err.message, path));
  cairn_config_free(cfg);
}

static void test_env(void **state) {
  (void)state;
  cairn_config *cfg = fresh();
  cairn_error err = {0};
  char *env[] = {"CAIRN_GRPC_PORT=1234",
                 "CAIRN_GRPC_MAXMESSAGESIZE=1MB",
                 "CAIRN_DATADIR=/data",
                 "ETCD_ENDPOINTS=e1:2379,e2:2379",
                 "MINIO_ADDRESS=m:9000",
                 "CAIRN_SOMETHING_ELSE=ignored",
                 "PATH=/usr/bin",
                 "NOEQUALS",
                 NULL};
  assert_int_equal(cairn_config_load_env(cfg, env, &err), CAIRN_OK);
  assert_int_equal(cairn_config_int(cfg, "grpc.port"), 1234);
  assert_int_equal(cairn_config_size(cfg, "grpc.maxMessageSize"), 1 << 20);
  assert_string_equal(cairn_config_string(cfg, "dataDir"), "/data");
  assert_string_equal(cairn_config_string(cfg, "etcd.endpoints"), "e1:2379,e2:2379");
  assert_string_equal(cairn_config_string(cfg, "minio.address"), "m:9000");
  assert_string_equal(cairn_config_source_of(cfg, "grpc.port"), "env CAIRN_GRPC_PORT");
  char *bad[] = {"CAIRN_HTTP_PORT=eighty", NULL};
  assert_int_equal(cairn_config_load_env(cfg, bad, &err), CAIRN_INVALID_ARGUMENT);
  assert_string_equal(err.message,
                      "invalid value 'eighty' for config key 'http.port' in env "
                      "CAIRN_HTTP_PORT: expected int");
  cairn_config_free(cfg);
}

static void test_flags(void **state) {
  (void)state;
  cairn_config *cfg = fresh();
  cairn_error err = {0};
  assert_int_equal(cairn_config_add_alias(cfg, "--port", "grpc.port", &err), CAIRN_OK);
  assert_int_equal(cairn_config_add_alias(cfg, "http-port", "http.port", &err), CAIRN_OK);
  assert_int_equal(cairn_config_add_alias(cfg, "data-dir", "dataDir", &err), CAIRN_OK);
  assert_int_equal(cairn_config_add_alias(cfg, "x", "no.key", &err),
                   CAIRN_INVALID_ARGUMENT);
  char *argv[] = {"standalone", "--port=1111", "--http-port", "2222",
                  "--data-dir", "/d", "--auth.enabled", "--log.level=debug",
                  "--minio.useSSL", "false", "--", "--not-a-flag", NULL};
  const char *rest[12];
  int n_rest;
  cairn_status st = cairn_config_parse_args(cfg, 12, argv, rest, &n_rest, &err);
  if (st != CAIRN_OK)
    fail_msg("%s", err.message);
  assert_int_equal(cairn_config_int(cfg, "grpc.port"), 1111);
  assert_int_equal(cairn_config_int(cfg, "http.port"), 2222);
  assert_string_equal(cairn_config_string(cfg, "dataDir"), "/d");
  assert_true(cairn_config_bool(cfg, "auth.enabled"));
  assert_false(cairn_config_bool(cfg, "minio.useSSL"));
  assert_string_equal(cairn_config_string(cfg, "log.level"), "debug");
  assert_int_equal(n_rest, 2);
  assert_string_equal(rest[0], "standalone");
  assert_string_equal(rest[1], "--not-a-flag");
  assert_string_equal(cairn_config_source_of(cfg, "grpc.port"), "flag --port");
  char *typo[] = {"--grcp.port=1"};
  assert_int_equal(cairn_config_parse_args(cfg, 1, typo, rest, &n_rest, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_string_equal(err.message, "unknown config key 'grcp.port' in command-line "
                                   "flags; did you mean 'grpc.port'?");
  char *missing[] = {"--grpc.host"};
  assert_int_equal(cairn_config_parse_args(cfg, 1, missing, rest, &n_rest, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_non_null(strstr(err.message, "needs a value"));
  char *badval[] = {"--port", "-5"};
  assert_int_equal(cairn_config_parse_args(cfg, 2, badval, rest, &n_rest, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_non_null(strstr(err.message, "'-5'"));
  assert_non_null(strstr(err.message, "flag --port"));
  cairn_config_free(cfg);
}

/* defaults < YAML < env < flags, whatever the load order */
static void test_precedence(void **state) {
  (void)state;
  char path[] = "/tmp/cairn-config-prec-XXXXXX";
  int fd = mkstemp(path);
  const char *y = "grpc:\n  port: 1\nhttp:\n  port: 1\ndataDir: /yaml\n";
  assert_int_equal(write(fd, y, strlen(y)), (ssize_t)strlen(y));
  close(fd);
  cairn_config *cfg = fresh();
  cairn_error err = {0};
  char cfgflag[64];
  snprintf(cfgflag, sizeof cfgflag, "--config=%s", path);
  char *argv[] = {cfgflag, "--grpc.port", "3"};
  char *env[] = {"CAIRN_GRPC_PORT=2", "CAIRN_HTTP_PORT=2", NULL};
  const char *rest[3];
  int n_rest;
  cairn_status st = cairn_config_load_all(cfg, 3, argv, env, rest, &n_rest, &err);
  if (st != CAIRN_OK)
    fail_msg("%s", err.message);
  assert_int_equal(cairn_config_int(cfg, "grpc.port"), 3);  /* flag */
  assert_int_equal(cairn_config_int(cfg, "http.port"), 2);  /* env */
  assert_string_equal(cairn_config_string(cfg, "dataDir"), "/yaml");
  assert_string_equal(cairn_config_string(cfg, "log.level"), "info");
  /* loading the file again later does not override env or flags */
  assert_int_equal(cairn_config_load_yaml_file(cfg, path, &err), CAIRN_OK);
  assert_int_equal(cairn_config_int(cfg, "grpc.port"), 3);
  assert_int_equal(cairn_config_int(cfg, "http.port"), 2);
  assert_int_equal(cairn_config_set(cfg, "http.port", "7", CAIRN_CONFIG_SRC_OVERRIDE,
                                    "test", &err),
                   CAIRN_OK);
  assert_int_equal(cairn_config_int(cfg, "http.port"), 7);
  unlink(path);
  cairn_config_free(cfg);
}

/* docs/config.md must contain exactly the generated reference table. */
static void test_docs_in_sync(void **state) {
  (void)state;
  char *table = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&table, &len);
  cairn_config_print_markdown(mem);
  fclose(mem);
  FILE *f = fopen(CAIRN_SOURCE_DIR "/docs/config.md", "rb");
  if (f == NULL)
    fail_msg("cannot open docs/config.md");
  static char doc[1 << 16];
  size_t n = fread(doc, 1, sizeof doc - 1, f);
  doc[n] = '\0';
  fclose(f);
  if (strstr(doc, table) == NULL)
    fail_msg("docs/config.md is out of date; its table must be:\n%s", table);
  free(table);
}

/* log.level values are parsed by the logger */
static void test_log_level(void **state) {
  (void)state;
  cairn_log_level lv = CAIRN_LOG_ERROR;
  assert_int_equal(cairn_log_parse_level("debug", &lv), 0);
  assert_int_equal(lv, CAIRN_LOG_DEBUG);
  assert_int_equal(cairn_log_parse_level("WARNING", &lv), 0);
  assert_int_equal(lv, CAIRN_LOG_WARN);
  assert_int_equal(cairn_log_parse_level("loud", &lv), -1);
  assert_int_equal(lv, CAIRN_LOG_WARN);
  cairn_log_set_level(CAIRN_LOG_ERROR);
  cairn_log_info("this line must not appear");
  cairn_log_set_level(CAIRN_LOG_INFO);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),   cmocka_unit_test(test_parsers),
      cmocka_unit_test(test_yaml),       cmocka_unit_test(test_yaml_errors),
      cmocka_unit_test(test_yaml_file),  cmocka_unit_test(test_env),
      cmocka_unit_test(test_flags),      cmocka_unit_test(test_precedence),
      cmocka_unit_test(test_docs_in_sync), cmocka_unit_test(test_log_level),
  };
  return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
