/*
 * meta_etcd.c — the "etcd" meta store backend: meta.h mapped one call to one
 * request of etcd v3's HTTP/JSON gateway (grpc-gateway, served by etcd 3.4
 * on its client port), with libcurl for HTTP and json-c for JSON. Location
 * format and options: meta_etcd.h.
 *
 * Wire format (etcd 3.4 gateway; every request is a POST of one JSON object,
 * every answer one JSON object; bytes fields are standard base64 with
 * padding; int64 fields come back as decimal strings; zero / false / empty
 * fields are omitted from answers and so read as 0):
 *   get        /v3/kv/range {key}                -> {header, kvs[], count}
 *   range      /v3/kv/range {key, range_end, limit} -> {header, kvs[], more}
 *              prefix P: key = root+P, range_end = root+P with its last byte
 *              incremented (root+P empty: key = range_end = "\0", i.e. all);
 *              paging `after` A: key = max(root+P, root+A+"\0"). No sort
 *              fields are sent: etcd returns keys ascending by default, and
 *              an explicit sort order would make it read the whole range
 *              before applying the limit.
 *   put/delete/delete-prefix/txn  /v3/kv/txn {compare[], success[], failure[]}
 *              (meta.c turns put/delete into one-op txns) -> {header,
 *              succeeded, responses[]}; compare = {key, target: MOD | CREATE
 *              | VERSION | VALUE, result: EQUAL | NOT_EQUAL | LESS | GREATER,
 *              mod_revision | create_revision | version | value}; op =
 *              {request_put: {key, value, lease}} or {request_delete_range:
 *              {key[, range_end]}}; deleted = the sum of
 *              responses[].response_delete_range.deleted.
 *   revision   /v3/kv/range {key: root, count_only} -> header.revision
 *   watch      /v3/watch {create_request: {key, range_end, start_revision}}
 *              -> a chunked stream of {"result": WatchResponse} objects:
 *              first {created: true}, then {events: [{type?, kv}]} (type
 *              absent = PUT), or {canceled, compact_revision} when the start
 *              revision was compacted; {"error": {...}} if the stream fails.
 *   leases     /v3/lease/grant {TTL} -> {ID, TTL}; /v3/lease/keepalive {ID}
 *              -> {"result": {ID, TTL}} (TTL absent = lease unknown or
 *              expired); /v3/lease/revoke {ID}.
 *   errors     HTTP != 200 with {error, message, code}: `code` is the gRPC
 *              status (5 NotFound -> CAIRN_IO_NOT_FOUND, 3 InvalidArgument /
 *              11 OutOfRange -> CAIRN_INVALID_ARGUMENT, 14 Unavailable /
 *              4 DeadlineExceeded -> CAIRN_NOT_READY, 8 ResourceExhausted ->
 *              CAIRN_RATE_LIMIT, else CAIRN_IO); the message carries etcd's.
 *
 * Endpoints and retries: a call starts at the endpoint that last answered
 * and moves on to the next after a transport error. Reads (range, revision,
 * keepalive, watch) may move on after any transport error, and make two
 * rounds over all endpoints with a short pause between; writes move on only
 * when the connection could not be made (the request never left), since a
 * write whose answer was lost may have been applied — that case reports
 * CAIRN_IO "outcome unknown". All endpoints refusing: CAIRN_NOT_READY
 * "etcd unreachable (...)".
 *
 * Watches: one thread per watch holds a streaming POST through a private
 * curl multi handle (so cancel can wake it with curl_multi_wakeup instead of
 * waiting for a poll timeout) and feeds the body to an incremental
 * json_tokener; each complete object is handled in order, events are
 * delivered from that thread. `next_rev` = 1 + the last delivered event's
 * revision; when the stream breaks (etcd restarted, endpoint down) the
 * thread reconnects, endpoints in turn with a 100 ms..1 s backoff, asking
 * for start_revision = next_rev, so nothing is skipped or repeated. It gives
 * up with CAIRN_META_EVENT_LOST (kv.mod_revision = next_rev) when
 * reconnecting has failed for watch_retry ms, or when next_rev has been
 * compacted meanwhile. watch_start with from_revision 0 reads the current
 * revision R and starts at R + 1 (so writes that return after watch_start
 * are seen even before etcd confirms the watch); a compacted from_revision
 * is refused up front (a range at that revision says so), and watch_start
 * waits until etcd has confirmed the watch or the first connection failed.
 *
 * Threading: the handle is shared by any number of threads. `mu` guards the
 * idle curl handle pool, the watch list and the finished-watch list. The
 * preferred endpoint index is an atomic. A watch's own fields are touched
 * only by its thread, except `cancelled` (atomic), `state` (under the
 * watch's `mu`) and `multi` (curl_multi_wakeup is thread-safe). A watch
 * cancelled from its own callback is moved to the `reaped` list and joined
 * by a later watch_start or by close.
 *
 * Ownership: the handle owns its endpoints, pool, and watches; results are
 * returned as meta.h says (caller frees with cairn_meta_kv_clear /
 * cairn_meta_kvs_free).
 *
 * XXX: no TLS client certificates or auth tokens yet; one thread and one
 * HTTP stream per watch (etcd multiplexes watches on one gRPC stream, the
 * gateway does not).
 */
#include "clock.h"
#include "meta_etcd.h"

#include <curl/curl.h>
#include <json-c/json.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ETCD_MAX_ENDPOINTS 16
#define ETCD_MAX_ROOT_LEN 128
#define ETCD_POOL_MAX 16
#define ETCD_DEFAULT_TIMEOUT_MS 5000
#define ETCD_DEFAULT_CONNECT_MS 1000
#define ETCD_DEFAULT_WATCH_RETRY_MS 60000
#define ETCD_MAX_BODY ((size_t)512 << 20)
#define ETCD_READ_ROUNDS 2

typedef struct etcd_meta {
  cairn_meta base; /* must be first */
  char *endpoints[ETCD_MAX_ENDPOINTS]; /* "http://h:p", no trailing '/' */
  size_t n_endpoints;
  char root[ETCD_MAX_ROOT_LEN + 2];    /* key prefix incl. trailing '/' or "" */
  size_t root_len;
  long timeout_ms, connect_ms, watch_retry_ms;
  atomic_size_t preferred;             /* endpoint that answered last */
  struct curl_slist *headers;          /* immutable after open */
  pthread_mutex_t mu;                  /* guards pool, watches, reaped */
  CURL *pool[ETCD_POOL_MAX];
  size_t n_pool;
  struct cairn_meta_watch *watches;    /* live watches */
  struct cairn_meta_watch *reaped;     /* self-cancelled, to be joined */
} etcd_meta;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

/* ---- small buffers and base64 ------------------------------------------- */

typedef struct buf {
  char *data;
  size_t len, cap;
} buf;

