/*
 * meta.h — the meta store: a small key-value interface with etcd v3
 * semantics, behind which the catalogue, TSO high-water mark, node liveness
 * and assignments live (DESIGN §2).
 *
 * Model (the same as etcd v3, so an etcd backend maps one call to one RPC):
 *   - Keys are printable ASCII strings (0x20..0x7e), 1..CAIRN_META_MAX_KEY_LEN
 *     bytes; values are byte strings of 0..CAIRN_META_MAX_VALUE_LEN bytes.
 *   - The store has one global revision counter, starting at 0 for an empty
 *     store. Every committed write (a put, a delete that removed something, a
 *     txn whose chosen branch changed something, a lease expiry that removed
 *     keys) increments it by exactly one; all changes of that write carry the
 *     new revision as their mod_revision. A write that changes nothing does
 *     not bump the revision.
 *   - Per key: create_revision (revision of the put that created it),
 *     mod_revision (of the last change), version (puts since creation, 1 on
 *     creation), lease (0 = none). An absent key has all four equal to 0.
 *   - Transactions: compare-and-swap. All compares are evaluated atomically;
 *     if all hold, the success ops run, otherwise the failure ops. Ops are
 *     put / delete / delete-prefix. Like etcd, a txn may not name the same key
 *     twice (nor put under a prefix it deletes).
 *   - Watch: events (put / delete) for keys under a prefix, delivered on a
 *     background thread, in revision order, starting at a given revision
 *     (history is kept for the last CAIRN_META_HISTORY_REVISIONS revisions
 *     by the embedded backend; older revisions are "compacted").
 *   - Leases: grant(ttl seconds) -> id; keys put with a lease are deleted when
 *     the lease is revoked or when it is not kept alive within its TTL.
 *
 * Durability: when a write call returns CAIRN_OK the change is durable (the
 * embedded backend commits with fsync; etcd commits to a quorum).
 *
 * Ownership: every result buffer returned through an out parameter belongs to
 * the caller and is released with the matching free function
 * (cairn_meta_kv_clear, cairn_meta_kvs_free). Input buffers are only read
 * during the call. Event buffers passed to a watch callback belong to the
 * store and are valid only during that callback.
 *
 * Threading: a cairn_meta handle is safe to use from any number of threads at
 * once. Reads run in parallel (LMDB MVCC snapshots); writes are serialised by
 * the backend. Watch callbacks run on a thread owned by the watch; they may
 * call any meta function, including cairn_meta_watch_cancel on their own
 * watch. cairn_meta_close must not race with other calls on the handle.
 *
 * Backends: a backend is a cairn_meta_vtable (a struct of function pointers,
 * like sqlite3_vfs). Implementations embed `cairn_meta` as the first member of
 * their handle struct. The public functions below validate every argument
 * before calling the backend, so backends can trust their input. The
 * conformance suite in tests/unit/test_meta_conformance.h runs against every
 * backend.
 */
#ifndef CAIRN_META_H
#define CAIRN_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* Limits chosen so that anything accepted by the embedded backend is also
 * accepted by a default etcd (max-request-bytes 1.5 MiB, max-txn-ops 128) and
 * fits LMDB's 511-byte key limit together with our 8-byte prefixes. */
#define CAIRN_META_MAX_KEY_LEN 480
#define CAIRN_META_MAX_VALUE_LEN (1024 * 1024)
#define CAIRN_META_MAX_TXN_OPS 128
/* Embedded backend: revisions of watch history kept (older ones compacted). */
#define CAIRN_META_HISTORY_REVISIONS 10000

typedef struct cairn_meta cairn_meta;
typedef struct cairn_meta_watch cairn_meta_watch;

/* One key-value pair as returned by get / range / watch. */
typedef struct cairn_meta_kv {
  char *key;              /* NUL-terminated */
  size_t key_len;         /* strlen(key) */
  uint8_t *value;         /* value_len bytes, plus a NUL after them (for text) */
  size_t value_len;
  int64_t create_revision;
  int64_t mod_revision;
  int64_t version;
  int64_t lease;          /* 0 = no lease */
} cairn_meta_kv;

/* A range result: keys in ascending byte order. */
typedef struct cairn_meta_kvs {
  cairn_meta_kv *items;   /* count entries; NULL when count == 0 */
  size_t count;
  bool more;              /* true when the limit cut the result short */
  int64_t revision;       /* store revision the snapshot was taken at */
} cairn_meta_kvs;

typedef enum cairn_meta_cmp_target {
  CAIRN_META_CMP_MOD_REVISION,    /* 0 when the key is absent */
  CAIRN_META_CMP_CREATE_REVISION, /* 0 when the key is absent */
  CAIRN_META_CMP_VERSION,         /* 0 when the key is absent */
  CAIRN_META_CMP_VALUE,           /* an absent key never compares equal */
} cairn_meta_cmp_target;

