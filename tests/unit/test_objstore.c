/*
 * test_objstore.c — the local object store (objstore_local.c): the
 * conformance suite through a factory over temporary directories, plus what
 * only this backend promises:
 *   - backend selection errors;
 *   - local_path gives the file an object lives in (for mmap);
 *   - temp files are never listed; stale ones (dead writer) are removed on
 *     open, a live writer's are kept;
 *   - remove prunes directories left empty (never the root);
 *   - "a" and "a/b" cannot both be objects (CAIRN_CONFLICT);
 *   - junk in the tree (names that are no valid key) is not listed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "objstore.h"
#include "test_objstore_conformance.h"

static char base_dir[256];
static char cur_dir[300];
static int dir_seq;

#define OK(call)                                                               \
  do {                                                                         \
    cairn_error e_ = {0};                                                      \
    cairn_status s_ = (call);                                                  \
    if (s_ != CAIRN_OK)                                                        \
      fail_msg("%s -> %s: %s", #call, cairn_status_name(s_), e_.message);      \
  } while (0)
#define E (&e_)

static cairn_status factory_open(void *ctx, bool fresh, cairn_objstore **out,
                                 cairn_error *err) {
  (void)ctx;
  if (fresh)
    snprintf(cur_dir, sizeof cur_dir, "%s/store%d", base_dir, dir_seq++);
  return cairn_objstore_open("local", cur_dir, out, err);
}

static cairn_objstore *fresh(void) {
  cairn_objstore *s = NULL;
  OK(factory_open(NULL, true, &s, E));
  return s;
}

static void touch(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT, 0644);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "junk", 4), 4);
  close(fd);
}

static size_t count_all(cairn_objstore *s) {
  cairn_obj_info *items;
  size_t n;
  OK(cairn_objstore_list(s, "", NULL, 0, &items, &n, NULL, E));
  cairn_obj_infos_free(items, n);
  return n;
}

static void test_open_errors(void **state) {
  (void)state;
  cairn_objstore *s = (cairn_objstore *)1;
  cairn_error err;
  assert_int_equal(cairn_objstore_open("s4", "/tmp/x", &s, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_null(s);
  assert_string_equal(err.message,
                      "unknown object store backend 's4' (known: local, s3)");
  assert_int_equal(cairn_objstore_open("local", "", &s, &err),
                   CAIRN_INVALID_ARGUMENT);
  assert_int_equal(cairn_objstore_open("local", "/proc/cairn-cannot", &s, &err),
                   CAIRN_IO);
  char file[320];
  snprintf(file, sizeof file, "%s/plainfile", base_dir);
  touch(file);
  assert_int_equal(cairn_objstore_open("local", file, &s, &err), CAIRN_IO);
  cairn_objstore_close(NULL);
}

static void test_local_path(void **state) {
  (void)state;
  cairn_objstore *s = fresh();
  OK(cairn_objstore_put(s, "seg/1/vec", "0123", 4, E));
  char buf[512], want[512];
  const char *p = cairn_objstore_local_path(s, "seg/1/vec", buf, sizeof buf);
  snprintf(want, sizeof want, "%s/seg/1/vec", cur_dir);
  assert_non_null(p);
  assert_string_equal(p, want);
  int fd = open(p, O_RDONLY);
  char got[4];
  assert_true(fd >= 0);
  assert_int_equal(read(fd, got, 4), 4);
  assert_memory_equal(got, "0123", 4);
  close(fd);
  assert_null(cairn_objstore_local_path(s, "seg/1/vec", buf, 10)); /* too small */
  assert_null(cairn_objstore_local_path(s, "../x", buf, sizeof buf));
  cairn_objstore_close(s);
}