static bool buf_add(buf *b, const void *p, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *d = realloc(b->data, cap);
    if (d == NULL)
      return false;
    b->data = d, b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return true;
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* malloc'ed NUL-terminated base64 of n bytes; NULL on allocation failure. */
static char *b64_encode(const void *data, size_t n) {
  const uint8_t *p = data;
  char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
  if (out == NULL)
    return NULL;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16;
    if (i + 1 < n)
      v |= (uint32_t)p[i + 1] << 8;
    if (i + 2 < n)
      v |= p[i + 2];
    *o++ = b64_alphabet[v >> 18];
    *o++ = b64_alphabet[(v >> 12) & 63];
    *o++ = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
    *o++ = i + 2 < n ? b64_alphabet[v & 63] : '=';
  }
  *o = '\0';
  return out;
}

static int b64_value(char c) {
  const char *p = c ? strchr(b64_alphabet, c) : NULL;
  return p ? (int)(p - b64_alphabet) : -1;
}

/* Decode into a malloc'ed buffer with a NUL after the data. Padding is
 * optional. False on bad input or allocation failure. */
static bool b64_decode(const char *s, uint8_t **out, size_t *out_len) {
  size_t n = strlen(s);
  while (n > 0 && s[n - 1] == '=')
    n--;
  uint8_t *d = malloc(n / 4 * 3 + 3 + 1);
  if (d == NULL)
    return false;
  size_t len = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64_value(s[i]);
    if (v < 0) {
      free(d);
      return false;
    }
    acc = (acc << 6) | (uint32_t)v, bits += 6;
    if (bits >= 8) {
      bits -= 8;
      d[len++] = (uint8_t)(acc >> bits);
    }
  }
  d[len] = '\0';
  *out = d, *out_len = len;
  return true;
}

/* ---- JSON helpers ------------------------------------------------------- */

static json_object *jfield(json_object *o, const char *name) {
  json_object *v = NULL;
  return o != NULL && json_object_object_get_ex(o, name, &v) ? v : NULL;
}

/* int64 field (decimal string or number); 0 when absent. */
static int64_t jint(json_object *o, const char *name) {
  json_object *v = jfield(o, name);
  return v != NULL ? json_object_get_int64(v) : 0;
}

static bool jbool(json_object *o, const char *name) {
  json_object *v = jfield(o, name);
  return v != NULL && json_object_get_boolean(v);
}

/* Add a base64 bytes field; false on allocation failure. */
static bool jadd_bytes(json_object *o, const char *name, const void *p,
                       size_t n) {
  char *s = b64_encode(p, n);
  json_object *v = s != NULL ? json_object_new_string(s) : NULL;
  free(s);
  return v != NULL && json_object_object_add(o, name, v) == 0;
}

static bool jadd_int(json_object *o, const char *name, int64_t v) {
  char text[24];
  snprintf(text, sizeof text, "%lld", (long long)v);
  json_object *s = json_object_new_string(text);
  return s != NULL && json_object_object_add(o, name, s) == 0;
}

/* ---- keys --------------------------------------------------------------- */

/* A key as etcd sees it: root + user part, length-explicit (may hold NUL). */
typedef struct ekey {
  char data[ETCD_MAX_ROOT_LEN + 2 + CAIRN_META_MAX_KEY_LEN + 2];
  size_t len;
} ekey;

static void ekey_make(const etcd_meta *em, const char *key, ekey *k) {
  size_t n = strlen(key);
  memcpy(k->data, em->root, em->root_len);
  memcpy(k->data + em->root_len, key, n);
  k->len = em->root_len + n;
}

/* The range [start, end) of keys starting with root+prefix. An empty
 * root+prefix gives "\0".."\0", etcd's "every key". */
static void ekey_prefix_range(const etcd_meta *em, const char *prefix,
                              ekey *start, ekey *end) {
  ekey_make(em, prefix, start);
  if (start->len == 0) {
    start->data[0] = '\0', start->len = 1;
    *end = *start;
    return;
  }
  *end = *start;
  end->data[end->len - 1]++; /* printable ASCII: never overflows */
}

static int ekey_cmp(const ekey *a, const ekey *b) {
  size_t n = a->len < b->len ? a->len : b->len;
  int c = memcmp(a->data, b->data, n);
  return c != 0 ? c : (a->len > b->len) - (a->len < b->len);
}

/* ---- HTTP --------------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *user) {
  buf *b = user;
  if (b->len + size * n > ETCD_MAX_BODY || !buf_add(b, p, size * n))
    return 0; /* aborts the transfer */
  return size * n;
}

static CURL *pool_take(etcd_meta *em) {
  CURL *c = NULL;
  pthread_mutex_lock(&em->mu);
  if (em->n_pool > 0)
    c = em->pool[--em->n_pool];
  pthread_mutex_unlock(&em->mu);
  return c != NULL ? c : curl_easy_init();
}

static void pool_give(etcd_meta *em, CURL *c) {
  pthread_mutex_lock(&em->mu);
  if (em->n_pool < ETCD_POOL_MAX) {
    em->pool[em->n_pool++] = c;
    c = NULL;
  }
  pthread_mutex_unlock(&em->mu);
  if (c != NULL)
    curl_easy_cleanup(c);
}

static void curl_common(etcd_meta *em, CURL *c, const char *url) {
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, em->headers);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, em->connect_ms);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 10L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 5L);
}

/* Was the request certainly not delivered (so any request may be retried)? */
static bool never_sent(CURLcode rc) {
  return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
         rc == CURLE_COULDNT_RESOLVE_PROXY;
}

static cairn_status grpc_status(int code, const char *msg) {
  switch (code) {
  case 5:
    return CAIRN_IO_NOT_FOUND;
  case 3:
    return strstr(msg, "too large") ? CAIRN_TOO_LARGE : CAIRN_INVALID_ARGUMENT;
  case 11:
    return CAIRN_INVALID_ARGUMENT;
  case 4:
  case 14:
    return CAIRN_NOT_READY;
  case 8:
    return CAIRN_RATE_LIMIT;
  default:
    return CAIRN_IO;
  }
}

/* An etcd error answer ({error, message, code} or a stream's
 * {"error": {grpc_code, message}}) to a status + message. */
static cairn_status etcd_error(json_object *o, const char *what, long http,
                               int *grpc_code, cairn_error *err) {
  json_object *e = jfield(o, "error");
  const char *msg = "no message";
  int code = 2;
  if (e != NULL && json_object_is_type(e, json_type_object)) {
    code = (int)jint(e, "grpc_code");
    if (jfield(e, "message"))
      msg = json_object_get_string(jfield(e, "message"));
  } else {
    code = (int)jint(o, "code");
    if (jfield(o, "message"))
      msg = json_object_get_string(jfield(o, "message"));
    else if (e != NULL)
      msg = json_object_get_string(e);
  }
  if (grpc_code != NULL)
    *grpc_code = code;
  return cairn_error_set(err, grpc_status(code, msg),
                         "%s: etcd error: %s (grpc code %d, http %ld)", what,
                         msg, code, http);
}

