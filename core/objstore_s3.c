/*
 * objstore_s3.c — the "s3" object store backend (objstore_s3.h): objects
 * are S3 objects "ROOT/KEY" in one bucket, reached over HTTP(S) with
 * libcurl; every request is signed with AWS Signature Version 4.
 *
 * Requests (path-style URLs shown; virtual-host style moves BUCKET into the
 * host name):
 *   put     PUT    /BUCKET/ROOT/KEY                       body = the bytes
 *   get     GET    /BUCKET/ROOT/KEY   Range: bytes=A-B    (no Range for a
 *           whole object; 206 = the range, 200 = a server that ignored the
 *           range: cut here, 416 = offset at/past the end: empty result)
 *   stat    HEAD   /BUCKET/ROOT/KEY   (Content-Length)
 *   remove  DELETE /BUCKET/ROOT/KEY   (404 counts as done)
 *   list    GET    /BUCKET?continuation-token=&list-type=2&max-keys=
 *                  &prefix=ROOT/PREFIX&start-after=ROOT/AFTER
 *   writer  buffers up to part_size bytes. An object that never fills a
 *           part is sent by one PUT at commit. Otherwise the first full
 *           buffer starts POST ?uploads= (CreateMultipartUpload -> UploadId),
 *           each full buffer is PUT ?partNumber=N&uploadId=ID (ETag kept),
 *           commit sends the rest as the last part and POST ?uploadId=ID
 *           with <CompleteMultipartUpload><Part><PartNumber>N</PartNumber>
 *           <ETag>E</ETag></Part>...; abort (or a failed commit) sends
 *           DELETE ?uploadId=ID. Parts are >= 5 MiB except the last (S3's
 *           rule), at most 10000.
 *
 * Signing (AWS SigV4, implemented here with libcrypto rather than
 * CURLOPT_AWS_SIGV4): libcurl 7.88 (Debian 12) signs the query string as
 * given, unsorted (curl issue #9717, fixed in later releases), its result
 * depends on the libcurl version, and it cannot be checked without a server
 * that verifies signatures (s3rver does not). Our signer is checked against
 * the AWS documentation's examples in tests/unit/test_objstore_s3.c. Signed
 * headers: host, x-amz-content-sha256, x-amz-date, and range /
 * x-amz-security-token when sent. x-amz-content-sha256 is the SHA-256 of the
 * body (also for UploadPart and Complete), so an S3 server rejects a body
 * damaged on the way over plain http; payload=unsigned sends UNSIGNED-PAYLOAD
 * instead (S3 accepts it for every request used here; meant for https).
 *
 * Retries: connection failures, timeouts, a response cut short, HTTP 5xx and
 * 429 are retried up to `retries` more times with exponential backoff
 * (backoff_ms doubling, capped at backoff_max_ms, with jitter in [d/2, d]).
 * Every request is retried except POST (Create/CompleteMultipartUpload),
 * which is repeated only when it provably was not processed: connect
 * failures, 429 and 503. XXX: a Complete whose reply is lost is reported as a
 * failure although S3 may have published the object (inherent to S3).
 *
 * Responses: XML bodies (ListBucketResult, Error, InitiateMultipartUpload-
 * Result, CompleteMultipartUploadResult — the last may be an <Error> under
 * HTTP 200) go through xml_walk, a small bounded tokenizer: it tracks the
 * element stack (depth <= 16), hands leaf text to a handler, and rejects
 * anything unbalanced, truncated or over limits with CAIRN_CORRUPT; it never
 * reads past the length it was given and ignores NUL termination.
 *
 * Keys: the generic layer admits only [A-Za-z0-9._=-/] keys, so the URI is
 * the key with '=' percent-encoded. Listed keys outside ROOT/ or not valid
 * keys (written by other tools) are skipped, like junk files in "local".
 *
 * Threading: the store is immutable after open except the pool of idle curl
 * handles (guarded by pool_lock); each request takes a handle, so requests
 * from many threads run in parallel and reuse connections. A writer belongs
 * to one thread. curl_global_init runs once (pthread_once).
 */
#include "objstore_s3.h"

#include "log.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define S3_MIN_PART (5u << 20)
#define S3_DEFAULT_PART (8u << 20)
#define S3_MAX_PART ((size_t)5 << 30)
#define S3_MAX_PARTS 10000
#define S3_MAX_KEYS 1000
#define S3_POOL_MAX 16
#define S3_STALL_S 30 /* abort a transfer that moves nothing this long */
#define XML_MAX_DEPTH 16
#define XML_MAX_NAME 64
#define UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define EMPTY_SHA256                                                           \
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* ==== growable byte buffer ================================================ */

typedef struct sbuf {
  char *p;
  size_t len, cap;
  bool oom; /* an append failed; p holds what fitted before */
} sbuf;

static bool sb_reserve(sbuf *b, size_t extra) {
  if (b->oom || extra > SIZE_MAX - b->len - 1)
    return b->oom = true, false;
  if (b->len + extra + 1 <= b->cap)
    return true;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra + 1)
    cap = cap > SIZE_MAX / 2 ? b->len + extra + 1 : cap * 2;
  char *p = realloc(b->p, cap);
  if (p == NULL)
    return b->oom = true, false;
  b->p = p;
  b->cap = cap;
  return true;
}

static void sb_add(sbuf *b, const void *data, size_t n) {
  if (!sb_reserve(b, n))
    return;
  if (n > 0)
    memcpy(b->p + b->len, data, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static void sb_printf(sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || !sb_reserve(b, (size_t)n))
    return;
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

static void sb_free(sbuf *b) {
  free(b->p);
  *b = (sbuf){0};
}

/* ==== encoding, hashing, SigV4 ============================================ */

static bool unreserved(unsigned char c) {
  return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

size_t cairn_s3_uri_encode(const char *s, size_t len, bool keep_slash,
                           char *out, size_t out_len) {
  static const char hex[] = "0123456789ABCDEF";
  size_t need = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    need += unreserved(c) || (keep_slash && c == '/') ? 1 : 3;
  }
  if (out == NULL || need + 1 > out_len)
    return need;
  char *o = out;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (unreserved(c) || (keep_slash && c == '/')) {
      *o++ = (char)c;
    } else {
      *o++ = '%';
      *o++ = hex[c >> 4];
      *o++ = hex[c & 15];
    }
  }
  *o = '\0';
  return need;
}

/* Encoded copy appended to b. */
static void sb_encoded(sbuf *b, const char *s, bool keep_slash) {
  size_t n = cairn_s3_uri_encode(s, strlen(s), keep_slash, NULL, 0);
  if (!sb_reserve(b, n))
    return;
  cairn_s3_uri_encode(s, strlen(s), keep_slash, b->p + b->len, n + 1);
  b->len += n;
}

static void to_hex(const unsigned char *d, size_t n, char *out) {
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hex[d[i] >> 4];
    out[2 * i + 1] = hex[d[i] & 15];
  }
  out[2 * n] = '\0';
}

void cairn_s3_sha256_hex(const void *data, size_t len, char out[65]) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(len ? data : (const void *)"", len, md);
  to_hex(md, sizeof md, out);
}

static void hmac256(const void *key, size_t klen, const char *msg,
                    unsigned char out[32]) {
  unsigned int olen = 32;
  HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg),
       out, &olen);
}

typedef struct canon_header {
  char name[XML_MAX_NAME]; /* lower-cased */
  const char *value;
} canon_header;

static int cmp_canon(const void *a, const void *b) {
  return strcmp(((const canon_header *)a)->name,
                ((const canon_header *)b)->name);
}

/* value trimmed, runs of spaces folded to one */
static void sb_header_value(sbuf *b, const char *v) {
  while (*v == ' ' || *v == '\t')
    v++;
  size_t n = strlen(v);
  while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
    n--;
  for (size_t i = 0; i < n; i++)
    if (!(v[i] == ' ' && i > 0 && v[i - 1] == ' '))
      sb_add(b, &v[i], 1);
}

/* canonical request (SigV4 task 1) into b; signed header list into sh */
static cairn_status canonical_request(const cairn_s3_sign_input *in, sbuf *b,
                                      sbuf *sh, cairn_error *err) {
  canon_header hs[16];
  if (in->n_headers > 16)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "sigv4: more than 16 headers to sign");
  for (size_t i = 0; i < in->n_headers; i++) {
    size_t n = strlen(in->headers[i].name);
    if (n == 0 || n >= sizeof hs[i].name)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "sigv4: bad header name");
    for (size_t j = 0; j <= n; j++)
      hs[i].name[j] = (char)tolower((unsigned char)in->headers[i].name[j]);
    hs[i].value = in->headers[i].value;
  }
  qsort(hs, in->n_headers, sizeof hs[0], cmp_canon);
  sb_printf(b, "%s\n%s\n%s\n", in->method, in->canonical_uri,
            in->canonical_query);
  for (size_t i = 0; i < in->n_headers; i++) {
    sb_printf(b, "%s:", hs[i].name);
    sb_header_value(b, hs[i].value);
    sb_str(b, "\n");
    sb_printf(sh, "%s%s", i ? ";" : "", hs[i].name);
  }
  sb_printf(b, "\n%s\n%s", sh->p ? sh->p : "", in->payload_hash);
  return CAIRN_OK;
}

