/*
 * objstore_s3.h — the "s3" object store backend (objstore_s3.c): S3 API over
 * libcurl, requests signed with AWS Signature Version 4. Works with MinIO,
 * AWS S3, Ceph RGW and the s3rver test double. See docs/objstore-s3.md.
 *
 * Location string (the `location` of cairn_objstore_open("s3", ...)):
 *
 *   http[s]://HOST[:PORT]/BUCKET[/ROOT/PATH][?OPTION=VALUE&...]
 *
 *   BUCKET     the bucket (it must exist; the backend never creates it).
 *   ROOT/PATH  optional prefix of every object: key "a/b" is stored as
 *              "ROOT/PATH/a/b". Same character rule as object keys.
 *   options    (values percent-decoded; '+' is a literal '+'):
 *     region=R            signing region; default $AWS_REGION, then
 *                         $AWS_DEFAULT_REGION, then "us-east-1".
 *     style=path|virtual|auto
 *                         addressing: path = http://HOST/BUCKET/KEY,
 *                         virtual = http://BUCKET.HOST/KEY; auto (default) is
 *                         virtual for *.amazonaws.com and path otherwise.
 *     access_key=K, secret_key=S, session_token=T
 *                         credentials; default $AWS_ACCESS_KEY_ID,
 *                         $AWS_SECRET_ACCESS_KEY, $AWS_SESSION_TOKEN. With no
 *                         access key at all requests go unsigned (anonymous).
 *     part_size=SIZE      multipart part size of the writer (default 8MiB,
 *                         5MiB..5GiB; "16MiB" style sizes accepted).
 *     max_keys=N          keys per ListObjectsV2 request (1..1000, default
 *                         1000).
 *     retries=N           extra attempts after a retryable failure (0..30,
 *                         default 5).
 *     backoff_ms=N        first backoff (default 100; doubles per attempt,
 *                         with jitter, capped by backoff_max_ms=N, default
 *                         5000).
 *     connect_timeout_ms=N (default 5000), timeout_ms=N (whole request,
 *                         default 0 = none; a transfer that moves no byte for
 *                         30 s is aborted in any case).
 *     payload=signed|unsigned
 *                         x-amz-content-sha256 of bodies: the body's SHA-256
 *                         (default) or UNSIGNED-PAYLOAD (only sensible over
 *                         https, saves hashing).
 *
 *   Example: "http://127.0.0.1:9000/cairn/files?region=us-east-1&style=path
 *             &access_key=minioadmin&secret_key=minioadmin"
 *
 * Ownership and threading as in objstore.h.
 */
#ifndef CAIRN_OBJSTORE_S3_H
#define CAIRN_OBJSTORE_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "objstore.h"
#include "status.h"

extern const cairn_objstore_vtable cairn_objstore_s3_vtable;

/* A location string from the minio.* keys of cfg (minio.address,
 * minio.useSSL, minio.bucketName, minio.rootPath, minio.accessKeyID,
 * minio.secretAccessKey); region and style are left to their defaults.
 * *out is malloc'd (caller frees); it holds the secret key. */
cairn_status cairn_objstore_s3_location_from_config(const cairn_config *cfg,
                                                    char **out,
                                                    cairn_error *err);

/* ---- pieces exposed for unit tests --------------------------------------- */

/* Percent-encode s[0..len) the SigV4 way (every byte but A-Za-z0-9-._~;
 * '/' kept when keep_slash) into out (NUL-terminated). Returns the length
 * needed without the NUL; out is written only when it is large enough. */
size_t cairn_s3_uri_encode(const char *s, size_t len, bool keep_slash,
                           char *out, size_t out_len);

typedef struct cairn_s3_header {
  const char *name;  /* any case; signed lower-cased */
  const char *value; /* trimmed, inner runs of spaces folded when signed */
} cairn_s3_header;

typedef struct cairn_s3_sign_input {
  const char *method;             /* "GET" */
  const char *canonical_uri;      /* already encoded, "/bucket/key" */
  const char *canonical_query;    /* sorted, encoded "a=1&b=2", or "" */
  const cairn_s3_header *headers; /* every header to sign (host included) */
  size_t n_headers;
  const char *payload_hash; /* hex SHA-256 of the body or UNSIGNED-PAYLOAD */
  const char *amz_date;     /* "20130524T000000Z" */
  const char *region;
  const char *access_key;
  const char *secret_key;
} cairn_s3_sign_input;

/* The Authorization header value ("AWS4-HMAC-SHA256 Credential=...,
 * SignedHeaders=...,Signature=...") written into out; CAIRN_TOO_LARGE when
 * out_len is too small, CAIRN_INVALID_ARGUMENT for > 16 headers. */
cairn_status cairn_s3_sigv4_authorization(const cairn_s3_sign_input *in,
                                          char *out, size_t out_len,
                                          cairn_error *err);

/* Lower-case hex SHA-256 of data (65 bytes with the NUL). */
void cairn_s3_sha256_hex(const void *data, size_t len, char out[65]);

/* One page of a ListObjectsV2 response. */
typedef struct cairn_s3_list_page {
  cairn_obj_info *items; /* malloc'd; keys as stored (root not stripped) */
  size_t n;
  bool truncated;   /* <IsTruncated>true</IsTruncated> */
  char *next_token; /* <NextContinuationToken>, malloc'd, or NULL */
} cairn_s3_list_page;

/* Parse a ListBucketResult document of len bytes (not NUL-terminated, may
 * hold any bytes). Bad XML, a <Contents> without <Key> or a valid <Size>,
 * or an <Error> document give CAIRN_CORRUPT / CAIRN_IO with a message and an
 * empty page; never reads past len. Free with cairn_s3_list_page_free. */
cairn_status cairn_s3_parse_list(const char *xml, size_t len,
                                 cairn_s3_list_page *out, cairn_error *err);
void cairn_s3_list_page_free(cairn_s3_list_page *page);

#endif