typedef struct attempt_log {
  char text[320];
  size_t len;
} attempt_log;

static void attempt_note(attempt_log *l, const char *url, const char *why) {
  if (l->len < sizeof l->text - 1) {
    int n = snprintf(l->text + l->len, sizeof l->text - l->len, "%s%s: %s",
                     l->len ? "; " : "", url, why);
    l->len = n > 0 ? l->len + (size_t)n : l->len;
    if (l->len > sizeof l->text - 1)
      l->len = sizeof l->text - 1;
  }
}

/* Outcome of one HTTP exchange with one endpoint. */
typedef enum { TRY_DONE, TRY_NEXT, TRY_FAIL } try_result;

/* POST body to one endpoint. TRY_DONE: *out holds the parsed answer (or st
 * an etcd error); TRY_NEXT: transport failure that may be retried
 * elsewhere; TRY_FAIL: failure reported in err. */
static try_result try_endpoint(etcd_meta *em, CURL *c, const char *base,
                               const char *path, const char *body,
                               bool idempotent, const char *what,
                               json_object **out, cairn_status *st,
                               attempt_log *log, cairn_error *err) {
  char url[512];
  snprintf(url, sizeof url, "%s%s", base, path);
  buf resp = {0};
  curl_easy_reset(c);
  curl_common(em, c, url);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, em->timeout_ms);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
  CURLcode rc = curl_easy_perform(c);
  long http = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
  try_result r = TRY_DONE;
  if (rc != CURLE_OK) {
    attempt_note(log, base, curl_easy_strerror(rc));
    if (idempotent || never_sent(rc)) {
      r = TRY_NEXT;
    } else {
      *st = cairn_error_set(err, CAIRN_IO,
                            "%s: outcome unknown, %s%s failed after sending: %s",
                            what, base, path, curl_easy_strerror(rc));
      r = TRY_FAIL;
    }
  } else {
    json_object *o = json_tokener_parse(resp.data ? resp.data : "");
    if (o == NULL || !json_object_is_type(o, json_type_object)) {
      *st = cairn_error_set(err, http == 200 ? CAIRN_CORRUPT : CAIRN_IO,
                            "%s: %s%s answered HTTP %ld with no JSON object: "
                            "%.120s",
                            what, base, path, http, resp.data ? resp.data : "");
      json_object_put(o);
      r = TRY_FAIL;
    } else if (http != 200 || jfield(o, "error") != NULL) {
      int code = 0;
      *st = etcd_error(o, what, http, &code, err);
      json_object_put(o);
      /* no leader yet / endpoint unavailable: another member may answer */
      r = code == 14 && idempotent ? TRY_NEXT : TRY_FAIL;
      if (r == TRY_NEXT)
        attempt_note(log, base, err ? err->message : "unavailable");
    } else {
      *out = o;
      *st = CAIRN_OK;
    }
  }
  free(resp.data);
  return r;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* POST `req` (consumed) to `path`, trying endpoints as described at the top.
 * On CAIRN_OK *out is the answer object (caller puts it). */
static cairn_status etcd_post(etcd_meta *em, const char *what, const char *path,
                              json_object *req, bool idempotent,
                              json_object **out, cairn_error *err) {
  *out = NULL;
  if (req == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, "%s: out of memory", what);
  const char *body = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
  CURL *c = pool_take(em);
  if (body == NULL || c == NULL) {
    json_object_put(req);
    if (c != NULL)
      curl_easy_cleanup(c);
    return cairn_error_set(err, CAIRN_NOMEM, "%s: out of memory", what);
  }
  attempt_log log = {.len = 0};
  cairn_status st = CAIRN_NOT_READY;
  size_t first = atomic_load(&em->preferred) % em->n_endpoints;
  int rounds = idempotent ? ETCD_READ_ROUNDS : 1;
  try_result r = TRY_NEXT;
  for (int round = 0; round < rounds && r == TRY_NEXT; round++) {
    if (round > 0)
      sleep_ms(100);
    for (size_t i = 0; i < em->n_endpoints && r == TRY_NEXT; i++) {
      size_t e = (first + i) % em->n_endpoints;
      r = try_endpoint(em, c, em->endpoints[e], path, body, idempotent, what,
                       out, &st, &log, err);
      if (r == TRY_DONE)
        atomic_store(&em->preferred, e);
    }
  }
  if (r == TRY_NEXT)
    st = cairn_error_set(err, CAIRN_NOT_READY, "%s: etcd unreachable (%s)",
                         what, log.text);
  pool_give(em, c);
  json_object_put(req);
  return st;
}

/* ---- key-values --------------------------------------------------------- */

/* Fill dst from an etcd KeyValue object, stripping the root prefix. */
static cairn_status kv_from_json(const etcd_meta *em, json_object *o,
                                 cairn_meta_kv *dst, cairn_error *err) {
  memset(dst, 0, sizeof *dst);
  json_object *k = jfield(o, "key"), *v = jfield(o, "value");
  uint8_t *key = NULL, *val = NULL;
  size_t klen = 0, vlen = 0;
  if (k == NULL || !b64_decode(json_object_get_string(k), &key, &klen) ||
      !b64_decode(v ? json_object_get_string(v) : "", &val, &vlen) ||
      klen < em->root_len || memcmp(key, em->root, em->root_len) != 0) {
    free(key);
    free(val);
    return cairn_error_set(err, CAIRN_CORRUPT,
                           "etcd: undecodable key-value or key outside root '%s'",
                           em->root);
  }
  memmove(key, key + em->root_len, klen - em->root_len + 1);
  dst->key = (char *)key;
  dst->key_len = klen - em->root_len;
  dst->value = val;
  dst->value_len = vlen;
  dst->create_revision = jint(o, "create_revision");
  dst->mod_revision = jint(o, "mod_revision");
  dst->version = jint(o, "version");
  dst->lease = jint(o, "lease");
  return CAIRN_OK;
}

static json_object *range_request(const ekey *start, const ekey *end,
                                  int64_t limit, int64_t revision) {
  json_object *req = json_object_new_object();
  bool ok = req != NULL && jadd_bytes(req, "key", start->data, start->len);
  if (ok && end != NULL)
    ok = jadd_bytes(req, "range_end", end->data, end->len);
  if (ok && limit > 0)
    ok = jadd_int(req, "limit", limit);
  if (ok && revision > 0)
    ok = jadd_int(req, "revision", revision);
  if (!ok) {
    json_object_put(req);
    return NULL;
  }
  return req;
}

