/*
 * test_objstore_s3.c — the "s3" object store backend (objstore_s3.c)
 * against a real S3 server, s3rver from npm (tests/cluster/package.json),
 * started here on 127.0.0.1 with a free port and a temporary directory:
 *   - the conformance suite (test_objstore_conformance.c), one root prefix
 *     per fresh store;
 *   - multipart upload (> 10 MiB through the writer with 5 MiB parts),
 *     abort leaving no upload behind;
 *   - ListObjectsV2 over > 1000 keys (server pages + continuation tokens)
 *     and with max_keys=7;
 *   - virtual-host addressing ("BUCKET.s3.localhost");
 *   - HTTP 5xx / 429 answers (injected) retried, 4xx not, multipart POSTs
 *     only on 503 / 429;
 *   - the server stopped: calls fail with a clear error after their
 *     retries; a call that is retrying when the server comes back succeeds;
 *   - errors: unknown bucket, wrong access key, bad locations;
 *   - offline pieces: SigV4 against the AWS documentation's examples, the
 *     ListBucketResult parser on good and malformed XML (every truncation
 *     and random corruption of a valid document), the location builder;
 *   - PUT / GET throughput figures (printed, not asserted).
 * s3rver runs through tests/cluster/s3rver-cairn.js, which corrects its
 * listing order, makes its object replacement atomic and adds
 * AbortMultipartUpload (see there).
 * s3rver checks that the access key exists (S3RVER) but not the V4
 * signature itself; the signature is checked by the AWS examples.
 * When tests/cluster/node_modules lacks s3rver, `npm ci` installs it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "objstore.h"
#include "objstore_s3.h"
#include "test_objstore_conformance.h"

#define BUCKET "cairn-test"
#define CREDS "access_key=S3RVER&secret_key=S3RVER&region=us-east-1"
#define START_TIMEOUT_MS 20000

static char cluster_dir[1024]; /* tests/cluster */
static char data_dir[256];     /* s3rver --directory */
static int port;
static pid_t server_pid = -1;
static int root_seq;
static char cur_root[64];

#define OK(call)                                                               \
  do {                                                                         \
    cairn_error e_ = {0};                                                      \
    cairn_status s_ = (call);                                                  \
    if (s_ != CAIRN_OK)                                                        \
      fail_msg("%s -> %s: %s", #call, cairn_status_name(s_), e_.message);      \
  } while (0)
#define E (&e_)

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the server ---------------------------------------------------------- */

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
    perror("free port");
    exit(1);
  }
  close(fd);
  return ntohs(a.sin_port);
}

static bool port_open(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
  if (fd >= 0)
    close(fd);
  return ok;
}

/* npm ci into tests/cluster when s3rver is missing */
static bool ensure_s3rver(char *script, size_t n) {
  snprintf(script, n, "%s/node_modules/s3rver/bin/s3rver.js", cluster_dir);
  if (access(script, R_OK) == 0)
    return true;
  char cmd[2300];
  snprintf(cmd, sizeof cmd,
           "cd '%s' && (npm ci --no-audit --no-fund || npm install --no-audit "
           "--no-fund) >&2",
           cluster_dir);
  fprintf(stderr, "s3rver missing: %s\n", cmd);
  return system(cmd) == 0 && access(script, R_OK) == 0;
}

/* Start s3rver on `port` over data_dir; false (with a message) when it is
 * not listening within START_TIMEOUT_MS or exits. */
static bool server_start(void) {
  char script[1200], port_s[16];
  if (!ensure_s3rver(script, sizeof script)) {
    fprintf(stderr, "cannot install s3rver (npm ci in %s)\n", cluster_dir);
    return false;
  }
  snprintf(script, sizeof script, "%s/s3rver-cairn.js", cluster_dir);
  snprintf(port_s, sizeof port_s, "%d", port);
  /* CAIRN_S3RVER_LOG=1 shows the server's request log */
  const char *quiet = getenv("CAIRN_S3RVER_LOG") ? "--verbose" : "--silent";
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a killed test */
    execlp("node", "node", script, "--directory", data_dir, "--address",
           "127.0.0.1", "--port", port_s, "--bucket", BUCKET, quiet,
           (char *)NULL);
    perror("exec node");
    _exit(127);
  }
  server_pid = pid;
  for (double t0 = now_s(); now_s() - t0 < START_TIMEOUT_MS / 1000.0;) {
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      fprintf(stderr, "s3rver exited during start (status %d)\n", status);
      server_pid = -1;
      return false;
    }
    if (port_open())
      return true;
    usleep(50000);
  }
  fprintf(stderr, "s3rver not listening on 127.0.0.1:%d after %d ms\n", port,
          START_TIMEOUT_MS);
  return false;
}

static void server_stop(void) {
  if (server_pid <= 0)
    return;
  kill(server_pid, SIGTERM);
  for (int i = 0; i < 100; i++) { /* 5 s, then SIGKILL */
    if (waitpid(server_pid, NULL, WNOHANG) == server_pid) {
      server_pid = -1;
      return;
    }
    usleep(50000);
  }
  kill(server_pid, SIGKILL);
  waitpid(server_pid, NULL, 0);
  server_pid = -1;
}

static cairn_objstore *open_loc(const char *root, const char *extra) {
  char loc[512];
  snprintf(loc, sizeof loc, "http://127.0.0.1:%d/" BUCKET "/%s?" CREDS "%s%s",
           port, root, extra[0] ? "&" : "", extra);
  cairn_objstore *s = NULL;
  OK(cairn_objstore_open("s3", loc, &s, E));
  return s;
}