cairn_status cairn_s3_sigv4_authorization(const cairn_s3_sign_input *in,
                                          char *out, size_t out_len,
                                          cairn_error *err) {
  sbuf creq = {0}, sh = {0}, sts = {0};
  cairn_status st = canonical_request(in, &creq, &sh, err);
  if (st != CAIRN_OK)
    goto done;
  char date[9], creq_hex[65], sig_hex[65];
  snprintf(date, sizeof date, "%.8s", in->amz_date);
  cairn_s3_sha256_hex(creq.p, creq.len, creq_hex);
  sb_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/s3/aws4_request\n%s",
            in->amz_date, date, in->region, creq_hex);
  sbuf k0 = {0};
  sb_printf(&k0, "AWS4%s", in->secret_key);
  unsigned char k[32];
  if (creq.oom || sh.oom || sts.oom || k0.oom) {
    sb_free(&k0);
    st = cairn_error_set(err, CAIRN_NOMEM, "sigv4: out of memory");
    goto done;
  }
  hmac256(k0.p, k0.len, date, k);
  sb_free(&k0);
  hmac256(k, 32, in->region, k);
  hmac256(k, 32, "s3", k);
  hmac256(k, 32, "aws4_request", k);
  hmac256(k, 32, sts.p, k);
  to_hex(k, 32, sig_hex);
  int n = snprintf(out, out_len,
                   "AWS4-HMAC-SHA256 Credential=%s/%s/%s/s3/aws4_request,"
                   "SignedHeaders=%s,Signature=%s",
                   in->access_key, date, in->region, sh.p, sig_hex);
  if (n < 0 || (size_t)n >= out_len)
    st = cairn_error_set(err, CAIRN_TOO_LARGE, "sigv4: header too long");
done:
  sb_free(&creq);
  sb_free(&sh);
  sb_free(&sts);
  return st;
}

/* ==== a small bounded XML walker ========================================== */

typedef struct xml_handler {
  void *ctx;
  /* path[0..depth) names the open elements, path[depth-1] the current one */
  cairn_status (*on_open)(void *ctx, char (*path)[XML_MAX_NAME + 1], int depth,
                          cairn_error *err);
  /* text is the raw (undecoded) content when leaf, else NULL/0 */
  cairn_status (*on_close)(void *ctx, char (*path)[XML_MAX_NAME + 1], int depth,
                           const char *text, size_t text_len, cairn_error *err);
} xml_handler;

static const char *find_str(const char *p, const char *end, const char *s) {
  size_t n = strlen(s);
  for (; (size_t)(end - p) >= n; p++)
    if (memcmp(p, s, n) == 0)
      return p;
  return NULL;
}

static bool starts(const char *p, const char *end, const char *s) {
  size_t n = strlen(s);
  return (size_t)(end - p) >= n && memcmp(p, s, n) == 0;
}

static bool name_char(unsigned char c) {
  return isalnum(c) || c == '_' || c == ':' || c == '.' || c == '-';
}

/* The '>' ending a tag that starts at p, skipping quoted attribute values. */
static const char *tag_end(const char *p, const char *end) {
  char quote = 0;
  for (; p < end; p++) {
    if (quote) {
      if (*p == quote)
        quote = 0;
    } else if (*p == '"' || *p == '\'') {
      quote = *p;
    } else if (*p == '>') {
      return p;
    }
  }
  return NULL;
}

/* Name at p (after '<' or "</") copied into out; returns its length (0 =
 * bad). */
static size_t tag_name(const char *p, const char *end, char *out) {
  size_t n = 0;
  while (p + n < end && name_char((unsigned char)p[n]))
    n++;
  if (n == 0 || n > XML_MAX_NAME || isdigit((unsigned char)p[0]) ||
      p[0] == '-' || p[0] == '.')
    return 0;
  memcpy(out, p, n);
  out[n] = '\0';
  return n;
}

static cairn_status xml_bad(cairn_error *err, const char *what) {
  return cairn_error_set(err, CAIRN_CORRUPT, "S3 response: malformed XML (%s)",
                         what);
}

/* Skip "<?...?>", "<!--...-->", "<!...>" at p; NULL when unterminated,
 * p itself when p starts none of them. */
static const char *skip_markup(const char *p, const char *end) {
  const char *q;
  if (starts(p, end, "<?"))
    return (q = find_str(p + 2, end, "?>")) ? q + 2 : NULL;
  if (starts(p, end, "<!--"))
    return (q = find_str(p + 4, end, "-->")) ? q + 3 : NULL;
  if (starts(p, end, "<![CDATA["))
    return NULL; /* S3 never sends CDATA; treated as malformed */
  if (starts(p, end, "<!"))
    return (q = memchr(p, '>', (size_t)(end - p))) ? q + 1 : NULL;
  return p;
}

typedef struct xml_state {
  char path[XML_MAX_DEPTH][XML_MAX_NAME + 1];
  bool leaf[XML_MAX_DEPTH];
  const char *text[XML_MAX_DEPTH]; /* content start of each open element */
  int depth;
  bool had_root;
} xml_state;

static cairn_status xml_end_tag(xml_state *x, const char *lt, const char *gt,
                                const xml_handler *h, cairn_error *err) {
  char name[XML_MAX_NAME + 1];
  size_t n = tag_name(lt + 2, gt, name);
  if (n == 0 || x->depth == 0 || strcmp(name, x->path[x->depth - 1]) != 0)
    return xml_bad(err, "unbalanced end tag");
  for (const char *q = lt + 2 + n; q < gt; q++)
    if (!isspace((unsigned char)*q))
      return xml_bad(err, "junk in end tag");
  int d = x->depth;
  bool leaf = x->leaf[d - 1];
  cairn_status st =
      h->on_close(h->ctx, x->path, d, leaf ? x->text[d - 1] : NULL,
                  leaf ? (size_t)(lt - x->text[d - 1]) : 0, err);
  x->depth--;
  return st;
}

static cairn_status xml_start_tag(xml_state *x, const char *lt, const char *gt,
                                  const xml_handler *h, cairn_error *err) {
  if (x->depth == 0 && x->had_root)
    return xml_bad(err, "second root element");
  if (x->depth == XML_MAX_DEPTH)
    return xml_bad(err, "nested too deep");
  int d = x->depth;
  size_t n = tag_name(lt + 1, gt, x->path[d]);
  if (n == 0)
    return xml_bad(err, "bad element name");
  const char *after = lt + 1 + n;
  if (after < gt && !isspace((unsigned char)*after) && *after != '/')
    return xml_bad(err, "bad element name");
  if (d > 0)
    x->leaf[d - 1] = false;
  x->leaf[d] = true;
  x->text[d] = gt + 1;
  x->depth++;
  x->had_root = true;
  cairn_status st =
      h->on_open ? h->on_open(h->ctx, x->path, x->depth, err) : CAIRN_OK;
  if (st != CAIRN_OK || gt[-1] != '/')
    return st;
  /* self-closing <Name/>: closes at once with empty text */
  st = h->on_close(h->ctx, x->path, x->depth, gt, 0, err);
  x->depth--;
  return st;
}

static cairn_status xml_walk(const char *p, size_t len, const xml_handler *h,
                             cairn_error *err) {
  const char *end = p + len;
  xml_state *x = calloc(1, sizeof *x);
  if (x == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, "S3 response: out of memory");
  cairn_status st = CAIRN_OK;
  while (st == CAIRN_OK && p < end) {
    const char *lt = memchr(p, '<', (size_t)(end - p));
    if (lt == NULL)
      break; /* trailing text; checked below through depth */
    const char *q = skip_markup(lt, end);
    if (q == NULL) {
      st = xml_bad(err, "unterminated markup");
    } else if (q != lt) {
      if (x->depth > 0 && (lt[1] == '?' || lt[2] == '-'))
        x->leaf[x->depth - 1] = false; /* markup inside: not a plain leaf */
      p = q;
    } else {
      const char *gt = tag_end(lt + 1, end);
      if (gt == NULL)
        st = xml_bad(err, "unterminated tag");
      else if (lt[1] == '/')
        st = xml_end_tag(x, lt, gt, h, err);
      else
        st = xml_start_tag(x, lt, gt, h, err);
      p = gt ? gt + 1 : end;
    }
  }
  if (st == CAIRN_OK && x->depth > 0)
    st = xml_bad(err, "document ends inside an element");
  else if (st == CAIRN_OK && !x->had_root)
    st = xml_bad(err, "no root element");
  free(x);
  return st;
}

/* The character of the reference at t[i] == '&' ("&amp;", "&#61;",
 * "&#x7a;"; numeric ones ASCII only, as our keys are) and the index of its
 * ';' in *last; 0 when malformed. */
static char xml_ref(const char *t, size_t n, size_t i, size_t *last) {
  static const struct {
    const char *name;
    char c;
  } ents[] = {{"amp;", '&'},
              {"lt;", '<'},
              {"gt;", '>'},
              {"quot;", '"'},
              {"apos;", '\''}};
  for (size_t k = 0; k < sizeof ents / sizeof ents[0]; k++)
    if (starts(t + i + 1, t + n, ents[k].name)) {
      *last = i + strlen(ents[k].name);
      return ents[k].c;
    }
  size_t j = i + 1;
  if (j >= n || t[j] != '#')
    return 0;
  bool hexa = j + 1 < n && (t[j + 1] == 'x' || t[j + 1] == 'X');
  unsigned v = 0, digits = 0;
  for (j += hexa ? 2 : 1; j < n && t[j] != ';' && digits < 8; j++, digits++) {
    int dv = isdigit((unsigned char)t[j]) ? t[j] - '0'
             : hexa && isxdigit((unsigned char)t[j])
                 ? tolower((unsigned char)t[j]) - 'a' + 10
                 : -1;
    if (dv < 0)
      return 0;
    v = v * (hexa ? 16 : 10) + (unsigned)dv;
  }
  if (j >= n || t[j] != ';' || digits == 0 || v > 127)
    return 0;
  *last = j;
  return (char)v; /* 0 for "&#0;": malformed too */
}