static cairn_status etcd_get(cairn_meta *m, const char *key, cairn_meta_kv *out,
                             cairn_error *err) {
  etcd_meta *em = (etcd_meta *)m;
  ekey k;
  ekey_make(em, key, &k);
  json_object *resp;
  cairn_status st = etcd_post(em, "meta get", "/v3/kv/range",
                              range_request(&k, NULL, 0, 0), true, &resp, err);
  if (st != CAIRN_OK)
    return st;
  json_object *kvs = jfield(resp, "kvs");
  if (kvs == NULL || json_object_array_length(kvs) == 0)
    st = cairn_error_set(err, CAIRN_IO_NOT_FOUND, "meta get: key '%s' not found",
                         key);
  else
    st = kv_from_json(em, json_object_array_get_idx(kvs, 0), out, err);
  json_object_put(resp);
  return st;
}

static cairn_status kvs_from_json(const etcd_meta *em, json_object *resp,
                                  cairn_meta_kvs *out, cairn_error *err) {
  json_object *kvs = jfield(resp, "kvs");
  size_t n = kvs != NULL ? json_object_array_length(kvs) : 0;
  out->revision = jint(jfield(resp, "header"), "revision");
  out->more = jbool(resp, "more");
  if (n == 0)
    return CAIRN_OK;
  out->items = calloc(n, sizeof *out->items);
  if (out->items == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, "meta range: out of memory");
  for (size_t i = 0; i < n; i++) {
    cairn_status st =
        kv_from_json(em, json_object_array_get_idx(kvs, i), &out->items[i], err);
    if (st != CAIRN_OK) {
      cairn_meta_kvs_free(out);
      return st;
    }
    out->count = i + 1;
  }
  return CAIRN_OK;
}

static cairn_status etcd_revision(cairn_meta *m, int64_t *out, cairn_error *err);

static cairn_status etcd_range(cairn_meta *m, const char *prefix,
                               const char *after, size_t limit,
                               cairn_meta_kvs *out, cairn_error *err) {
  etcd_meta *em = (etcd_meta *)m;
  ekey start, end;
  ekey_prefix_range(em, prefix, &start, &end);
  if (after != NULL) {
    ekey a;
    ekey_make(em, after, &a);
    a.data[a.len++] = '\0'; /* smallest key strictly greater than `after` */
    if (ekey_cmp(&a, &start) > 0)
      start = a;
    bool open_end = end.len == 1 && end.data[0] == '\0';
    if (!open_end && ekey_cmp(&start, &end) >= 0) /* nothing left */
      return etcd_revision(m, &out->revision, err);
  }
  json_object *resp;
  cairn_status st =
      etcd_post(em, "meta range", "/v3/kv/range",
                range_request(&start, &end, (int64_t)limit, 0), true, &resp, err);
  if (st != CAIRN_OK)
    return st;
  st = kvs_from_json(em, resp, out, err);
  json_object_put(resp);
  return st;
}

static cairn_status etcd_revision(cairn_meta *m, int64_t *out, cairn_error *err) {
  etcd_meta *em = (etcd_meta *)m;
  ekey k;
  ekey_make(em, "", &k);
  if (k.len == 0)
    k.data[0] = '\0', k.len = 1;
  json_object *req = range_request(&k, NULL, 0, 0), *resp;
  if (req != NULL)
    json_object_object_add(req, "count_only", json_object_new_boolean(1));
  cairn_status st = etcd_post(em, "meta revision", "/v3/kv/range", req, true,
                              &resp, err);
  if (st != CAIRN_OK)
    return st;
  *out = jint(jfield(resp, "header"), "revision");
  json_object_put(resp);
  return CAIRN_OK;
}

/* ---- transactions ------------------------------------------------------- */

static const char *const cmp_targets[] = {"MOD", "CREATE", "VERSION", "VALUE"};
static const char *const cmp_fields[] = {"mod_revision", "create_revision",
                                         "version", "value"};
static const char *const cmp_results[] = {"EQUAL", "NOT_EQUAL", "LESS",
                                          "GREATER"};

static json_object *compare_json(const etcd_meta *em, const cairn_meta_cmp *c) {
  json_object *o = json_object_new_object();
  ekey k;
  ekey_make(em, c->key, &k);
  bool ok = o != NULL && jadd_bytes(o, "key", k.data, k.len) &&
            json_object_object_add(o, "target",
                                   json_object_new_string(cmp_targets[c->target])) == 0 &&
            json_object_object_add(o, "result",
                                   json_object_new_string(cmp_results[c->op])) == 0;
  if (ok && c->target == CAIRN_META_CMP_VALUE)
    ok = jadd_bytes(o, "value", c->value, c->value_len);
  else if (ok)
    ok = jadd_int(o, cmp_fields[c->target], c->revision);
  if (!ok) {
    json_object_put(o);
    return NULL;
  }
  return o;
}

static json_object *op_json(const etcd_meta *em, const cairn_meta_op *op) {
  json_object *o = json_object_new_object(), *inner = json_object_new_object();
  ekey k, end;
  bool ok = o != NULL && inner != NULL;
  if (ok && op->type == CAIRN_META_OP_PUT) {
    ekey_make(em, op->key, &k);
    ok = jadd_bytes(inner, "key", k.data, k.len) &&
         jadd_bytes(inner, "value", op->value, op->value_len) &&
         (op->lease == 0 || jadd_int(inner, "lease", op->lease));
  } else if (ok) {
    if (op->type == CAIRN_META_OP_DELETE)
      ekey_make(em, op->key, &k);
    else
      ekey_prefix_range(em, op->key, &k, &end);
    ok = jadd_bytes(inner, "key", k.data, k.len) &&
         (op->type == CAIRN_META_OP_DELETE ||
          jadd_bytes(inner, "range_end", end.data, end.len));
  }
  const char *name = op->type == CAIRN_META_OP_PUT ? "request_put"
                                                   : "request_delete_range";
  if (ok && json_object_object_add(o, name, inner) == 0)
    return o;
  json_object_put(inner);
  json_object_put(o);
  return NULL;
}

/* Append the JSON of n items (built by make) to a new array field. */
static bool add_array(json_object *req, const char *name, size_t n,
                      json_object *(*make)(const etcd_meta *, const void *),
                      const etcd_meta *em, const void *items, size_t size) {
  json_object *arr = json_object_new_array();
  if (arr == NULL || json_object_object_add(req, name, arr) != 0) {
    json_object_put(arr);
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    json_object *o = make(em, (const char *)items + i * size);
    if (o == NULL || json_object_array_add(arr, o) != 0) {
      json_object_put(o);
      return false;
    }
  }
  return true;
}

static json_object *make_cmp(const etcd_meta *em, const void *p) {
  return compare_json(em, p);
}
static json_object *make_op(const etcd_meta *em, const void *p) {
  return op_json(em, p);
}