/* ---- conformance --------------------------------------------------------- */

static cairn_status factory_open(void *ctx, bool fresh, cairn_objstore **out,
                                 cairn_error *err) {
  (void)ctx;
  if (fresh)
    snprintf(cur_root, sizeof cur_root, "conf%d", root_seq++);
  char loc[512];
  snprintf(loc, sizeof loc, "http://127.0.0.1:%d/" BUCKET "/%s?" CREDS, port,
           cur_root);
  return cairn_objstore_open("s3", loc, out, err);
}

/* SigV4: the examples of the AWS S3 documentation ("Examples: Signature
 * Calculations in AWS Signature Version 4", sig-v4-header-based-auth). */

#define AK "AKIAIOSFODNN7EXAMPLE"
#define SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define HOST "examplebucket.s3.amazonaws.com"

static void expect_sig(const char *method, const char *uri, const char *query,
                       const cairn_s3_header *h, size_t nh, const char *hash,
                       const char *want_signed, const char *want_sig) {
  cairn_s3_sign_input in = {
      method, uri, query, h, nh, hash, "20130524T000000Z", "us-east-1", AK, SK};
  char auth[1024], want[1024];
  OK(cairn_s3_sigv4_authorization(&in, auth, sizeof auth, E));
  snprintf(want, sizeof want,
           "AWS4-HMAC-SHA256 Credential=" AK "/20130524/us-east-1/s3/"
           "aws4_request,SignedHeaders=%s,Signature=%s",
           want_signed, want_sig);
  assert_string_equal(auth, want);
}