/* Decode entities of t[0..n) into a malloc'd string; NULL on a bad entity,
 * a NUL byte, a raw '<' or no memory. */
static char *xml_text(const char *t, size_t n) {
  char *out = malloc(n + 1), *o = out;
  for (size_t i = 0; out != NULL && i < n; i++) {
    char c = t[i];
    if (c == '&')
      c = xml_ref(t, n, i, &i);
    if (c == '\0' || (c == '<' && t[i] == '<')) { /* raw '<': markup */
      free(out);
      return NULL;
    }
    *o++ = c;
  }
  if (out != NULL)
    *o = '\0';
  return out;
}

/* Leaf text into a fixed buffer (decoded, cut to fit); "" when bad. */
static void xml_text_copy(const char *t, size_t n, char *out, size_t out_len) {
  char *s = xml_text(t, n);
  snprintf(out, out_len, "%s", s ? s : "");
  free(s);
}

/* ---- Error, Initiate- and CompleteMultipartUploadResult documents ------- */

typedef struct simple_doc {
  char root[XML_MAX_NAME + 1];
  char code[64];
  char message[256];
  char upload_id[1024];
} simple_doc;

static cairn_status simple_close(void *ctx, char (*path)[XML_MAX_NAME + 1],
                                 int depth, const char *text, size_t n,
                                 cairn_error *err) {
  (void)err;
  simple_doc *d = ctx;
  if (depth == 1)
    snprintf(d->root, sizeof d->root, "%s", path[0]);
  if (depth != 2 || text == NULL)
    return CAIRN_OK;
  if (strcmp(path[1], "Code") == 0)
    xml_text_copy(text, n, d->code, sizeof d->code);
  else if (strcmp(path[1], "Message") == 0)
    xml_text_copy(text, n, d->message, sizeof d->message);
  else if (strcmp(path[1], "UploadId") == 0)
    xml_text_copy(text, n, d->upload_id, sizeof d->upload_id);
  return CAIRN_OK;
}

static cairn_status simple_parse(const char *xml, size_t len, simple_doc *d,
                                 cairn_error *err) {
  *d = (simple_doc){0};
  xml_handler h = {.ctx = d, .on_close = simple_close};
  return xml_walk(xml, len, &h, err);
}

/* ---- ListBucketResult ---------------------------------------------------- */

typedef struct list_parse {
  cairn_s3_list_page *page;
  size_t cap;
  char *key; /* current <Contents> */
  uint64_t size;
  bool has_size;
  bool is_error;
  simple_doc error;
} list_parse;

static bool parse_u64(const char *t, size_t n, uint64_t *v) {
  while (n > 0 && isspace((unsigned char)*t))
    t++, n--;
  while (n > 0 && isspace((unsigned char)t[n - 1]))
    n--;
  if (n == 0 || n > 20)
    return false;
  uint64_t x = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isdigit((unsigned char)t[i]) ||
        x > (UINT64_MAX - (uint64_t)(t[i] - '0')) / 10)
      return false;
    x = x * 10 + (uint64_t)(t[i] - '0');
  }
  *v = x;
  return true;
}

static cairn_status list_open(void *ctx, char (*path)[XML_MAX_NAME + 1],
                              int depth, cairn_error *err) {
  list_parse *lp = ctx;
  if (depth == 1) {
    lp->is_error = strcmp(path[0], "Error") == 0;
    if (!lp->is_error && strcmp(path[0], "ListBucketResult") != 0)
      return cairn_error_set(err, CAIRN_CORRUPT,
                             "S3 list: unexpected document <%s>", path[0]);
  } else if (depth == 2 && strcmp(path[1], "Contents") == 0) {
    free(lp->key);
    lp->key = NULL;
    lp->has_size = false;
  }
  return CAIRN_OK;
}

static cairn_status list_push(list_parse *lp, cairn_error *err) {
  cairn_s3_list_page *pg = lp->page;
  if (lp->key == NULL || !lp->has_size)
    return cairn_error_set(err, CAIRN_CORRUPT,
                           "S3 list: <Contents> without <Key> or <Size>");
  if (pg->n == lp->cap) {
    size_t cap = lp->cap ? lp->cap * 2 : 64;
    cairn_obj_info *p = realloc(pg->items, cap * sizeof *p);
    if (p == NULL)
      return cairn_error_set(err, CAIRN_NOMEM, "S3 list: out of memory");
    pg->items = p;
    lp->cap = cap;
  }
  pg->items[pg->n++] = (cairn_obj_info){.key = lp->key, .size = lp->size};
  lp->key = NULL;
  return CAIRN_OK;
}

static cairn_status list_leaf(list_parse *lp, const char *name, const char *t,
                              size_t n, cairn_error *err) {
  cairn_s3_list_page *pg = lp->page;
  if (strcmp(name, "IsTruncated") == 0) {
    if (n == 4 && memcmp(t, "true", 4) == 0)
      pg->truncated = true;
    else if (n == 5 && memcmp(t, "false", 5) == 0)
      pg->truncated = false;
    else
      return cairn_error_set(err, CAIRN_CORRUPT,
                             "S3 list: bad <IsTruncated> value");
  } else if (strcmp(name, "NextContinuationToken") == 0) {
    free(pg->next_token);
    pg->next_token = xml_text(t, n);
    if (pg->next_token == NULL)
      return cairn_error_set(err, CAIRN_CORRUPT,
                             "S3 list: bad <NextContinuationToken>");
  }
  return CAIRN_OK;
}

static cairn_status list_close(void *ctx, char (*path)[XML_MAX_NAME + 1],
                               int depth, const char *t, size_t n,
                               cairn_error *err) {
  list_parse *lp = ctx;
  if (lp->is_error)
    return simple_close(&lp->error, path, depth, t, n, err);
  bool in_contents = depth >= 2 && strcmp(path[1], "Contents") == 0;
  if (depth == 2 && in_contents)
    return list_push(lp, err);
  if (depth == 2 && t != NULL)
    return list_leaf(lp, path[1], t, n, err);
  if (depth != 3 || !in_contents || t == NULL)
    return CAIRN_OK;
  if (strcmp(path[2], "Key") == 0) {
    free(lp->key);
    if ((lp->key = xml_text(t, n)) == NULL)
      return cairn_error_set(err, CAIRN_CORRUPT, "S3 list: bad <Key> text");
  } else if (strcmp(path[2], "Size") == 0) {
    if (!parse_u64(t, n, &lp->size))
      return cairn_error_set(err, CAIRN_CORRUPT, "S3 list: bad <Size> value");
    lp->has_size = true;
  }
  return CAIRN_OK;
}

cairn_status cairn_s3_parse_list(const char *xml, size_t len,
                                 cairn_s3_list_page *out, cairn_error *err) {
  *out = (cairn_s3_list_page){0};
  list_parse lp = {.page = out};
  xml_handler h = {.ctx = &lp, .on_open = list_open, .on_close = list_close};
  cairn_status st =
      xml == NULL ? xml_bad(err, "no body") : xml_walk(xml, len, &h, err);
  free(lp.key);
  if (st == CAIRN_OK && lp.is_error)
    st = cairn_error_set(err, CAIRN_IO, "S3 list: %s: %s",
                         lp.error.code[0] ? lp.error.code : "error",
                         lp.error.message);
  if (st != CAIRN_OK)
    cairn_s3_list_page_free(out);
  return st;
}

void cairn_s3_list_page_free(cairn_s3_list_page *page) {
  if (page == NULL)
    return;
  cairn_obj_infos_free(page->items, page->n);
  free(page->next_token);
  *page = (cairn_s3_list_page){0};
}

/* ==== the store: location, curl handle pool =============================== */