static json_object *txn_request(const etcd_meta *em, const cairn_meta_txn *t) {
  json_object *req = json_object_new_object();
  if (req == NULL ||
      !add_array(req, "compare", t->n_compares, make_cmp, em, t->compares,
                 sizeof *t->compares) ||
      !add_array(req, "success", t->n_success, make_op, em, t->success,
                 sizeof *t->success) ||
      !add_array(req, "failure", t->n_failure, make_op, em, t->failure,
                 sizeof *t->failure)) {
    json_object_put(req);
    return NULL;
  }
  return req;
}

/* A "lease not found" from etcd does not say which lease: name the ones the
 * txn used, so the caller can tell. */
static void name_leases(const cairn_meta_txn *t, cairn_error *err) {
  if (err == NULL)
    return;
  size_t len = strlen(err->message);
  for (int b = 0; b < 2; b++) {
    const cairn_meta_op *ops = b ? t->failure : t->success;
    size_t n = b ? t->n_failure : t->n_success;
    for (size_t i = 0; i < n && len < sizeof err->message - 32; i++)
      if (ops[i].type == CAIRN_META_OP_PUT && ops[i].lease != 0) {
        int w = snprintf(err->message + len, sizeof err->message - len,
                         " [lease %lld on '%.40s']", (long long)ops[i].lease,
                         ops[i].key);
        len += w > 0 ? (size_t)w : 0;
      }
  }
}

static cairn_status etcd_txn(cairn_meta *m, const cairn_meta_txn *t,
                             cairn_meta_txn_result *out, cairn_error *err) {
  etcd_meta *em = (etcd_meta *)m;
  json_object *resp;
  cairn_status st = etcd_post(em, "meta txn", "/v3/kv/txn", txn_request(em, t),
                              false, &resp, err);
  if (st == CAIRN_IO_NOT_FOUND)
    name_leases(t, err);
  if (st != CAIRN_OK)
    return st;
  out->succeeded = jbool(resp, "succeeded");
  out->revision = jint(jfield(resp, "header"), "revision");
  json_object *rs = jfield(resp, "responses");
  size_t n = rs != NULL ? json_object_array_length(rs) : 0;
  for (size_t i = 0; i < n; i++) {
    json_object *d = jfield(json_object_array_get_idx(rs, i),
                            "response_delete_range");
    out->deleted += (size_t)jint(d, "deleted");
  }
  json_object_put(resp);
  return CAIRN_OK;
}

/* ---- leases ------------------------------------------------------------- */

static json_object *id_request(const char *field, int64_t v) {
  json_object *req = json_object_new_object();
  if (req != NULL && !jadd_int(req, field, v)) {
    json_object_put(req);
    return NULL;
  }
  return req;
}

static cairn_status etcd_lease_grant(cairn_meta *m, int64_t ttl, int64_t *id,
                                     cairn_error *err) {
  etcd_meta *em = (etcd_meta *)m;
  json_object *resp;
  cairn_status st = etcd_post(em, "lease grant", "/v3/lease/grant",
                              id_request("TTL", ttl), false, &resp, err);
  if (st != CAIRN_OK)
    return st;
  *id = jint(resp, "ID");
  json_object_put(resp);
  if (*id <= 0)
    return cairn_error_set(err, CAIRN_IO, "lease grant: etcd returned no id");
  return CAIRN_OK;
}

static cairn_status etcd_lease_keepalive(cairn_meta *m, int64_t id,
                                         cairn_error *err) {
  etcd_meta *em = (etcd_meta *)m;
  json_object *resp;
  cairn_status st = etcd_post(em, "lease keepalive", "/v3/lease/keepalive",
                              id_request("ID", id), true, &resp, err);
  if (st != CAIRN_OK)
    return st;
  int64_t ttl = jint(jfield(resp, "result"), "TTL");
  json_object_put(resp);
  if (ttl <= 0)
    return cairn_error_set(err, CAIRN_IO_NOT_FOUND,
                           "lease keepalive: lease %lld not found or expired",
                           (long long)id);
  return CAIRN_OK;
}

static cairn_status etcd_lease_revoke(cairn_meta *m, int64_t id,
                                      cairn_error *err) {
  etcd_meta *em = (etcd_meta *)m;
  json_object *resp;
  cairn_status st = etcd_post(em, "lease revoke", "/v3/lease/revoke",
                              id_request("ID", id), false, &resp, err);
  if (st == CAIRN_IO_NOT_FOUND)
    return cairn_error_set(err, CAIRN_IO_NOT_FOUND,
                           "lease revoke: lease %lld not found", (long long)id);
  if (st == CAIRN_OK)
    json_object_put(resp);
  return st;
}

/* ---- watch -------------------------------------------------------------- */

typedef enum {
  W_STARTING, /* first connection not confirmed yet */
  W_RUNNING,  /* etcd confirmed the watch once */
  W_FAILED,   /* the first connection failed; start_err says why */
} watch_state;

/* Why one streaming connection ended. */
typedef enum { S_BROKEN, S_CANCELLED, S_COMPACTED } stream_end;

struct cairn_meta_watch {
  etcd_meta *em;
  ekey start, end;             /* the etcd range watched */
  cairn_meta_watch_fn fn;
  void *user;
  pthread_t thread;
  atomic_bool cancelled;
  CURLM *multi;                /* owned; woken by cancel */
  /* Watch-thread only: */
  CURL *easy;
  json_tokener *tok;
  int64_t next_rev;            /* first revision not delivered yet */
  bool confirmed;              /* this connection got created:true */
  stream_end why;              /* set by the message handler */
  char stream_err[200];
  /* Under mu: */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  watch_state state;
  cairn_error start_err;
  struct cairn_meta_watch *next; /* em->watches or em->reaped; under em->mu */
};