static void test_sigv4_examples(void **state) {
  (void)state;
  char hash[65];
  cairn_s3_sha256_hex("", 0, hash);
  assert_string_equal(hash, EMPTY);
  /* GET Object with a range */
  cairn_s3_header get[] = {{"Host", HOST},
                           {"Range", "bytes=0-9"},
                           {"x-amz-content-sha256", EMPTY},
                           {"x-amz-date", "20130524T000000Z"}};
  expect_sig(
      "GET", "/test.txt", "", get, 4, EMPTY,
      "host;range;x-amz-content-sha256;x-amz-date",
      "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  /* PUT Object: payload hash of "Welcome to Amazon S3.", '$' encoded */
  const char *body = "Welcome to Amazon S3.";
  cairn_s3_sha256_hex(body, strlen(body), hash);
  assert_string_equal(
      hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  char uri[64];
  uri[0] = '/';
  assert_int_equal(
      cairn_s3_uri_encode("test$file.text", 14, true, uri + 1, sizeof uri - 1),
      16);
  assert_string_equal(uri, "/test%24file.text");
  cairn_s3_header put[] = {{"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                           {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                           {"Host", HOST},
                           {"x-amz-date", "20130524T000000Z"},
                           {"x-amz-content-sha256", hash}};
  expect_sig(
      "PUT", uri, "", put, 5, hash,
      "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
      "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
  /* GET Bucket lifecycle (a value-less sub-resource) and list objects */
  cairn_s3_header bucket[] = {{"Host", HOST},
                              {"x-amz-content-sha256", EMPTY},
                              {"x-amz-date", "  20130524T000000Z "}};
  expect_sig(
      "GET", "/", "lifecycle=", bucket, 3, EMPTY,
      "host;x-amz-content-sha256;x-amz-date",
      "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
  expect_sig(
      "GET", "/", "max-keys=2&prefix=J", bucket, 3, EMPTY,
      "host;x-amz-content-sha256;x-amz-date",
      "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
  /* a one-byte change in the query changes the signature */
  char auth[1024];
  cairn_s3_sign_input in = {"GET", "/",   "max-keys=2&prefix=K", bucket,
                            3,     EMPTY, "20130524T000000Z",    "us-east-1",
                            AK,    SK};
  OK(cairn_s3_sigv4_authorization(&in, auth, sizeof auth, E));
  assert_null(strstr(auth, "34b48302e7b5"));
  cairn_error err;
  assert_int_equal(cairn_s3_sigv4_authorization(&in, auth, 40, &err),
                   CAIRN_TOO_LARGE);
  /* encoding: unreserved kept, '/' only in paths, everything else %XX */
  char enc[64];
  cairn_s3_uri_encode("a=b/c d~_.-", 11, false, enc, sizeof enc);
  assert_string_equal(enc, "a%3Db%2Fc%20d~_.-");
  cairn_s3_uri_encode("a=b/c", 5, true, enc, sizeof enc);
  assert_string_equal(enc, "a%3Db/c");
}

/* ---- the ListBucketResult parser ----------------------------------------- */

static const char good_list[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Name>b</Name><Prefix>r/</Prefix><KeyCount>3</KeyCount>"
    "<MaxKeys>3</MaxKeys><IsTruncated>true</IsTruncated>"
    "<!-- a comment <Key>not</Key> -->"
    "<Contents><Key>r/a</Key><LastModified>2024-01-01T00:00:00.000Z"
    "</LastModified><ETag>&quot;abc&quot;</ETag><Size>11</Size>"
    "<StorageClass>STANDARD</StorageClass></Contents>"
    "<Contents><Size> 0 </Size><Key>r/x&amp;y&#61;&#x7a;</Key><Owner><ID>1"
    "</ID></Owner></Contents>"
    "<Contents><Key>r/big</Key><Size>18446744073709551615</Size></Contents>"
    "<NextContinuationToken>tok+/=&lt;</NextContinuationToken>"
    "<CommonPrefixes><Prefix>r/p/</Prefix></CommonPrefixes>"
    "<EncodingType/></ListBucketResult>\n";

static void test_list_parse_good(void **state) {
  (void)state;
  cairn_s3_list_page pg;
  OK(cairn_s3_parse_list(good_list, strlen(good_list), &pg, E));
  assert_int_equal(pg.n, 3);
  assert_string_equal(pg.items[0].key, "r/a");
  assert_int_equal(pg.items[0].size, 11);
  assert_string_equal(pg.items[1].key, "r/x&y=z");
  assert_int_equal(pg.items[1].size, 0);
  assert_int_equal(pg.items[2].size, UINT64_MAX);
  assert_true(pg.truncated);
  assert_string_equal(pg.next_token, "tok+/=<");
  cairn_s3_list_page_free(&pg);
  const char *last = "<ListBucketResult><IsTruncated>false</IsTruncated>"
                     "</ListBucketResult>";
  OK(cairn_s3_parse_list(last, strlen(last), &pg, E));
  assert_int_equal(pg.n, 0);
  assert_false(pg.truncated);
  assert_null(pg.next_token);
  cairn_s3_list_page_free(&pg);
}

static void expect_bad(const char *xml, size_t len) {
  cairn_s3_list_page pg = {(cairn_obj_info *)1, 5, true, (char *)1};
  cairn_error err = {0};
  cairn_status st = cairn_s3_parse_list(xml, len, &pg, &err);
  if (st == CAIRN_OK)
    fail_msg("parsed bad XML: '%.*s'", (int)len, xml);
  assert_true(st == CAIRN_CORRUPT || st == CAIRN_IO || st == CAIRN_NOMEM);
  assert_true(err.message[0] != '\0');
  assert_null(pg.items); /* cleared on failure */
  assert_int_equal(pg.n, 0);
  assert_null(pg.next_token);
}

static void test_list_parse_malformed(void **state) {
  (void)state;
  static const char *const bad[] = {
      "",
      "   ",
      "not xml at all",
      "<",
      "<>",
      "</ListBucketResult>",
      "<ListBucketResult>",
      "<ListBucketResult><Contents><Key>a</Key><Size>1</Size></Contents>",
      "<ListBucketResult><Contents><Key>a</Key></Contents></ListBucketResult>",
      "<ListBucketResult><Contents><Size>1</Size></Contents></"
      "ListBucketResult>",
      "<ListBucketResult><Contents><Key>a</Key><Size>-1</Size></Contents>"
      "</ListBucketResult>",
      "<ListBucketResult><Contents><Key>a</Key><Size>18446744073709551616"
      "</Size></Contents></ListBucketResult>",
      "<ListBucketResult><Contents><Key>a</Key><Size>1x</Size></Contents>"
      "</ListBucketResult>",
      "<ListBucketResult><Contents><Key>a</Size></Key></ListBucketResult>",
      "<ListBucketResult><IsTruncated>yes</IsTruncated></ListBucketResult>",
      "<ListBucketResult><Contents><Key>a&bogus;</Key><Size>1</Size>"
      "</Contents></ListBucketResult>",
      "<ListBucketResult><Contents><Key>a&#0;</Key><Size>1</Size></Contents>"
      "</ListBucketResult>",
      "<ListBucketResult><Contents><Key>a&#99999999999;</Key><Size>1</Size>"
      "</Contents></ListBucketResult>",
      "<ListBucketResult><Contents><Key><![CDATA[a]]></Key><Size>1</Size>"
      "</Contents></ListBucketResult>",
      "<ListBucketResult></ListBucketResult><ListBucketResult>"
      "</ListBucketResult>",
      "<ListBucketResult attr=\"unterminated></ListBucketResult>",
      "<ListBucketResult><!-- never closed </ListBucketResult>",
      "<?xml never closed <ListBucketResult></ListBucketResult>",
      "<Other></Other>",
      "<Error><Code>AccessDenied</Code><Message>no</Message></Error>",
      "<ListBucketResult><1bad></1bad></ListBucketResult>",
      "<ListBucketResult><a\x01b></a\x01b></ListBucketResult>",
      "<ListBucketResult></ListBucketResult junk>",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    expect_bad(bad[i], strlen(bad[i]));
  /* NUL bytes inside, and a buffer that is not NUL-terminated */
  static const char nul[] = "<ListBucketResult><Contents><Key>a\0b</Key>"
                            "<Size>1</Size></Contents></ListBucketResult>";
  expect_bad(nul, sizeof nul - 1);
  char *exact = malloc(strlen(good_list));
  memcpy(exact, good_list, strlen(good_list)); /* no NUL: ASan guards */
  cairn_s3_list_page pg;
  OK(cairn_s3_parse_list(exact, strlen(good_list), &pg, E));
  cairn_s3_list_page_free(&pg);
  /* deep nesting, long names */
  char deep[2048] = "";
  for (int i = 0; i < 40; i++)
    strcat(deep, "<a>");
  expect_bad(deep, strlen(deep));
  char longname[200] = "<";
  memset(longname + 1, 'n', 100);
  strcpy(longname + 101, "></ListBucketResult>");
  expect_bad(longname, strlen(longname));
  /* every truncation of a valid document is an error, never a crash */
  size_t n = strlen(good_list);
  while (n > 0 && good_list[n - 1] == '\n')
    n--;
  for (size_t cut = 0; cut < n; cut++) {
    char *p = malloc(cut ? cut : 1);
    memcpy(p, good_list, cut);
    expect_bad(p, cut);
    free(p);
  }
  free(exact);
}

/* Random corruption: the parser must return (either way) without a crash
 * or leak; results that parse must be internally consistent. */
static void test_list_parse_fuzz(void **state) {
  (void)state;
  unsigned seed = 12345;
  size_t n = strlen(good_list);
  char *p = malloc(n);
  static const char alphabet[] = "<>/&;#x\"'=! ?-[]\0a";
  int parsed = 0;
  for (int round = 0; round < 20000; round++) {
    memcpy(p, good_list, n);
    int flips = 1 + (int)(rand_r(&seed) % 4);
    for (int f = 0; f < flips; f++)
      p[rand_r(&seed) % n] = alphabet[rand_r(&seed) % (sizeof alphabet - 1)];
    cairn_s3_list_page pg;
    cairn_error err;
    if (cairn_s3_parse_list(p, n, &pg, &err) == CAIRN_OK) {
      parsed++;
      for (size_t i = 0; i < pg.n; i++)
        assert_non_null(pg.items[i].key);
      cairn_s3_list_page_free(&pg);
    }
  }
  assert_true(parsed > 0); /* flips in text keep documents valid */
  free(p);
}

/* ---- locations ----------------------------------------------------------- */

static void expect_bad_loc(const char *loc, const char *msg_part) {
  cairn_objstore *s = (cairn_objstore *)1;
  cairn_error err = {0};
  assert_int_equal(cairn_objstore_open("s3", loc, &s, &err),
                   CAIRN_INVALID_ARGUMENT);
  if (strstr(err.message, msg_part) == NULL)
    fail_msg("location '%s': message '%s' lacks '%s'", loc, err.message,
             msg_part);
  assert_null(s);
}

static void test_locations(void **state) {
  (void)state;
  expect_bad_loc("ftp://h/bucket", "http://");
  expect_bad_loc("http://h", "HOST[:PORT]/BUCKET");
  expect_bad_loc("http:///bucket", "HOST[:PORT]/BUCKET");
  expect_bad_loc("http://user:pw@h/bucket", "access_key");
  expect_bad_loc("http://h/b", "3..63");
  expect_bad_loc("http://h/Bucket_X", "a-z");
  expect_bad_loc("http://h/bucket/a/../b", "root");
  expect_bad_loc("http://h/bucket?colour=red", "unknown option 'colour'");
  expect_bad_loc("http://h/bucket?region", "no '=value'");
  expect_bad_loc("http://h/bucket?retries=x", "retries='x'");
  expect_bad_loc("http://h/bucket?retries=99", "0..30");
  expect_bad_loc("http://h/bucket?max_keys=0", "1..1000");
  expect_bad_loc("http://h/bucket?part_size=1MiB", "5MiB..5GiB");
  expect_bad_loc("http://h/bucket?style=sideways", "style='sideways'");
  expect_bad_loc("http://h/bucket?payload=maybe", "payload='maybe'");
  expect_bad_loc("http://h/bucket?access_key=a%zz", "%-escape");
  expect_bad_loc("http://h/bucket?access_key=a&secret_key=", "secret");
  /* good ones; nothing is contacted at open */
  cairn_objstore *s;
  OK(cairn_objstore_open("s3",
                         "https://s3.eu-west-1.amazonaws.com/my.bucket/a/b/?"
                         "region=eu-west-1&part_size=16MiB&max_keys=10&"
                         "retries=0&payload=unsigned&secret_key=x%2By%2Fz&"
                         "access_key=k",
                         &s, E));
  char buf[64];
  assert_null(cairn_objstore_local_path(s, "a", buf, sizeof buf));
  cairn_objstore_close(s);
  /* credentials from the environment */
  setenv("AWS_ACCESS_KEY_ID", "envkey", 1);
  unsetenv("AWS_SECRET_ACCESS_KEY");
  cairn_error err;
  assert_int_equal(cairn_objstore_open("s3", "http://h:9000/bucket", &s, &err),
                   CAIRN_INVALID_ARGUMENT);
  setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
  OK(cairn_objstore_open("s3", "http://h:9000/bucket", &s, E));
  cairn_objstore_close(s);
  unsetenv("AWS_ACCESS_KEY_ID");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  /* the builder from minio.* keys */
  cairn_config *cfg;
  OK(cairn_config_new(&cfg, E));
  char *loc;
  OK(cairn_objstore_s3_location_from_config(cfg, &loc, E));
  assert_string_equal(loc, "http://localhost:9000/a-bucket/files?access_key="
                           "minioadmin&secret_key=minioadmin");
  OK(cairn_objstore_open("s3", loc, &s, E));
  cairn_objstore_close(s);
  free(loc);
  OK(cairn_config_set(cfg, "minio.useSSL", "true", CAIRN_CONFIG_SRC_OVERRIDE,
                      "test", E));
  OK(cairn_config_set(cfg, "minio.secretAccessKey",
                      "a/b+c&d=", CAIRN_CONFIG_SRC_OVERRIDE, "test", E));
  OK(cairn_config_set(cfg, "minio.rootPath", "/x/y", CAIRN_CONFIG_SRC_OVERRIDE,
                      "test", E));
  OK(cairn_objstore_s3_location_from_config(cfg, &loc, E));
  assert_string_equal(loc, "https://localhost:9000/a-bucket/x/y?access_key="
                           "minioadmin&secret_key=a%2Fb%2Bc%26d%3D");
  OK(cairn_objstore_open("s3", loc, &s, E));
  cairn_objstore_close(s);
  free(loc);
  /* Milvus's split address/port, and a region */
  OK(cairn_config_set(cfg, "minio.address", "minio", CAIRN_CONFIG_SRC_OVERRIDE,
                      "test", E));
  OK(cairn_config_set(cfg, "minio.port", "9010", CAIRN_CONFIG_SRC_OVERRIDE,
                      "test", E));
  OK(cairn_config_set(cfg, "minio.region", "eu-west-1",
                      CAIRN_CONFIG_SRC_OVERRIDE, "test", E));
  OK(cairn_config_set(cfg, "minio.accessKeyID", "", CAIRN_CONFIG_SRC_OVERRIDE,
                      "test", E));
  OK(cairn_objstore_s3_location_from_config(cfg, &loc, E));
  assert_string_equal(loc, "https://minio:9010/a-bucket/x/y?region=eu-west-1");
  free(loc);
  cairn_config_free(cfg);
}

/* ---- against the server -------------------------------------------------- */

static uint8_t *pattern(size_t n, unsigned seed) {
  uint8_t *p = malloc(n);
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)((i * 2654435761u + seed) >> 7);
  return p;
}

static void expect_bytes(cairn_objstore *s, const char *key, uint64_t off,
                         uint64_t len, const uint8_t *want, size_t want_n) {
  void *data;
  size_t got;
  OK(cairn_objstore_get(s, key, off, len, &data, &got, E));
  assert_int_equal(got, want_n);
  assert_memory_equal(data, want, want_n);
  free(data);
}

/* Directories under data_dir whose name holds "uploads" and that are not
 * empty: multipart uploads s3rver still keeps. */
static int pending_uploads(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    struct stat st;
    if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
      continue;
    if (strstr(e->d_name, "uploads") != NULL) {
      DIR *u = opendir(p);
      struct dirent *ue;
      while (u && (ue = readdir(u)) != NULL)
        n += strcmp(ue->d_name, ".") != 0 && strcmp(ue->d_name, "..") != 0;
      if (u)
        closedir(u);
    } else {
      n += pending_uploads(p);
    }
  }
  if (d)
    closedir(d);
  return n;
}

static void test_multipart(void **state) {
  (void)state;
  cairn_objstore *s = open_loc("mp", "part_size=5MiB");
  size_t total = (12u << 20) + 12345; /* 3 parts: 5 + 5 + 2 MiB */
  uint8_t *src = pattern(total, 7);
  cairn_obj_writer *w;
  OK(cairn_obj_writer_open(s, "big/obj", &w, E));
  for (size_t off = 0; off < total; off += 1000003)
    OK(cairn_obj_writer_append(
        w, src + off, total - off < 1000003 ? total - off : 1000003, E));
  assert_true(pending_uploads(data_dir) > 0); /* parts went out already */
  void *data;
  size_t got;
  cairn_error err;
  assert_int_equal(
      cairn_objstore_get(s, "big/obj", 0, UINT64_MAX, &data, &got, &err),
      CAIRN_IO_NOT_FOUND); /* nothing visible before commit */
  OK(cairn_obj_writer_commit(w, E));
  assert_int_equal(pending_uploads(data_dir), 0);
  uint64_t size;
  OK(cairn_objstore_stat(s, "big/obj", &size, E));
  assert_int_equal(size, total);
  expect_bytes(s, "big/obj", 0, UINT64_MAX, src, total);
  /* ranges across the part boundaries */
  expect_bytes(s, "big/obj", (5u << 20) - 10, 20, src + (5u << 20) - 10, 20);
  expect_bytes(s, "big/obj", (10u << 20) - 1, 3u << 20, src + (10u << 20) - 1,
               total - (10u << 20) + 1);
  /* exactly one part's worth: one full part, then complete */
  OK(cairn_obj_writer_open(s, "big/exact", &w, E));
  OK(cairn_obj_writer_append(w, src, 5u << 20, E));
  OK(cairn_obj_writer_commit(w, E));
  expect_bytes(s, "big/exact", 0, UINT64_MAX, src, 5u << 20);
  /* abort after a part was uploaded: nothing published, upload removed */
  OK(cairn_obj_writer_open(s, "big/aborted", &w, E));
  OK(cairn_obj_writer_append(w, src, (6u << 20), E));
  assert_true(pending_uploads(data_dir) > 0);
  cairn_obj_writer_abort(w);
  assert_int_equal(pending_uploads(data_dir), 0);
  assert_int_equal(cairn_objstore_stat(s, "big/aborted", &size, &err),
                   CAIRN_IO_NOT_FOUND);
  OK(cairn_objstore_remove_prefix(s, "", E));
  cairn_objstore_close(s);
  free(src);
}

typedef struct put_job {
  cairn_objstore *s;
  int from, to;
} put_job;

static void *put_range(void *p) {
  put_job *j = p;
  for (int i = j->from; i < j->to; i++) {
    char k[64], v[16];
    snprintf(k, sizeof k, "k/%05d", i);
    snprintf(v, sizeof v, "%d", i);
    cairn_error err;
    if (cairn_objstore_put(j->s, k, v, strlen(v), &err) != CAIRN_OK) {
      fprintf(stderr, "put %s: %s\n", k, err.message);
      return (void *)1;
    }
  }
  return NULL;
}

static void check_all_keys(cairn_objstore *s, int nkeys, size_t limit) {
  char after[64] = "";
  int seen = 0;
  bool more = true;
  while (more) {
    cairn_obj_info *items;
    size_t n;
    OK(cairn_objstore_list(s, "k/", seen ? after : NULL, limit, &items, &n,
                           &more, E));
    if (limit)
      assert_true(n <= limit);
    for (size_t i = 0; i < n; i++) {
      char want[64], v[16];
      snprintf(want, sizeof want, "k/%05d", seen + (int)i);
      assert_string_equal(items[i].key, want);
      assert_int_equal(items[i].size,
                       snprintf(v, sizeof v, "%d", seen + (int)i));
    }
    seen += (int)n;
    if (n > 0)
      snprintf(after, sizeof after, "%s", items[n - 1].key);
    cairn_obj_infos_free(items, n);
    if (n == 0)
      break;
  }
  assert_int_equal(seen, nkeys);
}

static void test_list_many(void **state) {
  (void)state;
  enum { NKEYS = 1100, THREADS = 4 };
  cairn_objstore *s = open_loc("many", "");
  pthread_t th[THREADS];
  put_job jobs[THREADS];
  double t0 = now_s();
  for (int i = 0; i < THREADS; i++) {
    jobs[i] = (put_job){s, i * NKEYS / THREADS, (i + 1) * NKEYS / THREADS};
    pthread_create(&th[i], NULL, put_range, &jobs[i]);
  }
  for (int i = 0; i < THREADS; i++) {
    void *rc;
    pthread_join(th[i], &rc);
    assert_null(rc);
  }
  double t1 = now_s();
  fprintf(stderr, "  %d small PUTs over %d threads: %.0f/s\n", NKEYS, THREADS,
          NKEYS / (t1 - t0));
  /* everything at once: the server pages at 1000, we follow the token */
  cairn_obj_info *items;
  size_t n;
  bool more = true;
  OK(cairn_objstore_list(s, "", NULL, 0, &items, &n, &more, E));
  assert_int_equal(n, NKEYS);
  assert_false(more);
  for (size_t i = 1; i < n; i++)
    assert_true(strcmp(items[i - 1].key, items[i].key) < 0);
  cairn_obj_infos_free(items, n);
  fprintf(stderr, "  list of %d keys: %.0f ms\n", NKEYS, (now_s() - t1) * 1e3);
  OK(cairn_objstore_list(s, "k/", NULL, 1050, &items, &n, &more, E));
  assert_int_equal(n, 1050);
  assert_true(more);
  cairn_obj_infos_free(items, n);
  check_all_keys(s, NKEYS, 0);
  check_all_keys(s, NKEYS, 333);
  cairn_objstore_close(s);
  /* small server pages: continuation tokens on every page */
  s = open_loc("many", "max_keys=7");
  check_all_keys(s, NKEYS, 0);
  check_all_keys(s, NKEYS, 50);
  OK(cairn_objstore_list(s, "k/0100", NULL, 0, &items, &n, &more, E));
  assert_int_equal(n, 10); /* k/01000 .. k/01009 */
  cairn_obj_infos_free(items, n);
  OK(cairn_objstore_remove_prefix(s, "", E));
  OK(cairn_objstore_list(s, "", NULL, 0, &items, &n, &more, E));
  assert_int_equal(n, 0);
  cairn_obj_infos_free(items, n);
  cairn_objstore_close(s);
}

static void test_virtual_host(void **state) {
  (void)state;
  char loc[512];
  snprintf(loc, sizeof loc,
           "http://s3.localhost:%d/" BUCKET "/vh?" CREDS "&style=virtual",
           port);
  cairn_objstore *s;
  OK(cairn_objstore_open("s3", loc, &s, E));
  OK(cairn_objstore_put(s, "a/b", "virtual", 7, E));
  cairn_objstore *p = open_loc("vh", "style=path"); /* same object */
  expect_bytes(p, "a/b", 0, UINT64_MAX, (const uint8_t *)"virtual", 7);
  expect_bytes(s, "a/b", 2, 3, (const uint8_t *)"rtu", 3);
  cairn_obj_info *items;
  size_t n;
  bool more;
  OK(cairn_objstore_list(s, "a/", NULL, 0, &items, &n, &more, E));
  assert_int_equal(n, 1);
  assert_string_equal(items[0].key, "a/b");
  cairn_obj_infos_free(items, n);
  OK(cairn_objstore_remove(s, "a/b", E));
  uint64_t size;
  cairn_error err;
  assert_int_equal(cairn_objstore_stat(p, "a/b", &size, &err),
                   CAIRN_IO_NOT_FOUND);
  cairn_objstore_close(s);
  cairn_objstore_close(p);
}

static void test_errors(void **state) {
  (void)state;
  char loc[512];
  cairn_objstore *s;
  cairn_error err;
  snprintf(loc, sizeof loc, "http://127.0.0.1:%d/no-such-bucket?" CREDS, port);
  OK(cairn_objstore_open("s3", loc, &s, E));
  assert_int_equal(cairn_objstore_put(s, "x", "1", 1, &err), CAIRN_IO);
  assert_non_null(strstr(err.message, "NoSuchBucket"));
  void *data;
  size_t got;
  /* a missing bucket is an error, not a missing key */
  assert_int_equal(cairn_objstore_get(s, "x", 0, UINT64_MAX, &data, &got, &err),
                   CAIRN_IO);
  cairn_objstore_close(s);
  snprintf(loc, sizeof loc,
           "http://127.0.0.1:%d/" BUCKET "?access_key=WRONG&secret_key=x",
           port);
  OK(cairn_objstore_open("s3", loc, &s, E));
  assert_int_equal(cairn_objstore_put(s, "x", "1", 1, &err), CAIRN_IO);
  assert_non_null(strstr(err.message, "InvalidAccessKeyId"));
  assert_non_null(strstr(err.message, "HTTP 403"));
  assert_non_null(strstr(err.message, "check the access/secret key"));
  cairn_objstore_close(s);
  /* get of an absent key, zero-length reads, remove of an absent key */
  s = open_loc("err", "");
  assert_int_equal(cairn_objstore_get(s, "absent", 0, 0, &data, &got, &err),
                   CAIRN_IO_NOT_FOUND);
  OK(cairn_objstore_remove(s, "absent", E));
  cairn_objstore_close(s);
}

/* HTTP statuses injected by s3rver-cairn.js ("cairn-fault-SSS-N-" keys) */
static void test_http_retries(void **state) {
  (void)state;
  cairn_objstore *s = open_loc("faults", "retries=3&backoff_ms=10");
  cairn_objstore *once = open_loc("faults", "retries=1&backoff_ms=10");
  cairn_error err;
  /* 503, 500, 429 twice each, then success: retried by every call */
  OK(cairn_objstore_put(s, "cairn-fault-503-2-put", "x", 1, E));
  OK(cairn_objstore_put(s, "cairn-fault-500-2-put", "y", 1, E));
  OK(cairn_objstore_put(s, "cairn-fault-429-2-put", "z", 1, E));
  expect_bytes(s, "cairn-fault-500-2-put", 0, UINT64_MAX, (const uint8_t *)"y",
               1);
  uint64_t size;
  OK(cairn_objstore_stat(s, "cairn-fault-503-2-put", &size, E));
  assert_int_equal(size, 1);
  /* more faults than retries: the status and S3 code in the message */
  assert_int_equal(
      cairn_objstore_put(once, "cairn-fault-503-3-x", "x", 1, &err), CAIRN_IO);
  assert_non_null(strstr(err.message, "HTTP 503 SlowDown"));
  assert_non_null(strstr(err.message, "injected fault 2 of 3"));
  assert_int_equal(
      cairn_objstore_put(once, "cairn-fault-500-2-y", "y", 1, &err), CAIRN_IO);
  assert_non_null(strstr(err.message, "HTTP 500 InternalError"));
  /* a 4xx is not retried: the first answer stands */
  assert_int_equal(cairn_objstore_put(s, "cairn-fault-400-1-z", "z", 1, &err),
                   CAIRN_IO);
  assert_non_null(strstr(err.message, "HTTP 400"));
  OK(cairn_objstore_put(s, "cairn-fault-400-1-z", "z", 1, E)); /* served */
  /* a multipart POST is not retried on 500 (it may have been applied) but
   * is on 503 */
  cairn_objstore *mp = open_loc("faults", "retries=3&backoff_ms=10&"
                                          "part_size=5MiB");
  uint8_t *src = pattern(6u << 20, 1);
  cairn_obj_writer *w;
  OK(cairn_obj_writer_open(mp, "cairn-fault-500-1-mp", &w, E));
  assert_int_equal(cairn_obj_writer_append(w, src, 6u << 20, &err), CAIRN_IO);
  assert_non_null(strstr(err.message, "POST"));
  assert_int_equal(cairn_obj_writer_commit(w, &err), CAIRN_IO);
  OK(cairn_obj_writer_open(mp, "cairn-fault-503-1-mp", &w, E));
  OK(cairn_obj_writer_append(w, src, 6u << 20, E));
  OK(cairn_obj_writer_commit(w, E));
  expect_bytes(mp, "cairn-fault-503-1-mp", 0, UINT64_MAX, src, 6u << 20);
  free(src);
  assert_int_equal(cairn_objstore_remove(s, "cairn-fault-400-1-z", &err),
                   CAIRN_IO); /* faults count per method */
  OK(cairn_objstore_remove_prefix(s, "", E));
  cairn_obj_info *items;
  size_t n;
  bool more;
  OK(cairn_objstore_list(s, "", NULL, 0, &items, &n, &more, E));
  assert_int_equal(n, 0);
  cairn_obj_infos_free(items, n);
  cairn_objstore_close(mp);
  cairn_objstore_close(once);
  cairn_objstore_close(s);
}

typedef struct retry_job {
  cairn_objstore *s;
  cairn_status st;
  char msg[512];
  size_t got;
  double took;
} retry_job;

static void *get_with_retries(void *p) {
  retry_job *j = p;
  void *data = NULL;
  cairn_error err = {0};
  double t0 = now_s();
  j->st =
      cairn_objstore_get(j->s, "survivor", 0, UINT64_MAX, &data, &j->got, &err);
  j->took = now_s() - t0;
  snprintf(j->msg, sizeof j->msg, "%s", err.message);
  if (j->st == CAIRN_OK && (j->got != 8 || memcmp(data, "survives", 8) != 0))
    j->st = CAIRN_CORRUPT;
  free(data);
  return NULL;
}

static void test_server_restart(void **state) {
  (void)state;
  cairn_objstore *s = open_loc("restart", "retries=1&backoff_ms=20");
  cairn_objstore *patient =
      open_loc("restart", "retries=20&backoff_ms=100&backoff_max_ms=500");
  OK(cairn_objstore_put(s, "survivor", "survives", 8, E));
  server_stop();
  /* down: a clear error after the retries, for every kind of call */
  cairn_error err;
  double t0 = now_s();
  assert_int_equal(cairn_objstore_put(s, "x", "1", 1, &err), CAIRN_IO);
  fprintf(stderr, "  while down: %s\n", err.message);
  assert_non_null(strstr(err.message, "after 2 attempts"));
  assert_non_null(strstr(err.message, "127.0.0.1"));
  assert_true(now_s() - t0 < 5);
  void *data;
  size_t got;
  uint64_t size;
  assert_int_equal(
      cairn_objstore_get(s, "survivor", 0, UINT64_MAX, &data, &got, &err),
      CAIRN_IO);
  assert_int_equal(cairn_objstore_stat(s, "survivor", &size, &err), CAIRN_IO);
  cairn_obj_info *items;
  size_t n;
  bool more;
  assert_int_equal(cairn_objstore_list(s, "", NULL, 0, &items, &n, &more, &err),
                   CAIRN_IO);
  assert_null(items);
  /* a patient call started while down succeeds once the server is back */
  retry_job job = {.s = patient};
  pthread_t th;
  pthread_create(&th, NULL, get_with_retries, &job);
  usleep(700000);
  assert_true(server_start());
  pthread_join(th, NULL);
  if (job.st != CAIRN_OK)
    fail_msg("get across the restart: %s: %s", cairn_status_name(job.st),
             job.msg);
  fprintf(stderr, "  get across a restart took %.2f s\n", job.took);
  assert_true(job.took > 0.5);
  /* and the impatient store works again too */
  OK(cairn_objstore_stat(s, "survivor", &size, E));
  assert_int_equal(size, 8);
  OK(cairn_objstore_remove_prefix(s, "", E));
  cairn_objstore_close(s);
  cairn_objstore_close(patient);
}

static void test_throughput(void **state) {
  (void)state;
  enum { SIZE = 32 << 20, ROUNDS = 3 };
  uint8_t *src = pattern(SIZE, 3);
  cairn_objstore *s = open_loc("perf", "");
  cairn_objstore *u = open_loc("perf", "payload=unsigned");
  double best_put = 1e9, best_get = 1e9, best_wr = 1e9, best_uput = 1e9;
  for (int r = 0; r < ROUNDS; r++) {
    double t0 = now_s();
    OK(cairn_objstore_put(s, "blob", src, SIZE, E));
    double t1 = now_s();
    void *data;
    size_t got;
    OK(cairn_objstore_get(s, "blob", 0, UINT64_MAX, &data, &got, E));
    double t2 = now_s();
    assert_int_equal(got, SIZE);
    assert_memory_equal(data, src, SIZE);
    free(data);
    cairn_obj_writer *w;
    double t3 = now_s();
    OK(cairn_obj_writer_open(s, "blob2", &w, E));
    OK(cairn_obj_writer_append(w, src, SIZE, E));
    OK(cairn_obj_writer_commit(w, E));
    double t4 = now_s();
    OK(cairn_objstore_put(u, "blob3", src, SIZE, E));
    double t5 = now_s();
    best_put = t1 - t0 < best_put ? t1 - t0 : best_put;
    best_get = t2 - t1 < best_get ? t2 - t1 : best_get;
    best_wr = t4 - t3 < best_wr ? t4 - t3 : best_wr;
    best_uput = t5 - t4 < best_uput ? t5 - t4 : best_uput;
  }
  double mb = SIZE / 1048576.0;
  double t0 = now_s();
  char hash[65];
  cairn_s3_sha256_hex(src, SIZE, hash);
  double sha = now_s() - t0;
  fprintf(stderr,
          "  s3rver, %d MiB objects, best of %d: PUT %.0f MB/s, GET %.0f MB/s, "
          "writer (4 x 8 MiB parts) %.0f MB/s, PUT unsigned payload %.0f "
          "MB/s; SHA-256 %.0f MB/s\n",
          (int)mb, ROUNDS, mb / best_put, mb / best_get, mb / best_wr,
          mb / best_uput, mb / sha);
  OK(cairn_objstore_remove_prefix(s, "", E));
  cairn_objstore_close(s);
  cairn_objstore_close(u);
  free(src);
}

static void cleanup(void) {
  server_stop();
  if (data_dir[0]) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", data_dir);
    if (system(cmd) != 0)
      fprintf(stderr, "could not remove %s\n", data_dir);
  }
}

int main(void) {
  snprintf(cluster_dir, sizeof cluster_dir, "%s/tests/cluster",
           CAIRN_SOURCE_DIR);
  /* clang-format off */
  const struct CMUnitTest offline[] = {
      cmocka_unit_test(test_sigv4_examples),
      cmocka_unit_test(test_list_parse_good),
      cmocka_unit_test(test_list_parse_malformed),
      cmocka_unit_test(test_list_parse_fuzz),
      cmocka_unit_test(test_locations),
  };
  /* clang-format on */
  int failed =
      cmocka_run_group_tests_name("objstore s3 (offline)", offline, NULL, NULL);
  const char *tmp = getenv("TMPDIR");
  snprintf(data_dir, sizeof data_dir, "%s/cairn-s3-XXXXXX",
           tmp && *tmp ? tmp : "/tmp");
  if (mkdtemp(data_dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  atexit(cleanup);
  port = free_port();
  if (!server_start()) {
    fprintf(stderr, "objstore s3: s3rver did not start; failing\n");
    return 1;
  }
  fprintf(stderr, "s3rver on 127.0.0.1:%d, data in %s\n", port, data_dir);
  cairn_objstore_factory f = {.name = "s3 (s3rver)", .open = factory_open};
  failed += cairn_objstore_conformance_run(&f);
  /* clang-format off */
  const struct CMUnitTest server[] = {
      cmocka_unit_test(test_multipart),
      cmocka_unit_test(test_list_many),
      cmocka_unit_test(test_virtual_host),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_http_retries),
      cmocka_unit_test(test_server_restart),
      cmocka_unit_test(test_throughput),
  };
  /* clang-format on */
  failed +=
      cmocka_run_group_tests_name("objstore s3 (s3rver)", server, NULL, NULL);
  return failed ? 1 : 0;
}