typedef struct s3_store {
  cairn_objstore base;
  char *base_url;    /* "http://host:port" or "http://bucket.host:port" */
  char *host_header; /* the Host value signed and sent */
  char *path_base;   /* "/bucket" (path style) or "" (virtual) */
  char *root;        /* "" or "ROOT/PATH/" */
  char *display;     /* "s3://bucket/root" for messages, no secrets */
  char *region, *access_key, *secret_key, *session_token;
  size_t part_size;
  unsigned max_keys, retries;
  long backoff_ms, backoff_max_ms, connect_timeout_ms, timeout_ms;
  bool unsigned_payload;
  pthread_mutex_t pool_lock;
  CURL *pool[S3_POOL_MAX]; /* idle handles; guarded by pool_lock */
  size_t n_pool;           /* guarded by pool_lock */
} s3_store;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init_once(void) {
  curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static CURL *pool_get(s3_store *s) {
  CURL *c = NULL;
  pthread_mutex_lock(&s->pool_lock);
  if (s->n_pool > 0)
    c = s->pool[--s->n_pool];
  pthread_mutex_unlock(&s->pool_lock);
  if (c != NULL)
    curl_easy_reset(c); /* keeps its connection and DNS caches */
  return c ? c : curl_easy_init();
}

static void pool_put(s3_store *s, CURL *c) {
  pthread_mutex_lock(&s->pool_lock);
  if (s->n_pool < S3_POOL_MAX) {
    s->pool[s->n_pool++] = c;
    c = NULL;
  }
  pthread_mutex_unlock(&s->pool_lock);
  if (c != NULL)
    curl_easy_cleanup(c);
}

static void s3_close(cairn_objstore *base) {
  s3_store *s = (s3_store *)base;
  for (size_t i = 0; i < s->n_pool; i++)
    curl_easy_cleanup(s->pool[i]);
  pthread_mutex_destroy(&s->pool_lock);
  free(s->base_url);
  free(s->host_header);
  free(s->path_base);
  free(s->root);
  free(s->display);
  free(s->region);
  free(s->access_key);
  free(s->secret_key);
  free(s->session_token);
  free(s);
}

/* Percent-decoded copy of s[0..n) (malloc'd), NULL on a bad escape. */
static char *pct_decode(const char *s, size_t n) {
  char *out = malloc(n + 1), *o = out;
  if (out == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++) {
    if (s[i] != '%') {
      *o++ = s[i];
      continue;
    }
    unsigned v;
    if (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) ||
        !isxdigit((unsigned char)s[i + 2]) ||
        sscanf(s + i + 1, "%2x", &v) != 1 || v == 0) {
      free(out);
      return NULL;
    }
    *o++ = (char)v;
    i += 2;
  }
  *o = '\0';
  return out;
}

static cairn_status opt_num(const char *name, const char *v, long lo, long hi,
                            long *out, cairn_error *err) {
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno != 0 || end == v || *end != '\0' || x < lo || x > hi)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "s3 location: %s='%s' is not a number in %ld..%ld",
                           name, v, lo, hi);
  *out = x;
  return CAIRN_OK;
}

static cairn_status set_str(char **field, const char *v, cairn_error *err) {
  free(*field);
  if ((*field = strdup(v)) == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, "s3 location: out of memory");
  return CAIRN_OK;
}

typedef struct s3_opts {
  char *region, *style, *access_key, *secret_key, *session_token, *payload;
} s3_opts;

static void opts_free(s3_opts *o) {
  free(o->region);
  free(o->style);
  free(o->access_key);
  free(o->secret_key);
  free(o->session_token);
  free(o->payload);
}

static cairn_status apply_num_opt(s3_store *s, const char *k, const char *v,
                                  cairn_error *err) {
  long x = 0;
  cairn_status st;
  if (strcmp(k, "part_size") == 0) {
    int64_t b;
    if (cairn_config_parse_size(v, &b) != 0 || b < (int64_t)S3_MIN_PART ||
        (uint64_t)b > S3_MAX_PART)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "s3 location: part_size='%s' must be a size in "
                             "5MiB..5GiB",
                             v);
    s->part_size = (size_t)b;
    return CAIRN_OK;
  }
  static const struct {
    const char *name;
    long lo, hi;
    size_t off;
  } nums[] = {
      {"retries", 0, 30, offsetof(s3_store, retries)},
      {"max_keys", 1, S3_MAX_KEYS, offsetof(s3_store, max_keys)},
      {"backoff_ms", 1, 600000, offsetof(s3_store, backoff_ms)},
      {"backoff_max_ms", 1, 600000, offsetof(s3_store, backoff_max_ms)},
      {"connect_timeout_ms", 1, 600000, offsetof(s3_store, connect_timeout_ms)},
      {"timeout_ms", 0, 86400000, offsetof(s3_store, timeout_ms)},
  };
  for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
    if (strcmp(k, nums[i].name) != 0)
      continue;
    if ((st = opt_num(k, v, nums[i].lo, nums[i].hi, &x, err)) != CAIRN_OK)
      return st;
    if (i < 2)
      *(unsigned *)((char *)s + nums[i].off) = (unsigned)x;
    else
      *(long *)((char *)s + nums[i].off) = x;
    return CAIRN_OK;
  }
  return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                         "s3 location: unknown option '%s' (known: region, "
                         "style, access_key, secret_key, session_token, "
                         "part_size, max_keys, retries, backoff_ms, "
                         "backoff_max_ms, connect_timeout_ms, timeout_ms, "
                         "payload)",
                         k);
}

static cairn_status apply_opt(s3_store *s, s3_opts *o, const char *k,
                              const char *v, cairn_error *err) {
  static const struct {
    const char *name;
    size_t off;
  } strs[] = {
      {"region", offsetof(s3_opts, region)},
      {"style", offsetof(s3_opts, style)},
      {"access_key", offsetof(s3_opts, access_key)},
      {"secret_key", offsetof(s3_opts, secret_key)},
      {"session_token", offsetof(s3_opts, session_token)},
      {"payload", offsetof(s3_opts, payload)},
  };
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
    if (strcmp(k, strs[i].name) == 0)
      return set_str((char **)((char *)o + strs[i].off), v, err);
  return apply_num_opt(s, k, v, err);
}

/* "k=v&k=v" */
static cairn_status parse_query(s3_store *s, s3_opts *o, const char *q,
                                cairn_error *err) {
  cairn_status st = CAIRN_OK;
  while (st == CAIRN_OK && *q != '\0') {
    size_t n = strcspn(q, "&");
    const char *eq = memchr(q, '=', n);
    if (n == 0) {
      q++;
      continue;
    }
    if (eq == NULL)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "s3 location: option '%.*s' has no '=value'",
                             (int)n, q);
    char *k = pct_decode(q, (size_t)(eq - q));
    char *v = pct_decode(eq + 1, n - (size_t)(eq + 1 - q));
    if (k == NULL || v == NULL)
      st = cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "s3 location: bad %%-escape in option '%.*s'",
                           (int)(eq - q), q);
    else
      st = apply_opt(s, o, k, v, err);
    free(k);
    free(v);
    q += n + (q[n] == '&');
  }
  return st;
}

static const char *env_or(const char *a, const char *b, const char *dflt) {
  const char *v = a ? getenv(a) : NULL;
  if (v == NULL || *v == '\0')
    v = b ? getenv(b) : NULL;
  return v && *v ? v : dflt;
}

/* bucket and root from "BUCKET[/ROOT...]" (up to '?') */
static cairn_status parse_path(s3_store *s, const char *p, size_t n,
                               char **bucket, cairn_error *err) {
  size_t bn = strcspn(p, "/?");
  if (bn > n)
    bn = n;
  if (bn < 3 || bn > 63)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "s3 location: bucket name must be 3..63 characters");
  for (size_t i = 0; i < bn; i++)
    if (!(islower((unsigned char)p[i]) || isdigit((unsigned char)p[i]) ||
          p[i] == '-' || p[i] == '.'))
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "s3 location: bucket '%.*s': only a-z 0-9 . -",
                             (int)bn, p);
  *bucket = strndup(p, bn);
  const char *r = p + bn;
  size_t rn = n - bn;
  while (rn > 0 && *r == '/')
    r++, rn--;
  while (rn > 0 && r[rn - 1] == '/')
    rn--;
  char *root = strndup(r, rn);
  if (*bucket == NULL || root == NULL) {
    free(root);
    return cairn_error_set(err, CAIRN_NOMEM, "s3 location: out of memory");
  }
  cairn_status st = CAIRN_OK;
  if (rn > 0 && (!cairn_objstore_key_valid(root) || rn > 512))
    st = cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                         "s3 location: root '%s' is not a valid key path "
                         "(at most 512 bytes)",
                         root);
  else if ((s->root = malloc(rn + 2)) == NULL)
    st = cairn_error_set(err, CAIRN_NOMEM, "s3 location: out of memory");
  else
    snprintf(s->root, rn + 2, "%s%s", root, rn ? "/" : "");
  free(root);
  return st;
}

/* Addressing: base URL, Host header, path base. */
static cairn_status set_endpoint(s3_store *s, const char *scheme,
                                 const char *host, size_t hn,
                                 const char *bucket, const char *style,
                                 cairn_error *err) {
  bool https = strcmp(scheme, "https") == 0;
  bool virt;
  if (style == NULL || strcmp(style, "auto") == 0) {
    const char *aws = ".amazonaws.com";
    size_t colon = strcspn(host, ":");
    virt = colon > strlen(aws) &&
           strncmp(host + colon - strlen(aws), aws, strlen(aws)) == 0;
  } else if (strcmp(style, "path") == 0 || strcmp(style, "virtual") == 0) {
    virt = style[0] == 'v';
  } else {
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "s3 location: style='%s' (path, virtual or auto)",
                           style);
  }
  /* default ports are not part of the Host header curl would send */
  size_t keep = hn;
  const char *dflt = https ? ":443" : ":80";
  if (hn > strlen(dflt) &&
      strncmp(host + hn - strlen(dflt), dflt, strlen(dflt)) == 0)
    keep = hn - strlen(dflt);
  sbuf h = {0}, u = {0}, pb = {0};
  if (virt)
    sb_printf(&h, "%s.", bucket);
  sb_add(&h, host, keep);
  sb_printf(&u, "%s://%s", scheme, h.p ? h.p : "");
  if (!virt)
    sb_printf(&pb, "/%s", bucket);
  else
    sb_str(&pb, "");
  if (h.oom || u.oom || pb.oom) {
    sb_free(&h), sb_free(&u), sb_free(&pb);
    return cairn_error_set(err, CAIRN_NOMEM, "s3 location: out of memory");
  }
  s->host_header = h.p;
  s->base_url = u.p;
  s->path_base = pb.p;
  return CAIRN_OK;
}