static void watch_set_state(cairn_meta_watch *w, watch_state s) {
  pthread_mutex_lock(&w->mu);
  if (w->state == W_STARTING)
    w->state = s;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

static watch_state watch_get_state(cairn_meta_watch *w) {
  pthread_mutex_lock(&w->mu);
  watch_state s = w->state;
  pthread_mutex_unlock(&w->mu);
  return s;
}

static void deliver(cairn_meta_watch *w, cairn_meta_event *ev) {
  if (!atomic_load(&w->cancelled))
    w->fn(ev, w->user);
}

static void deliver_lost(cairn_meta_watch *w) {
  cairn_meta_event ev = {.type = CAIRN_META_EVENT_LOST};
  ev.kv.key = (char *)"";
  ev.kv.value = (uint8_t *)"";
  ev.kv.mod_revision = w->next_rev;
  deliver(w, &ev);
}

/* Deliver the events of one WatchResponse, in order. */
static void deliver_events(cairn_meta_watch *w, json_object *events) {
  size_t n = json_object_array_length(events);
  /* A response holds whole revisions; after a resume etcd starts at
   * next_rev, so anything older is a repeat (cannot happen, but cheap). */
  int64_t floor = w->next_rev;
  for (size_t i = 0; i < n && !atomic_load(&w->cancelled); i++) {
    json_object *e = json_object_array_get_idx(events, i);
    cairn_meta_event ev = {.type = CAIRN_META_EVENT_PUT};
    json_object *type = jfield(e, "type");
    if (type != NULL && strcmp(json_object_get_string(type), "DELETE") == 0)
      ev.type = CAIRN_META_EVENT_DELETE;
    if (kv_from_json(w->em, jfield(e, "kv"), &ev.kv, NULL) != CAIRN_OK)
      continue; /* not ours (cannot happen: the range is under root) */
    if (ev.type == CAIRN_META_EVENT_DELETE)
      ev.kv.create_revision = ev.kv.version = ev.kv.lease = 0;
    if (ev.kv.mod_revision >= floor) {
      if (ev.kv.mod_revision >= w->next_rev)
        w->next_rev = ev.kv.mod_revision + 1;
      deliver(w, &ev);
    }
    cairn_meta_kv_clear(&ev.kv);
  }
}

/* Handle one streamed object; false ends the connection (w->why says why). */
static bool on_watch_message(cairn_meta_watch *w, json_object *o) {
  json_object *r = jfield(o, "result");
  if (r == NULL) {
    cairn_error e;
    etcd_error(o, "meta watch", 200, NULL, &e);
    snprintf(w->stream_err, sizeof w->stream_err, "%.190s", e.message);
    w->why = S_BROKEN;
    return false;
  }
  if (jint(r, "compact_revision") > 0) {
    w->why = S_COMPACTED;
    return false;
  }
  if (jbool(r, "canceled")) {
    json_object *reason = jfield(r, "cancel_reason");
    snprintf(w->stream_err, sizeof w->stream_err, "etcd cancelled the watch: %s",
             reason ? json_object_get_string(reason) : "no reason given");
    w->why = S_BROKEN;
    return false;
  }
  if (jbool(r, "created")) {
    w->confirmed = true;
    watch_set_state(w, W_RUNNING);
  }
  json_object *events = jfield(r, "events");
  if (events != NULL && json_object_is_type(events, json_type_array))
    deliver_events(w, events);
  return true;
}

/* curl write callback of the stream: split the body into JSON objects. */
static size_t on_watch_body(char *p, size_t size, size_t n, void *user) {
  cairn_meta_watch *w = user;
  size_t len = size * n, off = 0;
  while (off < len && !atomic_load(&w->cancelled)) {
    json_object *o = json_tokener_parse_ex(w->tok, p + off, (int)(len - off));
    enum json_tokener_error je = json_tokener_get_error(w->tok);
    if (je == json_tokener_continue)
      return len; /* the rest of this object comes in a later chunk */
    if (je != json_tokener_success) {
      snprintf(w->stream_err, sizeof w->stream_err, "bad JSON in watch stream: %s",
               json_tokener_error_desc(je));
      w->why = S_BROKEN;
      return 0;
    }
    off += json_tokener_get_parse_end(w->tok);
    json_tokener_reset(w->tok);
    bool go_on = on_watch_message(w, o);
    json_object_put(o);
    if (!go_on)
      return 0;
  }
  return atomic_load(&w->cancelled) ? 0 : len;
}

static char *watch_body(cairn_meta_watch *w) {
  json_object *req = json_object_new_object(), *cr = json_object_new_object();
  char *body = NULL;
  if (req != NULL && cr != NULL && json_object_object_add(req, "create_request", cr) == 0) {
    cr = NULL;
    json_object *c = jfield(req, "create_request");
    if (jadd_bytes(c, "key", w->start.data, w->start.len) &&
        jadd_bytes(c, "range_end", w->end.data, w->end.len) &&
        jadd_int(c, "start_revision", w->next_rev)) {
      const char *s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
      body = s != NULL ? strdup(s) : NULL;
    }
  }
  json_object_put(cr);
  json_object_put(req);
  return body;
}

/* One streaming connection to one endpoint, until it ends. */
static stream_end watch_stream_once(cairn_meta_watch *w, const char *base) {
  char url[512];
  snprintf(url, sizeof url, "%s/v3/watch", base);
  char *body = watch_body(w);
  if (body == NULL) {
    snprintf(w->stream_err, sizeof w->stream_err, "out of memory");
    return S_BROKEN;
  }
  w->why = S_BROKEN, w->confirmed = false, w->stream_err[0] = '\0';
  json_tokener_reset(w->tok);
  curl_easy_reset(w->easy);
  curl_common(w->em, w->easy, url);
  curl_easy_setopt(w->easy, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(w->easy, CURLOPT_WRITEFUNCTION, on_watch_body);
  curl_easy_setopt(w->easy, CURLOPT_WRITEDATA, w);
  curl_multi_add_handle(w->multi, w->easy);
  int running = 1;
  while (running && !atomic_load(&w->cancelled)) {
    if (curl_multi_perform(w->multi, &running) != CURLM_OK)
      break;
    if (running)
      curl_multi_poll(w->multi, NULL, 0, 1000, NULL);
  }
  int left;
  CURLMsg *msg;
  while ((msg = curl_multi_info_read(w->multi, &left)) != NULL)
    if (msg->msg == CURLMSG_DONE && w->stream_err[0] == '\0')
      snprintf(w->stream_err, sizeof w->stream_err, "%s: %s", base,
               msg->data.result == CURLE_OK ? "stream ended"
                                            : curl_easy_strerror(msg->data.result));
  curl_multi_remove_handle(w->multi, w->easy);
  free(body);
  return atomic_load(&w->cancelled) ? S_CANCELLED : w->why;
}

/* Sleep up to ms, waking early on cancel. */
static void watch_pause(cairn_meta_watch *w, long ms) {
  long until = cairn_monotonic_ms() + ms;
  while (!atomic_load(&w->cancelled) && cairn_monotonic_ms() < until)
    curl_multi_poll(w->multi, NULL, 0, (int)(until - cairn_monotonic_ms()), NULL);
}

static void watch_fail_start(cairn_meta_watch *w) {
  pthread_mutex_lock(&w->mu);
  cairn_error_set(&w->start_err, CAIRN_NOT_READY,
                  "meta watch: could not open the stream: %s", w->stream_err);
  pthread_mutex_unlock(&w->mu);
  watch_set_state(w, W_FAILED);
}

static void *watch_main(void *arg) {
  cairn_meta_watch *w = arg;
  etcd_meta *em = w->em;
  size_t e = atomic_load(&em->preferred) % em->n_endpoints;
  size_t failures = 0; /* connections in a row that were never confirmed */
  long broken_since = cairn_monotonic_ms(), backoff = 100;
  for (;;) {
    stream_end why = watch_stream_once(w, em->endpoints[e]);
    if (why == S_CANCELLED)
      break;
    if (why == S_COMPACTED) {
      watch_set_state(w, W_RUNNING);
      deliver_lost(w);
      break;
    }
    if (w->confirmed)
      failures = 0, broken_since = cairn_monotonic_ms(), backoff = 100;
    else
      failures++;
    if (failures >= em->n_endpoints && watch_get_state(w) == W_STARTING) {
      watch_fail_start(w);
      break;
    }
    if (em->watch_retry_ms > 0 && cairn_monotonic_ms() - broken_since > em->watch_retry_ms) {
      deliver_lost(w);
      break;
    }
    e = (e + 1) % em->n_endpoints;
    if (failures >= em->n_endpoints) { /* a full round failed: back off */
      watch_pause(w, backoff);
      backoff = backoff * 2 > 1000 ? 1000 : backoff * 2;
    }
  }
  return NULL;
}

static void watch_free(cairn_meta_watch *w) {
  if (w == NULL)
    return;
  if (w->multi != NULL)
    curl_multi_cleanup(w->multi);
  if (w->easy != NULL)
    curl_easy_cleanup(w->easy);
  if (w->tok != NULL)
    json_tokener_free(w->tok);
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->cv);
  free(w);
}

/* Join and free watches that cancelled themselves. */
static void reap_watches(etcd_meta *em) {
  pthread_mutex_lock(&em->mu);
  cairn_meta_watch *list = em->reaped;
  em->reaped = NULL;
  pthread_mutex_unlock(&em->mu);
  while (list != NULL) {
    cairn_meta_watch *next = list->next;
    pthread_join(list->thread, NULL);
    watch_free(list);
    list = next;
  }
}

/* from_revision > 0: refuse a compacted revision up front. */
static cairn_status check_compacted(etcd_meta *em, int64_t rev, cairn_error *err) {
  ekey k;
  ekey_make(em, "", &k);
  if (k.len == 0)
    k.data[0] = '\0', k.len = 1;
  json_object *resp;
  cairn_error e;
  cairn_status st = etcd_post(em, "meta watch", "/v3/kv/range",
                              range_request(&k, NULL, 1, rev), true, &resp, &e);
  if (st == CAIRN_OK) {
    json_object_put(resp);
    return CAIRN_OK;
  }
  if (strstr(e.message, "future revision") != NULL)
    return CAIRN_OK;
  if (strstr(e.message, "compacted") != NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "meta watch: revision %lld is compacted (%s)",
                           (long long)rev, e.message);
  if (err != NULL)
    *err = e;
  return st;
}

static cairn_status watch_new(etcd_meta *em, const char *prefix, int64_t from,
                              cairn_meta_watch_fn fn, void *user,
                              cairn_meta_watch **out, cairn_error *err) {
  cairn_meta_watch *w = calloc(1, sizeof *w);
  if (w == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, "meta watch: out of memory");
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  w->em = em, w->fn = fn, w->user = user, w->next_rev = from;
  ekey_prefix_range(em, prefix, &w->start, &w->end);
  w->multi = curl_multi_init();
  w->easy = curl_easy_init();
  w->tok = json_tokener_new();
  if (w->multi == NULL || w->easy == NULL || w->tok == NULL) {
    watch_free(w);
    return cairn_error_set(err, CAIRN_NOMEM, "meta watch: out of memory");
  }
  *out = w;
  return CAIRN_OK;
}

/* Wait until etcd confirmed the watch or the first connection failed. */
static watch_state watch_wait_started(cairn_meta_watch *w, cairn_error *err) {
  long ms = w->em->timeout_ms + w->em->connect_ms * (long)w->em->n_endpoints;
  struct timespec dl = cairn_deadline_in(CLOCK_REALTIME, ms);
  pthread_mutex_lock(&w->mu);
  while (w->state == W_STARTING &&
         pthread_cond_timedwait(&w->cv, &w->mu, &dl) == 0) {
  }
  watch_state s = w->state;
  if (s == W_FAILED && err != NULL)
    *err = w->start_err;
  else if (s == W_STARTING)
    cairn_error_set(err, CAIRN_NOT_READY,
                    "meta watch: etcd did not confirm the watch within %ld ms", ms);
  pthread_mutex_unlock(&w->mu);
  return s;
}

static cairn_status etcd_watch(cairn_meta *m, const char *prefix, int64_t from,
                               cairn_meta_watch_fn fn, void *user,
                               cairn_meta_watch **out, cairn_error *err) {
  etcd_meta *em = (etcd_meta *)m;
  reap_watches(em);
  cairn_status st;
  if (from == 0) {
    st = etcd_revision(m, &from, err);
    from++;
  } else {
    st = check_compacted(em, from, err);
  }
  cairn_meta_watch *w = NULL;
  if (st == CAIRN_OK)
    st = watch_new(em, prefix, from, fn, user, &w, err);
  if (st != CAIRN_OK)
    return st;
  if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
    watch_free(w);
    return cairn_error_set(err, CAIRN_INTERNAL, "meta watch: cannot start thread");
  }
  if (watch_wait_started(w, err) != W_RUNNING) {
    atomic_store(&w->cancelled, true);
    curl_multi_wakeup(w->multi);
    pthread_join(w->thread, NULL);
    watch_free(w);
    return err != NULL ? err->status : CAIRN_NOT_READY;
  }
  pthread_mutex_lock(&em->mu);
  w->next = em->watches;
  em->watches = w;
  pthread_mutex_unlock(&em->mu);
  *out = w;
  return CAIRN_OK;
}