typedef enum cairn_meta_cmp_op {
  CAIRN_META_CMP_EQ,
  CAIRN_META_CMP_NE,
  CAIRN_META_CMP_LT,
  CAIRN_META_CMP_GT,
} cairn_meta_cmp_op;

/* One compare of a txn. For the revision/version targets, `revision` is the
 * operand; for CAIRN_META_CMP_VALUE, value/value_len (byte-wise compare,
 * like memcmp then length). An absent key fails every value compare. */
typedef struct cairn_meta_cmp {
  const char *key;
  cairn_meta_cmp_target target;
  cairn_meta_cmp_op op;
  int64_t revision;
  const void *value;
  size_t value_len;
} cairn_meta_cmp;

typedef enum cairn_meta_op_type {
  CAIRN_META_OP_PUT,
  CAIRN_META_OP_DELETE,        /* the one key; absent is not an error */
  CAIRN_META_OP_DELETE_PREFIX, /* every key starting with `key` */
} cairn_meta_op_type;

typedef struct cairn_meta_op {
  cairn_meta_op_type type;
  const char *key;
  const void *value; /* PUT only */
  size_t value_len;  /* PUT only */
  int64_t lease;     /* PUT only; 0 = none (detaches an earlier lease) */
} cairn_meta_op;

/* A transaction: if every compare holds, run `success`, else `failure`. */
typedef struct cairn_meta_txn {
  const cairn_meta_cmp *compares;
  size_t n_compares;
  const cairn_meta_op *success;
  size_t n_success;
  const cairn_meta_op *failure;
  size_t n_failure;
} cairn_meta_txn;

typedef struct cairn_meta_txn_result {
  bool succeeded;    /* true: compares held and `success` ran */
  int64_t revision;  /* store revision after the txn */
  size_t deleted;    /* keys removed by the branch that ran */
} cairn_meta_txn_result;

typedef enum cairn_meta_event_type {
  CAIRN_META_EVENT_PUT,
  CAIRN_META_EVENT_DELETE,
  /* The watch fell behind the kept history (or the backend lost its stream)
   * and has stopped: kv.mod_revision holds the first revision it could not
   * deliver. Re-read with cairn_meta_range and watch again. Last event. */
  CAIRN_META_EVENT_LOST,
} cairn_meta_event_type;

typedef struct cairn_meta_event {
  cairn_meta_event_type type;
  /* PUT: the new state. DELETE: key, mod_revision = the deleting revision,
   * other fields 0, value empty. */
  cairn_meta_kv kv;
} cairn_meta_event;

/* Called on the watch's own thread, once per event, in revision order (and
 * within a revision in the order the txn applied them). `ev` is valid only
 * during the call. */
typedef void (*cairn_meta_watch_fn)(const cairn_meta_event *ev, void *user);

/* ---- backend interface -------------------------------------------------- */

typedef struct cairn_meta_vtable {
  const char *name; /* "embedded", "etcd" */
  cairn_status (*open)(const char *location, cairn_meta **out, cairn_error *err);
  void (*close)(cairn_meta *m);
  cairn_status (*get)(cairn_meta *m, const char *key, cairn_meta_kv *out,
                      cairn_error *err);
  cairn_status (*range)(cairn_meta *m, const char *prefix, const char *after,
                        size_t limit, cairn_meta_kvs *out, cairn_error *err);
  cairn_status (*txn)(cairn_meta *m, const cairn_meta_txn *txn,
                      cairn_meta_txn_result *out, cairn_error *err);
  cairn_status (*revision)(cairn_meta *m, int64_t *out, cairn_error *err);
  cairn_status (*watch)(cairn_meta *m, const char *prefix, int64_t from_revision,
                        cairn_meta_watch_fn fn, void *user,
                        cairn_meta_watch **out, cairn_error *err);
  void (*watch_cancel)(cairn_meta *m, cairn_meta_watch *w);
  cairn_status (*lease_grant)(cairn_meta *m, int64_t ttl_seconds, int64_t *id,
                              cairn_error *err);
  cairn_status (*lease_keepalive)(cairn_meta *m, int64_t id, cairn_error *err);
  cairn_status (*lease_revoke)(cairn_meta *m, int64_t id, cairn_error *err);
} cairn_meta_vtable;

/* The common head of every backend's handle. */
struct cairn_meta {
  const cairn_meta_vtable *vt;
};

/* ---- opening ------------------------------------------------------------ */

/* Open the backend named `backend_name` ("embedded": LMDB in the directory
 * `location_or_config`, created if missing). Unknown names give
 * CAIRN_INVALID_ARGUMENT "unknown meta store backend 'x' (known: embedded, etcd)".
 * *out is NULL on failure; on success the caller closes it. */
cairn_status cairn_meta_open(const char *backend_name,
                             const char *location_or_config, cairn_meta **out,
                             cairn_error *err);