static cairn_status resolve_opts(s3_store *s, s3_opts *o, cairn_error *err) {
  cairn_status st = CAIRN_OK;
  const char *region =
      o->region ? o->region
                : env_or("AWS_REGION", "AWS_DEFAULT_REGION", "us-east-1");
  const char *ak =
      o->access_key ? o->access_key : env_or("AWS_ACCESS_KEY_ID", NULL, "");
  const char *sk =
      o->secret_key ? o->secret_key : env_or("AWS_SECRET_ACCESS_KEY", NULL, "");
  const char *tok = o->session_token ? o->session_token
                                     : env_or("AWS_SESSION_TOKEN", NULL, "");
  if (o->payload != NULL && strcmp(o->payload, "signed") != 0 &&
      strcmp(o->payload, "unsigned") != 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "s3 location: payload='%s' (signed or unsigned)",
                           o->payload);
  s->unsigned_payload = o->payload && strcmp(o->payload, "unsigned") == 0;
  if (region[0] == '\0' || strcspn(region, "/ \n") != strlen(region))
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "s3 location: bad region '%s'", region);
  if (ak[0] != '\0' && sk[0] == '\0')
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "s3 location: an access key without a secret key "
                           "(secret_key= or AWS_SECRET_ACCESS_KEY)");
  if ((st = set_str(&s->region, region, err)) == CAIRN_OK &&
      (st = set_str(&s->access_key, ak, err)) == CAIRN_OK &&
      (st = set_str(&s->secret_key, sk, err)) == CAIRN_OK)
    st = set_str(&s->session_token, tok, err);
  return st;
}

static cairn_status parse_location(s3_store *s, const char *loc,
                                   cairn_error *err) {
  const char *scheme = strncmp(loc, "http://", 7) == 0    ? "http"
                       : strncmp(loc, "https://", 8) == 0 ? "https"
                                                          : NULL;
  if (scheme == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "s3 location must start with http:// or https:// "
                           "(http://HOST:PORT/BUCKET[/ROOT][?options])");
  const char *host = loc + strlen(scheme) + 3;
  size_t hn = strcspn(host, "/?");
  const char *path = host + hn;
  if (hn == 0 || *path != '/' || strcspn(host, "@ ") < hn)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "s3 location: need HOST[:PORT]/BUCKET (credentials "
                           "go in access_key= / secret_key=)");
  size_t pn = strcspn(path + 1, "?");
  const char *q = path + 1 + pn;
  char *bucket = NULL;
  s3_opts o = {0};
  cairn_status st = parse_path(s, path + 1, pn, &bucket, err);
  if (st == CAIRN_OK && *q == '?')
    st = parse_query(s, &o, q + 1, err);
  if (st == CAIRN_OK)
    st = resolve_opts(s, &o, err);
  if (st == CAIRN_OK)
    st = set_endpoint(s, scheme, host, hn, bucket, o.style, err);
  if (st == CAIRN_OK) {
    sbuf d = {0};
    sb_printf(&d, "s3://%s/%s", bucket, s->root);
    s->display = d.p;
    if (d.oom)
      st = cairn_error_set(err, CAIRN_NOMEM, "s3 location: out of memory");
  }
  free(bucket);
  opts_free(&o);
  return st;
}

static cairn_status s3_open(const char *location, cairn_objstore **out,
                            cairn_error *err) {
  pthread_once(&curl_once, curl_init_once);
  if (curl_init_rc != CURLE_OK)
    return cairn_error_set(err, CAIRN_INTERNAL, "s3: curl_global_init: %s",
                           curl_easy_strerror(curl_init_rc));
  s3_store *s = calloc(1, sizeof *s);
  if (s == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, "s3 open: out of memory");
  s->base.vt = &cairn_objstore_s3_vtable;
  pthread_mutex_init(&s->pool_lock, NULL);
  s->part_size = S3_DEFAULT_PART;
  s->max_keys = S3_MAX_KEYS;
  s->retries = 5;
  s->backoff_ms = 100;
  s->backoff_max_ms = 5000;
  s->connect_timeout_ms = 5000;
  cairn_status st = parse_location(s, location, err);
  if (st != CAIRN_OK) {
    s3_close(&s->base);
    return st;
  }
  *out = &s->base;
  return CAIRN_OK;
}

/* ==== one request, with retries =========================================== */

typedef struct s3_request {
  const char *method; /* GET HEAD PUT POST DELETE */
  const char *key;    /* full object name (root included) or NULL: bucket */
  const char *query;  /* canonical query string, "" for none */
  const void *body;   /* PUT/POST body (may be NULL when body_len 0) */
  size_t body_len;
  const char *content_type; /* of the body */
  char range[64];           /* "" or "bytes=A-B" */
} s3_request;

typedef struct s3_response {
  long code;
  sbuf body;
  char etag[160];
  uint64_t content_length;
  bool has_length;
  CURLcode cc;
  char curl_err[CURL_ERROR_SIZE];
} s3_response;

static size_t on_body(char *data, size_t size, size_t n, void *ctx) {
  s3_response *r = ctx;
  /* one allocation for the announced length (bounded: a lying header costs
   * at most 1 GiB up front; more data still grows the buffer) */
  if (r->body.cap == 0 && r->has_length && r->content_length > 0)
    sb_reserve(&r->body, r->content_length < (1u << 30)
                             ? (size_t)r->content_length
                             : (size_t)1 << 30);
  sb_add(&r->body, data, size * n);
  return r->body.oom ? 0 : size * n; /* 0 aborts the transfer */
}

static size_t on_header(char *line, size_t size, size_t n, void *ctx) {
  s3_response *r = ctx;
  char buf[256];
  size_t len = n < sizeof buf - 1 ? n : sizeof buf - 1;
  memcpy(buf, line, len);
  buf[len] = '\0';
  buf[strcspn(buf, "\r\n")] = '\0';
  if (strncmp(buf, "HTTP/", 5) == 0) { /* a new response (100, redirect) */
    r->etag[0] = '\0';
    r->has_length = false;
  } else if (strncasecmp(buf, "etag:", 5) == 0) {
    const char *v = buf + 5 + strspn(buf + 5, " \t");
    snprintf(r->etag, sizeof r->etag, "%s", v);
  } else if (strncasecmp(buf, "content-length:", 15) == 0) {
    const char *v = buf + 15 + strspn(buf + 15, " \t");
    r->has_length = parse_u64(v, strlen(v), &r->content_length);
  }
  return size * n;
}

static void amz_now(char out[17]) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* URL and canonical URI ("/bucket/root/key") of a request. */
static void request_paths(const s3_store *s, const s3_request *rq, sbuf *uri,
                          sbuf *url) {
  sb_str(uri, s->path_base);
  sb_str(uri, "/");
  if (rq->key != NULL)
    sb_encoded(uri, rq->key, true);
  sb_printf(url, "%s%s%s%s", s->base_url, uri->p ? uri->p : "",
            rq->query[0] ? "?" : "", rq->query);
}

/* Header list for one attempt (signed now). */
static cairn_status request_headers(const s3_store *s, const s3_request *rq,
                                    const char *uri, const char *hash,
                                    struct curl_slist **out, cairn_error *err) {
  char date[17], auth[1024], line[1200];
  amz_now(date);
  cairn_s3_header hs[5] = {{"host", s->host_header},
                           {"x-amz-content-sha256", hash},
                           {"x-amz-date", date}};
  size_t nh = 3;
  if (rq->range[0])
    hs[nh++] = (cairn_s3_header){"range", rq->range};
  if (s->session_token[0])
    hs[nh++] = (cairn_s3_header){"x-amz-security-token", s->session_token};
  struct curl_slist *l = NULL;
  for (size_t i = 0; i < nh; i++) {
    snprintf(line, sizeof line, "%s: %s", hs[i].name, hs[i].value);
    l = curl_slist_append(l, line);
  }
  if (s->access_key[0]) {
    cairn_s3_sign_input in = {
        rq->method, uri,       rq->query,     hs,           nh, hash,
        date,       s->region, s->access_key, s->secret_key};
    cairn_status st = cairn_s3_sigv4_authorization(&in, auth, sizeof auth, err);
    if (st != CAIRN_OK) {
      curl_slist_free_all(l);
      return st;
    }
    snprintf(line, sizeof line, "Authorization: %s", auth);
    l = curl_slist_append(l, line);
  }
  if (rq->content_type != NULL) {
    snprintf(line, sizeof line, "Content-Type: %s", rq->content_type);
    l = curl_slist_append(l, line);
  }
  l = curl_slist_append(l, "Expect:"); /* no 100-continue round trip */
  *out = l;
  return l ? CAIRN_OK
           : cairn_error_set(err, CAIRN_NOMEM, "s3: out of memory (headers)");
}