static void test_temp_files(void **state) {
  (void)state;
  cairn_objstore *s = fresh();
  OK(cairn_objstore_put(s, "t/a", "1", 1, E));
  /* an open writer's temp file is not an object */
  cairn_obj_writer *w;
  OK(cairn_obj_writer_open(s, "t/b", &w, E));
  OK(cairn_obj_writer_append(w, "x", 1, E));
  assert_int_equal(count_all(s), 1);
  /* leftovers: one of a dead process, one of a live one (us) */
  pid_t dead = fork();
  if (dead == 0)
    _exit(0);
  waitpid(dead, NULL, 0);
  char stale[512], live[512];
  snprintf(stale, sizeof stale, "%s/t/#tmp-%ld-7", cur_dir, (long)dead);
  snprintf(live, sizeof live, "%s/t/#tmp-%ld-999999", cur_dir, (long)getpid());
  touch(stale);
  touch(live);
  assert_int_equal(count_all(s), 1);
  cairn_objstore *again;
  OK(factory_open(NULL, false, &again, E));
  assert_int_equal(access(stale, F_OK), -1);  /* removed */
  assert_int_equal(access(live, F_OK), 0);    /* kept */
  OK(cairn_obj_writer_commit(w, E)); /* the live writer still commits */
  assert_int_equal(count_all(again), 2);
  unlink(live);
  cairn_objstore_close(again);
  cairn_objstore_close(s);
}

static void test_prune_dirs(void **state) {
  (void)state;
  cairn_objstore *s = fresh();
  OK(cairn_objstore_put(s, "p/q/r/obj", "v", 1, E));
  OK(cairn_objstore_put(s, "p/keep", "v", 1, E));
  OK(cairn_objstore_remove(s, "p/q/r/obj", E));
  char path[512];
  snprintf(path, sizeof path, "%s/p/q", cur_dir);
  assert_int_equal(access(path, F_OK), -1); /* p/q/r and p/q pruned */
  snprintf(path, sizeof path, "%s/p", cur_dir);
  assert_int_equal(access(path, F_OK), 0);  /* p still holds p/keep */
  OK(cairn_objstore_remove(s, "p/keep", E));
  assert_int_equal(access(path, F_OK), -1);
  assert_int_equal(access(cur_dir, F_OK), 0); /* never the root */
  cairn_objstore_close(s);
}

static void test_conflicts_and_junk(void **state) {
  (void)state;
  cairn_objstore *s = fresh();
  cairn_error err;
  OK(cairn_objstore_put(s, "f", "file", 4, E));
  assert_int_equal(cairn_objstore_put(s, "f/child", "x", 1, &err), CAIRN_CONFLICT);
  OK(cairn_objstore_put(s, "d/child", "x", 1, E));
  assert_int_equal(cairn_objstore_put(s, "d", "x", 1, &err), CAIRN_CONFLICT);
  cairn_obj_writer *w;
  assert_int_equal(cairn_obj_writer_open(s, "f/w", &w, &err), CAIRN_CONFLICT);
  OK(cairn_obj_writer_open(s, "d", &w, E));
  assert_int_equal(cairn_obj_writer_commit(w, &err), CAIRN_CONFLICT);
  void *data;
  size_t got;
  assert_int_equal(cairn_objstore_get(s, "f/child", 0, 1, &data, &got, &err),
                   CAIRN_IO_NOT_FOUND);
  /* files a person dropped in that no key can name */
  char path[512];
  snprintf(path, sizeof path, "%s/d/with space", cur_dir);
  touch(path);
  snprintf(path, sizeof path, "%s/d/#notes", cur_dir);
  touch(path);
  assert_int_equal(count_all(s), 2); /* f, d/child */
  cairn_objstore_close(s);
}

int main(int argc, char **argv) {
  (void)argc, (void)argv;
  const char *tmp = getenv("TMPDIR");
  snprintf(base_dir, sizeof base_dir, "%s/cairn-obj-test-XXXXXX",
           tmp != NULL ? tmp : "/tmp");
  if (mkdtemp(base_dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  cairn_objstore_factory f = {"local", NULL, factory_open};
  int failed = cairn_objstore_conformance_run(&f);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_open_errors),
      cmocka_unit_test(test_local_path),
      cmocka_unit_test(test_temp_files),
      cmocka_unit_test(test_prune_dirs),
      cmocka_unit_test(test_conflicts_and_junk),
  };
  failed += cmocka_run_group_tests_name("objstore local", tests, NULL, NULL);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", base_dir);
  if (failed == 0 && system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", base_dir);
  return failed != 0;
}