/* Cancel and free every watch still registered, stop background threads,
 * release the handle. NULL is a no-op. */
void cairn_meta_close(cairn_meta *m);
/* Comma-separated list of known backend names ("embedded"); static string. */
const char *cairn_meta_backends(void);

/* ---- key-value ---------------------------------------------------------- */

/* Fetch one key. Absent: CAIRN_IO_NOT_FOUND (out cleared). On success the
 * caller owns out's buffers: release with cairn_meta_kv_clear. */
cairn_status cairn_meta_get(cairn_meta *m, const char *key, cairn_meta_kv *out,
                            cairn_error *err);
/* Put; *revision (may be NULL) receives the revision of this write. A
 * non-zero lease must exist (else CAIRN_IO_NOT_FOUND). */
cairn_status cairn_meta_put(cairn_meta *m, const char *key, const void *value,
                            size_t value_len, int64_t lease, int64_t *revision,
                            cairn_error *err);
/* Delete one key; *deleted (may be NULL) is 0 or 1. Absent key is OK. */
cairn_status cairn_meta_delete(cairn_meta *m, const char *key, size_t *deleted,
                               cairn_error *err);
/* Delete every key starting with prefix (non-empty). */
cairn_status cairn_meta_delete_prefix(cairn_meta *m, const char *prefix,
                                      size_t *deleted, cairn_error *err);
/* Keys starting with `prefix` ("" = all) and, if `after` is not NULL,
 * strictly greater than `after` (for paging: pass the last key seen), in
 * ascending order, at most `limit` of them (0 = no limit). The caller owns
 * *out: release with cairn_meta_kvs_free. */
cairn_status cairn_meta_range(cairn_meta *m, const char *prefix,
                              const char *after, size_t limit,
                              cairn_meta_kvs *out, cairn_error *err);
/* Compare-and-swap transaction; see cairn_meta_txn. out may be NULL. */
cairn_status cairn_meta_txn_commit(cairn_meta *m, const cairn_meta_txn *txn,
                                   cairn_meta_txn_result *out, cairn_error *err);
/* Current store revision. */
cairn_status cairn_meta_revision(cairn_meta *m, int64_t *out, cairn_error *err);

/* Release the buffers of one kv and zero it. NULL / zeroed is a no-op. */
void cairn_meta_kv_clear(cairn_meta_kv *kv);
/* Release a range result and zero it. NULL / zeroed is a no-op. */
void cairn_meta_kvs_free(cairn_meta_kvs *kvs);

/* ---- watch -------------------------------------------------------------- */

/* Watch keys starting with `prefix` ("" = all). from_revision 0 = events
 * after the current revision; otherwise events with mod_revision >=
 * from_revision (a compacted revision gives CAIRN_INVALID_ARGUMENT naming the
 * oldest available one). Pattern for a consistent cache: range (snapshot at
 * revision R), then watch from R + 1. *out is owned by the store until
 * cairn_meta_watch_cancel. */
cairn_status cairn_meta_watch_start(cairn_meta *m, const char *prefix,
                                    int64_t from_revision,
                                    cairn_meta_watch_fn fn, void *user,
                                    cairn_meta_watch **out, cairn_error *err);
/* Stop a watch and free it. When it returns (from any other thread) no
 * callback of this watch is running or will run. Called from the watch's own
 * callback it stops delivery after that callback returns. NULL is a no-op. */
void cairn_meta_watch_cancel(cairn_meta *m, cairn_meta_watch *w);

/* ---- leases ------------------------------------------------------------- */

/* Grant a lease of ttl_seconds (1..1e6); *id receives its non-zero id. */
cairn_status cairn_meta_lease_grant(cairn_meta *m, int64_t ttl_seconds,
                                    int64_t *id, cairn_error *err);
/* Renew the lease for another full TTL. Expired or unknown:
 * CAIRN_IO_NOT_FOUND. */
cairn_status cairn_meta_lease_keepalive(cairn_meta *m, int64_t id,
                                        cairn_error *err);
/* Revoke the lease, deleting every key attached to it (one revision).
 * Unknown: CAIRN_IO_NOT_FOUND. */
cairn_status cairn_meta_lease_revoke(cairn_meta *m, int64_t id,
                                     cairn_error *err);

/* ---- helpers for backends and tests ------------------------------------- */

/* True when key is a valid meta key (see limits above). */
bool cairn_meta_key_valid(const char *key);
/* Deep-copy a kv (used by backends); CAIRN_NOMEM on allocation failure. */
cairn_status cairn_meta_kv_copy(cairn_meta_kv *dst, const char *key,
                                const void *value, size_t value_len,
                                int64_t create_revision, int64_t mod_revision,
                                int64_t version, int64_t lease);

extern const cairn_meta_vtable cairn_meta_embedded_vtable;

#endif