static void set_method(CURL *c, const s3_request *rq) {
  if (strcmp(rq->method, "GET") == 0) {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else if (strcmp(rq->method, "HEAD") == 0) {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (strcmp(rq->method, "DELETE") == 0) {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
  } else { /* PUT, POST: the body is sent from our buffer, not copied */
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
  }
}

/* One attempt; a transport failure leaves resp->cc != CURLE_OK. */
static cairn_status attempt(s3_store *s, const s3_request *rq, const char *hash,
                            s3_response *resp, cairn_error *err) {
  sbuf uri = {0}, url = {0};
  struct curl_slist *hdrs = NULL;
  CURL *c = NULL;
  request_paths(s, rq, &uri, &url);
  cairn_status st = uri.oom || url.oom
                        ? cairn_error_set(err, CAIRN_NOMEM, "s3: out of memory")
                        : request_headers(s, rq, uri.p, hash, &hdrs, err);
  if (st == CAIRN_OK && (c = pool_get(s)) == NULL)
    st = cairn_error_set(err, CAIRN_NOMEM, "s3: curl_easy_init failed");
  if (st != CAIRN_OK)
    goto done;
  sb_free(&resp->body);
  resp->etag[0] = resp->curl_err[0] = '\0';
  resp->has_length = false;
  curl_easy_setopt(c, CURLOPT_URL, url.p);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, resp->curl_err);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, s->connect_timeout_ms);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, s->timeout_ms);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)S3_STALL_S);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  set_method(c, rq);
  resp->cc = curl_easy_perform(c);
  resp->code = 0;
  if (resp->cc == CURLE_OK)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->code);
  if (resp->body.oom)
    st = cairn_error_set(err, CAIRN_NOMEM, "s3: out of memory (response)");
  pool_put(s, c);
done:
  curl_slist_free_all(hdrs);
  sb_free(&uri);
  sb_free(&url);
  return st;
}

static bool transient_curl(CURLcode cc, bool idempotent) {
  switch (cc) {
  case CURLE_COULDNT_CONNECT:
  case CURLE_COULDNT_RESOLVE_HOST:
    return true; /* nothing was sent */
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
    return idempotent;
  default:
    return false;
  }
}

static bool transient_http(long code, bool idempotent) {
  return code == 429 || code == 503 || (idempotent && code >= 500);
}