/* Unlink w from em->watches; true if it was there. Caller holds em->mu. */
static bool unlink_watch_nolock(etcd_meta *em, cairn_meta_watch *w) {
  for (cairn_meta_watch **p = &em->watches; *p != NULL; p = &(*p)->next)
    if (*p == w) {
      *p = w->next;
      return true;
    }
  return false;
}

static void etcd_watch_cancel(cairn_meta *m, cairn_meta_watch *w) {
  etcd_meta *em = (etcd_meta *)m;
  pthread_mutex_lock(&em->mu);
  bool found = unlink_watch_nolock(em, w);
  bool own_thread = found && pthread_equal(pthread_self(), w->thread);
  if (own_thread) { /* joined later by reap_watches or close */
    w->next = em->reaped;
    em->reaped = w;
  }
  pthread_mutex_unlock(&em->mu);
  if (!found)
    return;
  atomic_store(&w->cancelled, true);
  curl_multi_wakeup(w->multi);
  if (!own_thread) {
    pthread_join(w->thread, NULL);
    watch_free(w);
  }
}

/* ---- open / close ------------------------------------------------------- */

static void etcd_close(cairn_meta *m) {
  etcd_meta *em = (etcd_meta *)m;
  for (;;) {
    pthread_mutex_lock(&em->mu);
    cairn_meta_watch *w = em->watches;
    pthread_mutex_unlock(&em->mu);
    if (w == NULL)
      break;
    etcd_watch_cancel(m, w);
  }
  reap_watches(em);
  for (size_t i = 0; i < em->n_pool; i++)
    curl_easy_cleanup(em->pool[i]);
  for (size_t i = 0; i < em->n_endpoints; i++)
    free(em->endpoints[i]);
  curl_slist_free_all(em->headers);
  pthread_mutex_destroy(&em->mu);
  free(em);
}