static void backoff_sleep(const s3_store *s, unsigned attempt_no) {
  long d = s->backoff_ms;
  for (unsigned i = 0; i < attempt_no && d < s->backoff_max_ms; i++)
    d *= 2;
  if (d > s->backoff_max_ms)
    d = s->backoff_max_ms;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  long jitter =
      d / 2 > 0
          ? (long)((unsigned long)now.tv_nsec % (unsigned long)(d / 2 + 1))
          : 0;
  long ms = d - jitter; /* in [d/2, d] */
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* "Code: Message" of an S3 error body, or "" */
static void error_detail(const s3_response *r, char *out, size_t out_len) {
  simple_doc d;
  cairn_error ignore;
  out[0] = '\0';
  if (r->body.len > 0 &&
      simple_parse(r->body.p, r->body.len, &d, &ignore) == CAIRN_OK &&
      strcmp(d.root, "Error") == 0)
    snprintf(out, out_len, " %s: %s", d.code, d.message);
}

static cairn_status http_error(const s3_store *s, const s3_request *rq,
                               const s3_response *r, cairn_error *err) {
  char detail[400];
  error_detail(r, detail, sizeof detail);
  cairn_status st = CAIRN_IO;
  if (r->code == 404 && (strstr(detail, "NoSuchKey") != NULL ||
                         (strcmp(rq->method, "HEAD") == 0 && !detail[0])))
    st = CAIRN_IO_NOT_FOUND;
  return cairn_error_set(err, st, "s3 %s %s%s: HTTP %ld%s%s", rq->method,
                         s->display, rq->key ? rq->key + strlen(s->root) : "",
                         r->code, detail,
                         r->code == 403 ? " (check the access/secret key and "
                                          "region)"
                                        : "");
}

/* Perform with retries. OK means an HTTP response that is no retryable
 * failure (the caller judges its code); a transport failure or a retryable
 * status after the last attempt is CAIRN_IO. */
static cairn_status perform(s3_store *s, const s3_request *rq,
                            s3_response *resp, cairn_error *err) {
  char hash[65];
  bool idempotent = strcmp(rq->method, "POST") != 0;
  if (rq->body_len == 0)
    snprintf(hash, sizeof hash, "%s", EMPTY_SHA256);
  else if (s->unsigned_payload)
    snprintf(hash, sizeof hash, "%s", UNSIGNED_PAYLOAD);
  else
    cairn_s3_sha256_hex(rq->body, rq->body_len, hash);
  for (unsigned n = 0;; n++) {
    cairn_status st = attempt(s, rq, hash, resp, err);
    if (st != CAIRN_OK)
      return st;
    bool again = resp->cc != CURLE_OK ? transient_curl(resp->cc, idempotent)
                                      : transient_http(resp->code, idempotent);
    if (!again || n >= s->retries) {
      if (resp->cc != CURLE_OK)
        return cairn_error_set(
            err, CAIRN_IO, "s3 %s %s%s at %s: %s (after %u attempt%s)",
            rq->method, s->display, rq->key ? rq->key + strlen(s->root) : "",
            s->base_url,
            resp->curl_err[0] ? resp->curl_err : curl_easy_strerror(resp->cc),
            n + 1, n ? "s" : "");
      if (again || resp->code >= 500)
        return http_error(s, rq, resp, err);
      return CAIRN_OK;
    }
    backoff_sleep(s, n);
  }
}

/* ==== object operations =================================================== */

/* ROOT + key (malloc'd) */
static char *full_key(const s3_store *s, const char *key) {
  size_t n = strlen(s->root) + strlen(key) + 1;
  char *k = malloc(n);
  if (k != NULL)
    snprintf(k, n, "%s%s", s->root, key);
  return k;
}

#define NOMEM(err, what)                                                       \
  cairn_error_set(err, CAIRN_NOMEM, "s3 %s: out of memory", what)

static cairn_status put_object(s3_store *s, const char *fkey, const void *data,
                               size_t len, cairn_error *err) {
  s3_request rq = {.method = "PUT",
                   .key = fkey,
                   .query = "",
                   .body = data,
                   .body_len = len,
                   .content_type = "application/octet-stream"};
  s3_response r = {0};
  cairn_status st = perform(s, &rq, &r, err);
  if (st == CAIRN_OK && r.code != 200)
    st = http_error(s, &rq, &r, err);
  sb_free(&r.body);
  return st;
}

static cairn_status s3_put(cairn_objstore *base, const char *key,
                           const void *data, size_t len, cairn_error *err) {
  s3_store *s = (s3_store *)base;
  char *fkey = full_key(s, key);
  if (fkey == NULL)
    return NOMEM(err, "put");
  cairn_status st = put_object(s, fkey, data, len, err);
  free(fkey);
  return st;
}

static cairn_status s3_stat(cairn_objstore *base, const char *key,
                            uint64_t *size, cairn_error *err) {
  s3_store *s = (s3_store *)base;
  char *fkey = full_key(s, key);
  if (fkey == NULL)
    return NOMEM(err, "stat");
  s3_request rq = {.method = "HEAD", .key = fkey, .query = ""};
  s3_response r = {0};
  cairn_status st = perform(s, &rq, &r, err);
  if (st == CAIRN_OK && r.code != 200)
    st = http_error(s, &rq, &r, err);
  else if (st == CAIRN_OK && !r.has_length)
    st = cairn_error_set(err, CAIRN_IO, "s3 HEAD %s%s: no Content-Length",
                         s->display, key);
  if (st == CAIRN_OK)
    *size = r.content_length;
  sb_free(&r.body);
  free(fkey);
  return st;
}

/* Range header for [off, off+len); whole object: none. */
static void range_header(uint64_t off, uint64_t len, char *out, size_t n) {
  out[0] = '\0';
  if (off == 0 && len == UINT64_MAX)
    return;
  if (len > UINT64_MAX - off)
    snprintf(out, n, "bytes=%" PRIu64 "-", off);
  else
    snprintf(out, n, "bytes=%" PRIu64 "-%" PRIu64, off, off + len - 1);
}

/* The caller's bytes from a response: 206 = the range, 200 = the whole
 * object (range ignored by the server: cut here), 416 = past the end. */
static cairn_status take_body(s3_response *r, uint64_t off, uint64_t len,
                              bool ranged, void **data, size_t *got) {
  size_t from = 0, n = r->body.len;
  if (r->code == 416) {
    n = 0;
  } else if (r->code == 200 && ranged) {
    from = off < n ? (size_t)off : n;
    n -= from;
  }
  if (len < n)
    n = (size_t)len;
  if (from == 0 && r->body.p != NULL) {
    *data = r->body.p; /* hand over the buffer (at least 1 byte: the NUL) */
    r->body = (sbuf){0};
  } else {
    char *p = malloc(n + 1);
    if (p == NULL)
      return CAIRN_NOMEM;
    if (n > 0)
      memcpy(p, r->body.p + from, n);
    *data = p;
  }
  *got = n;
  return CAIRN_OK;
}

static cairn_status s3_get(cairn_objstore *base, const char *key,
                           uint64_t offset, uint64_t len, void **data,
                           size_t *got, cairn_error *err) {
  s3_store *s = (s3_store *)base;
  if (len == 0) { /* nothing to read, but the object must exist */
    uint64_t size;
    cairn_status st = s3_stat(base, key, &size, err);
    if (st == CAIRN_OK && (*data = malloc(1)) == NULL)
      st = NOMEM(err, "get");
    return st;
  }
  char *fkey = full_key(s, key);
  if (fkey == NULL)
    return NOMEM(err, "get");
  s3_request rq = {.method = "GET", .key = fkey, .query = ""};
  range_header(offset, len, rq.range, sizeof rq.range);
  s3_response r = {0};
  cairn_status st = perform(s, &rq, &r, err);
  if (st == CAIRN_OK && r.code != 200 && r.code != 206 &&
      !(r.code == 416 && rq.range[0]))
    st = http_error(s, &rq, &r, err);
  if (st == CAIRN_OK &&
      take_body(&r, offset, len, rq.range[0] != '\0', data, got) != CAIRN_OK)
    st = NOMEM(err, "get");
  sb_free(&r.body);
  free(fkey);
  return st;
}

static cairn_status s3_remove(cairn_objstore *base, const char *key,
                              cairn_error *err) {
  s3_store *s = (s3_store *)base;
  char *fkey = full_key(s, key);
  if (fkey == NULL)
    return NOMEM(err, "remove");
  s3_request rq = {.method = "DELETE", .key = fkey, .query = ""};
  s3_response r = {0};
  cairn_status st = perform(s, &rq, &r, err);
  if (st == CAIRN_OK && r.code != 204 && r.code != 200 && r.code != 404)
    st = http_error(s, &rq, &r, err);
  sb_free(&r.body);
  free(fkey);
  return st;
}

/* ---- list ---------------------------------------------------------------- */

/* One ListObjectsV2 request. */
static cairn_status list_page(s3_store *s, const char *fprefix,
                              const char *fafter, const char *token,
                              unsigned max_keys, cairn_s3_list_page *pg,
                              cairn_error *err) {
  sbuf q = {0};
  if (token != NULL) {
    sb_str(&q, "continuation-token=");
    sb_encoded(&q, token, false);
    sb_str(&q, "&");
  }
  sb_printf(&q, "list-type=2&max-keys=%u&prefix=", max_keys);
  sb_encoded(&q, fprefix, false);
  if (fafter != NULL && token == NULL) {
    sb_str(&q, "&start-after=");
    sb_encoded(&q, fafter, false);
  }
  if (q.oom) {
    sb_free(&q);
    return NOMEM(err, "list");
  }
  s3_request rq = {.method = "GET", .key = NULL, .query = q.p};
  s3_response r = {0};
  cairn_status st = perform(s, &rq, &r, err);
  if (st == CAIRN_OK && r.code != 200)
    st = http_error(s, &rq, &r, err);
  if (st == CAIRN_OK)
    st = cairn_s3_parse_list(r.body.p, r.body.len, pg, err);
  sb_free(&r.body);
  sb_free(&q);
  return st;
}

typedef struct list_acc {
  cairn_obj_info *items;
  size_t n, cap;
} list_acc;

/* Move a page's keys under root+prefix, after `after`, into acc (root
 * stripped); others are skipped. */
static cairn_status list_take(const s3_store *s, const char *prefix,
                              const char *after, cairn_s3_list_page *pg,
                              list_acc *acc, size_t limit) {
  size_t rn = strlen(s->root), pn = strlen(prefix);
  for (size_t i = 0; i < pg->n && (limit == 0 || acc->n < limit); i++) {
    const char *k = pg->items[i].key;
    if (strncmp(k, s->root, rn) != 0 || strncmp(k + rn, prefix, pn) != 0 ||
        !cairn_objstore_key_valid(k + rn) ||
        (after != NULL && strcmp(k + rn, after) <= 0))
      continue;
    if (acc->n == acc->cap) {
      size_t cap = acc->cap ? acc->cap * 2 : 64;
      cairn_obj_info *p = realloc(acc->items, cap * sizeof *p);
      if (p == NULL)
        return CAIRN_NOMEM;
      acc->items = p;
      acc->cap = cap;
    }
    char *key = strdup(k + rn);
    if (key == NULL)
      return CAIRN_NOMEM;
    acc->items[acc->n++] = (cairn_obj_info){key, pg->items[i].size};
  }
  return CAIRN_OK;
}

/* Pages of ListObjectsV2 into acc until the listing ends or limit keys are
 * in; *more as the last page said. */
static cairn_status list_pages(s3_store *s, const char *prefix,
                               const char *after, size_t limit,
                               const char *fprefix, const char *fafter,
                               list_acc *acc, bool *more, cairn_error *err) {
  char *token = NULL;
  cairn_status st = CAIRN_OK;
  while (st == CAIRN_OK) {
    unsigned mk = s->max_keys;
    if (limit > 0 && limit - acc->n < mk)
      mk = (unsigned)(limit - acc->n);
    cairn_s3_list_page pg;
    if ((st = list_page(s, fprefix, fafter, token, mk, &pg, err)) != CAIRN_OK)
      break;
    if (list_take(s, prefix, after, &pg, acc, limit) != CAIRN_OK)
      st = NOMEM(err, "list");
    else if (token && pg.next_token && strcmp(token, pg.next_token) == 0)
      st = cairn_error_set(err, CAIRN_CORRUPT,
                           "s3 list %s%s: the server repeated a continuation "
                           "token",
                           s->display, prefix);
    free(token);
    token = pg.next_token;
    pg.next_token = NULL;
    *more = pg.truncated;
    cairn_s3_list_page_free(&pg);
    if (st != CAIRN_OK || !*more || (limit > 0 && acc->n >= limit))
      break;
    if (token == NULL)
      st = cairn_error_set(err, CAIRN_CORRUPT,
                           "s3 list %s%s: truncated page without "
                           "NextContinuationToken",
                           s->display, prefix);
  }
  free(token);
  return st;
}

static cairn_status s3_list(cairn_objstore *base, const char *prefix,
                            const char *after, size_t limit,
                            cairn_obj_info **items, size_t *n, bool *more,
                            cairn_error *err) {
  s3_store *s = (s3_store *)base;
  char *fprefix = full_key(s, prefix);
  char *fafter = after ? full_key(s, after) : NULL;
  list_acc acc = {0};
  cairn_status st = fprefix && (fafter || !after)
                        ? list_pages(s, prefix, after, limit, fprefix, fafter,
                                     &acc, more, err)
                        : NOMEM(err, "list");
  if (st != CAIRN_OK) {
    cairn_obj_infos_free(acc.items, acc.n);
    *more = false;
  } else {
    *items = acc.items;
    *n = acc.n;
  }
  free(fprefix);
  free(fafter);
  return st;
}

/* ==== the writer: one PUT, or a multipart upload ========================== */

typedef struct s3_writer {
  cairn_obj_writer base;
  char *fkey;   /* ROOT/KEY */
  uint8_t *buf; /* pending bytes, at most part_size */
  size_t len, cap;
  char *upload_id; /* NULL until the first part goes out */
  char **etags;    /* etags[i] of part i + 1 */
  size_t n_parts, cap_parts;
  bool failed; /* an append failed: commit refuses */
} s3_writer;

static cairn_status s3_writer_open(cairn_objstore *base, const char *key,
                                   cairn_obj_writer **out, cairn_error *err) {
  s3_store *s = (s3_store *)base;
  s3_writer *w = calloc(1, sizeof *w);
  if (w == NULL || (w->fkey = full_key(s, key)) == NULL) {
    free(w);
    return NOMEM(err, "writer open");
  }
  w->base.store = base;
  *out = &w->base;
  return CAIRN_OK;
}

/* CreateMultipartUpload -> w->upload_id */
static cairn_status mp_create(s3_store *s, s3_writer *w, cairn_error *err) {
  s3_request rq = {.method = "POST",
                   .key = w->fkey,
                   .query = "uploads=",
                   .content_type = "application/octet-stream"};
  s3_response r = {0};
  simple_doc d;
  cairn_status st = perform(s, &rq, &r, err);
  if (st == CAIRN_OK && r.code != 200)
    st = http_error(s, &rq, &r, err);
  if (st == CAIRN_OK)
    st = simple_parse(r.body.p, r.body.len, &d, err);
  if (st == CAIRN_OK && (strcmp(d.root, "InitiateMultipartUploadResult") != 0 ||
                         d.upload_id[0] == '\0'))
    st = cairn_error_set(err, CAIRN_CORRUPT,
                         "s3 multipart %s%s: no UploadId in the reply",
                         s->display, w->fkey + strlen(s->root));
  if (st == CAIRN_OK && (w->upload_id = strdup(d.upload_id)) == NULL)
    st = NOMEM(err, "multipart");
  sb_free(&r.body);
  return st;
}

/* "partNumber=N&uploadId=ID" or "uploadId=ID" (part 0) */
static char *mp_query(const s3_writer *w, size_t part) {
  sbuf q = {0};
  if (part > 0)
    sb_printf(&q, "partNumber=%zu&", part);
  sb_str(&q, "uploadId=");
  sb_encoded(&q, w->upload_id, false);
  if (q.oom)
    sb_free(&q);
  return q.p;
}

/* UploadPart of the buffer as part n_parts + 1 */
static cairn_status mp_upload(s3_store *s, s3_writer *w, cairn_error *err) {
  if (w->n_parts == S3_MAX_PARTS)
    return cairn_error_set(err, CAIRN_TOO_LARGE,
                           "s3 writer %s%s: more than %d parts (raise "
                           "part_size)",
                           s->display, w->fkey + strlen(s->root), S3_MAX_PARTS);
  if (w->n_parts == w->cap_parts) {
    size_t cap = w->cap_parts ? w->cap_parts * 2 : 16;
    char **p = realloc(w->etags, cap * sizeof *p);
    if (p == NULL)
      return NOMEM(err, "multipart");
    w->etags = p;
    w->cap_parts = cap;
  }
  char *q = mp_query(w, w->n_parts + 1);
  if (q == NULL)
    return NOMEM(err, "multipart");
  s3_request rq = {.method = "PUT",
                   .key = w->fkey,
                   .query = q,
                   .body = w->buf,
                   .body_len = w->len,
                   .content_type = "application/octet-stream"};
  s3_response r = {0};
  cairn_status st = perform(s, &rq, &r, err);
  if (st == CAIRN_OK && r.code != 200)
    st = http_error(s, &rq, &r, err);
  if (st == CAIRN_OK && r.etag[0] == '\0')
    st = cairn_error_set(err, CAIRN_IO, "s3 part %zu of %s%s: no ETag",
                         w->n_parts + 1, s->display, w->fkey + strlen(s->root));
  if (st == CAIRN_OK && (w->etags[w->n_parts] = strdup(r.etag)) == NULL)
    st = NOMEM(err, "multipart");
  if (st == CAIRN_OK) {
    w->n_parts++;
    w->len = 0;
  }
  sb_free(&r.body);
  free(q);
  return st;
}

static cairn_status flush_part(s3_store *s, s3_writer *w, cairn_error *err) {
  cairn_status st = w->upload_id ? CAIRN_OK : mp_create(s, w, err);
  return st == CAIRN_OK ? mp_upload(s, w, err) : st;
}

static cairn_status s3_writer_append(cairn_obj_writer *base, const void *data,
                                     size_t len, cairn_error *err) {
  s3_writer *w = (s3_writer *)base;
  s3_store *s = (s3_store *)base->store;
  if (w->failed)
    return cairn_error_set(err, CAIRN_IO,
                           "s3 writer %s: an earlier append "
                           "failed",
                           w->fkey);
  const uint8_t *p = data;
  while (len > 0) {
    if (w->len == w->cap && w->cap < s->part_size) { /* grow toward a part */
      size_t cap = w->cap ? w->cap * 4 : 256u << 10;
      cap = cap < s->part_size ? cap : s->part_size;
      uint8_t *nb = realloc(w->buf, cap);
      if (nb == NULL)
        return w->failed = true, NOMEM(err, "writer append");
      w->buf = nb;
      w->cap = cap;
    }
    size_t n = w->cap - w->len < len ? w->cap - w->len : len;
    memcpy(w->buf + w->len, p, n);
    w->len += n, p += n, len -= n;
    if (w->len == s->part_size) {
      cairn_status st = flush_part(s, w, err);
      if (st != CAIRN_OK)
        return w->failed = true, st;
    }
  }
  return CAIRN_OK;
}

static cairn_status mp_complete(s3_store *s, s3_writer *w, cairn_error *err) {
  sbuf b = {0};
  sb_str(&b, "<CompleteMultipartUpload>");
  for (size_t i = 0; i < w->n_parts; i++) {
    sb_printf(&b, "<Part><PartNumber>%zu</PartNumber><ETag>", i + 1);
    for (const char *e = w->etags[i]; *e; e++) /* escape for XML */
      sb_str(&b, *e == '&'   ? "&amp;"
                 : *e == '<' ? "&lt;"
                 : *e == '>' ? "&gt;"
                             : (char[2]){*e, 0});
    sb_str(&b, "</ETag></Part>");
  }
  sb_str(&b, "</CompleteMultipartUpload>");
  char *q = mp_query(w, 0);
  cairn_status st = b.oom || q == NULL ? NOMEM(err, "multipart") : CAIRN_OK;
  s3_request rq = {.method = "POST",
                   .key = w->fkey,
                   .query = q ? q : "",
                   .body = b.p,
                   .body_len = b.len,
                   .content_type = "application/xml"};
  s3_response r = {0};
  simple_doc d;
  if (st == CAIRN_OK)
    st = perform(s, &rq, &r, err);
  if (st == CAIRN_OK && r.code != 200)
    st = http_error(s, &rq, &r, err);
  /* S3 may answer 200 and put an <Error> in the body */
  if (st == CAIRN_OK)
    st = simple_parse(r.body.p, r.body.len, &d, err);
  if (st == CAIRN_OK && strcmp(d.root, "CompleteMultipartUploadResult") != 0)
    st = cairn_error_set(err, CAIRN_IO, "s3 complete %s%s: %s %s: %s",
                         s->display, w->fkey + strlen(s->root), d.root, d.code,
                         d.message);
  sb_free(&r.body);
  sb_free(&b);
  free(q);
  return st;
}

static void mp_abort(s3_store *s, s3_writer *w) {
  char *q = w->upload_id ? mp_query(w, 0) : NULL;
  if (q == NULL)
    return;
  s3_request rq = {.method = "DELETE", .key = w->fkey, .query = q};
  s3_response r = {0};
  cairn_error err = {0};
  cairn_status st = perform(s, &rq, &r, &err);
  if (st == CAIRN_OK && r.code != 204 && r.code != 200 && r.code != 404)
    st = http_error(s, &rq, &r, &err);
  /* the parts stay on the server until a lifecycle rule
   * (AbortIncompleteMultipartUpload) reaps them */
  if (st != CAIRN_OK)
    cairn_log_warn("s3: abort of multipart upload %s failed: %s", w->upload_id,
                   err.message);
  sb_free(&r.body);
  free(q);
}

static void writer_free(s3_writer *w) {
  for (size_t i = 0; i < w->n_parts; i++)
    free(w->etags[i]);
  free(w->etags);
  free(w->upload_id);
  free(w->buf);
  free(w->fkey);
  free(w);
}

static cairn_status s3_writer_commit(cairn_obj_writer *base, cairn_error *err) {
  s3_writer *w = (s3_writer *)base;
  s3_store *s = (s3_store *)base->store;
  cairn_status st;
  if (w->failed)
    st = cairn_error_set(err, CAIRN_IO,
                         "s3 writer %s%s: an earlier append "
                         "failed; nothing published",
                         s->display, w->fkey + strlen(s->root));
  else if (w->upload_id == NULL)
    st = put_object(s, w->fkey, w->buf, w->len, err);
  else if (w->len > 0 && (st = mp_upload(s, w, err)) != CAIRN_OK)
    ;
  else
    st = mp_complete(s, w, err);
  if (st != CAIRN_OK)
    mp_abort(s, w);
  writer_free(w);
  return st;
}

static void s3_writer_abort(cairn_obj_writer *base) {
  s3_writer *w = (s3_writer *)base;
  mp_abort((s3_store *)base->store, w);
  writer_free(w);
}

static const char *s3_local_path(cairn_objstore *s, const char *key, char *buf,
                                 size_t buf_len) {
  (void)s, (void)key, (void)buf, (void)buf_len;
  return NULL; /* objects live on the server only */
}

const cairn_objstore_vtable cairn_objstore_s3_vtable = {
    .name = "s3",
    .open = s3_open,
    .close = s3_close,
    .put = s3_put,
    .get = s3_get,
    .stat = s3_stat,
    .list = s3_list,
    .remove = s3_remove,
    .writer_open = s3_writer_open,
    .writer_append = s3_writer_append,
    .writer_commit = s3_writer_commit,
    .writer_abort = s3_writer_abort,
    .local_path = s3_local_path,
};

/* ==== location from config ================================================ */

cairn_status cairn_objstore_s3_location_from_config(const cairn_config *cfg,
                                                    char **out,
                                                    cairn_error *err) {
  *out = NULL;
  const char *addr = cairn_config_string(cfg, "minio.address");
  const char *bucket = cairn_config_string(cfg, "minio.bucketName");
  const char *root = cairn_config_string(cfg, "minio.rootPath");
  if (addr[0] == '\0' || bucket[0] == '\0')
    return cairn_error_set(
        err, CAIRN_INVALID_ARGUMENT,
        "s3: minio.address and minio.bucketName must be set");
  sbuf b = {0};
  if (strstr(addr, "://") == NULL)
    sb_str(&b, cairn_config_bool(cfg, "minio.useSSL") ? "https://" : "http://");
  sb_str(&b, addr);
  while (b.len > 0 && b.p[b.len - 1] == '/')
    b.p[--b.len] = '\0';
  /* Milvus keeps minio.port apart from minio.address. */
  const char *host = strstr(addr, "://") ? strstr(addr, "://") + 3 : addr;
  int64_t port = cairn_config_int(cfg, "minio.port");
  if (port > 0 && strchr(host, ':') == NULL)
    sb_printf(&b, ":%lld", (long long)port);
  sb_printf(&b, "/%s", bucket);
  while (*root == '/')
    root++;
  if (*root)
    sb_printf(&b, "/%s", root);
  const char *ak = cairn_config_string(cfg, "minio.accessKeyID");
  const char *sk = cairn_config_string(cfg, "minio.secretAccessKey");
  const char *region = cairn_config_string(cfg, "minio.region");
  char sep = '?';
  if (ak[0]) {
    sb_str(&b, "?access_key=");
    sb_encoded(&b, ak, false);
    sb_str(&b, "&secret_key=");
    sb_encoded(&b, sk, false);
    sep = '&';
  }
  if (region[0]) {
    sb_printf(&b, "%cregion=", sep);
    sb_encoded(&b, region, false);
  }
  if (b.oom) {
    sb_free(&b);
    return NOMEM(err, "location");
  }
  *out = b.p;
  return CAIRN_OK;
}