static cairn_status add_endpoint(etcd_meta *em, const char *text, size_t n,
                                 cairn_error *err) {
  while (n > 0 && (*text == ' ' || *text == '\t'))
    text++, n--;
  while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '/' || text[n - 1] == '\t'))
    n--;
  if (n == 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "etcd location: empty endpoint");
  if (em->n_endpoints == ETCD_MAX_ENDPOINTS)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "etcd location: more than %d endpoints",
                           ETCD_MAX_ENDPOINTS);
  if (n > 400)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "etcd location: endpoint too long");
  bool has_scheme = memmem(text, n, "://", 3) != NULL;
  char *e = malloc(n + 8);
  if (e == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, "etcd location: out of memory");
  snprintf(e, n + 8, "%s%.*s", has_scheme ? "" : "http://", (int)n, text);
  em->endpoints[em->n_endpoints++] = e;
  return CAIRN_OK;
}

static cairn_status parse_ms(const char *name, const char *v, long min,
                             long *out, cairn_error *err) {
  char *end;
  long x = strtol(v, &end, 10);
  if (*v == '\0' || *end != '\0' || x < min || x > 600000)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "etcd location: %s=%s is not a number of ms in "
                           "%ld..600000",
                           name, v, min);
  *out = x;
  return CAIRN_OK;
}

static cairn_status set_root(etcd_meta *em, const char *v, cairn_error *err) {
  size_t n = strlen(v);
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)
      n = ETCD_MAX_ROOT_LEN + 1;
  if (n > ETCD_MAX_ROOT_LEN)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "etcd location: root must be printable ASCII of at "
                           "most %d bytes",
                           ETCD_MAX_ROOT_LEN);
  memcpy(em->root, v, n);
  if (n > 0 && v[n - 1] != '/')
    em->root[n++] = '/';
  em->root[n] = '\0';
  em->root_len = n;
  return CAIRN_OK;
}

static cairn_status parse_option(etcd_meta *em, char *opt, cairn_error *err) {
  char *eq = strchr(opt, '=');
  if (eq == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "etcd location: option '%s' is not NAME=VALUE", opt);
  *eq = '\0';
  const char *v = eq + 1;
  if (strcmp(opt, "root") == 0)
    return set_root(em, v, err);
  if (strcmp(opt, "timeout") == 0)
    return parse_ms(opt, v, 100, &em->timeout_ms, err);
  if (strcmp(opt, "connect_timeout") == 0)
    return parse_ms(opt, v, 10, &em->connect_ms, err);
  if (strcmp(opt, "watch_retry") == 0)
    return parse_ms(opt, v, 0, &em->watch_retry_ms, err);
  return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                         "etcd location: unknown option '%s' (known: root, "
                         "timeout, connect_timeout, watch_retry)",
                         opt);
}

static cairn_status parse_location(etcd_meta *em, const char *location,
                                   cairn_error *err) {
  char *copy = strdup(location);
  if (copy == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, "etcd location: out of memory");
  char *opts = strchr(copy, ';');
  if (opts != NULL)
    *opts++ = '\0';
  cairn_status st = CAIRN_OK;
  for (const char *p = copy; st == CAIRN_OK;) {
    const char *comma = strchr(p, ',');
    st = add_endpoint(em, p, comma ? (size_t)(comma - p) : strlen(p), err);
    if (comma == NULL)
      break;
    p = comma + 1;
  }
  char *save = NULL;
  for (char *o = opts ? strtok_r(opts, ";", &save) : NULL;
       st == CAIRN_OK && o != NULL; o = strtok_r(NULL, ";", &save))
    st = parse_option(em, o, err);
  free(copy);
  return st;
}

static cairn_status etcd_open(const char *location, cairn_meta **out,
                              cairn_error *err) {
  pthread_once(&curl_once, curl_init_once);
  etcd_meta *em = calloc(1, sizeof *em);
  if (em == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, "etcd open: out of memory");
  em->base.vt = &cairn_meta_etcd_vtable;
  em->timeout_ms = ETCD_DEFAULT_TIMEOUT_MS;
  em->connect_ms = ETCD_DEFAULT_CONNECT_MS;
  em->watch_retry_ms = ETCD_DEFAULT_WATCH_RETRY_MS;
  pthread_mutex_init(&em->mu, NULL);
  cairn_status st = parse_location(em, location, err);
  if (st == CAIRN_OK) {
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    em->headers = h ? curl_slist_append(h, "Expect:") : NULL;
    if (em->headers == NULL) {
      curl_slist_free_all(h);
      st = cairn_error_set(err, CAIRN_NOMEM, "etcd open: out of memory");
    }
  }
  if (st != CAIRN_OK) {
    etcd_close(&em->base);
    return st;
  }
  *out = &em->base;
  return CAIRN_OK;
}

const cairn_meta_vtable cairn_meta_etcd_vtable = {
    .name = "etcd",
    .open = etcd_open,
    .close = etcd_close,
    .get = etcd_get,
    .range = etcd_range,
    .txn = etcd_txn,
    .revision = etcd_revision,
    .watch = etcd_watch,
    .watch_cancel = etcd_watch_cancel,
    .lease_grant = etcd_lease_grant,
    .lease_keepalive = etcd_lease_keepalive,
    .lease_revoke = etcd_lease_revoke,
};

/* ---- configuration ------------------------------------------------------ */

cairn_status cairn_meta_etcd_location(const cairn_config *cfg, char **out,
                                      cairn_error *err) {
  *out = NULL;
  const char *eps = cairn_config_string(cfg, "etcd.endpoints");
  const char *root = cairn_config_string(cfg, "etcd.rootPath");
  eps = eps ? eps : "";
  root = root ? root : "";
  if (strchr(eps, ';') || strchr(root, ';'))
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "etcd.endpoints / etcd.rootPath may not hold ';'");
  if (strspn(eps, " ,\t") == strlen(eps))
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "etcd.endpoints is empty");
  size_t n = strlen(eps) + strlen(root) + 8;
  *out = malloc(n);
  if (*out == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, "etcd location: out of memory");
  snprintf(*out, n, "%s;root=%s", eps, root);
  return CAIRN_OK;
}
