/*
 * meta_lmdb.c — the "embedded" meta store backend: one LMDB environment in a
 * directory, durable on commit.
 *
 * On-disk layout (directory given to cairn_meta_open):
 *   LOCK       an empty file held with flock(LOCK_EX) while open, so a second
 *              process (or a second open in this process, which LMDB forbids)
 *              gets a clear "in use" error instead of silent corruption.
 *   data.mdb, lock.mdb   the LMDB environment (default sync mode: every
 *              commit is fsync'ed before mdb_txn_commit returns, so a write
 *              acknowledged to the caller survives kill -9 and power loss).
 * Named databases (all integers little-endian unless noted):
 *   "info"  "format" -> "cairn-meta-lmdb 1"; "revision" -> int64, the global
 *           revision; "next_lease" -> int64; "compacted" -> int64, history
 *           with revision <= compacted has been dropped.
 *   "kv"    key bytes -> record: create_rev i64 | mod_rev i64 | version i64 |
 *           lease i64 | value bytes (32-byte header then the value).
 *   "hist"  rev (u64 big-endian, so byte order = numeric order) | seq (u32
 *           big-endian, order within the revision) -> event: type u8 (0 put,
 *           1 delete) | key_len u16 | key | record as in "kv" (a delete has a
 *           header of zeros except mod_rev, and no value).
 *   "lease" id (u64 big-endian) -> ttl_seconds i64.
 *   "lkeys" DUPSORT: lease id (u64 big-endian) -> each key attached to it.
 * The revision in "info" is written in the same LMDB transaction as the data
 * and history it numbers, so they can never disagree after a crash.
 *
 * History: every write appends its events to "hist"; watchers read from
 * there, so delivery is in revision order, survives slow consumers up to the
 * kept window, and a watch can start from a past revision. When more than
 * CAIRN_META_HISTORY_REVISIONS + HIST_SLACK revisions are kept, or history
 * pages exceed HIST_MAX_BYTES (1 GiB of the 4 GiB map; values can be 1 MiB),
 * the write that notices drops the oldest HIST_SLACK revisions (bounded work
 * per write).
 *
 * Leases: TTLs are persisted; deadlines are kept in memory on the monotonic
 * clock and restart at open + ttl (as etcd does after a leader change). A
 * reaper thread revokes expired leases: first it removes the lease from the
 * in-memory table (so a racing keepalive fails), then it deletes the attached
 * keys and the lease record in one write transaction.
 *
 * Threading:
 *   write_mu  serialises write transactions (LMDB does too; ours also orders
 *             the bookkeeping after commit). Taken before mu, never after.
 *   mu        guards committed_rev, the lease table, the watch list and the
 *             stopping flag; `changed` is broadcast after each commit,
 *             `reaper_cv` when the lease table changes.
 *   Reads use MDB_RDONLY transactions (env opened MDB_NOTLS so any thread
 *   may hold several) and take no lock of ours.
 *   Each watch owns one thread that waits on `changed`, copies a batch of
 *   events out of a read transaction, closes it, then calls the callback
 *   with no lock held (so callbacks may write to the store).
 *
 * XXX: one thread per watch is fine for the handful of watches a role keeps;
 * a shared dispatcher would be needed for thousands.
 */
#include "clock.h"
#include "meta.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define FORMAT_TAG "cairn-meta-lmdb 1"
#define MAP_SIZE ((size_t)4 << 30) /* virtual reservation; file grows as used */
#define REC_HDR 32
#define HIST_SLACK 1000
#define HIST_MAX_BYTES ((size_t)1 << 30) /* history beyond this is compacted */
#define WATCH_BATCH 256

typedef struct lease_slot {
  int64_t id;
  int64_t ttl;         /* seconds */
  int64_t deadline_ms; /* CLOCK_MONOTONIC */
} lease_slot;

struct cairn_meta_watch {
  struct embedded *store;
  char *prefix;
  int64_t next_rev;     /* first revision not yet delivered (watch thread) */
  cairn_meta_watch_fn fn;
  void *user;
  pthread_t thread;
  atomic_bool cancelled;
  bool self_free;       /* cancelled from its own callback: thread frees w */
  struct cairn_meta_watch *next; /* in store->watches, guarded by mu */
};

typedef struct embedded {
  cairn_meta base;
  MDB_env *env;
  MDB_dbi info, kv, hist, lease, lkeys;
  int lock_fd;
  char *dir;
  pthread_mutex_t write_mu;
  pthread_mutex_t mu;
  pthread_cond_t changed;   /* with mu: a commit happened or a watch stopped */
  pthread_cond_t reaper_cv; /* with mu: lease table changed or stopping */
  int64_t committed_rev;    /* guarded by mu */
  lease_slot *leases;       /* guarded by mu */
  size_t n_leases, cap_leases;
  struct cairn_meta_watch *watches; /* guarded by mu */
  bool stopping;                    /* guarded by mu */
  pthread_t reaper;
  bool reaper_started;
} embedded;

/* ---- encoding ----------------------------------------------------------- */

static void put_le64(uint8_t *p, int64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)((uint64_t)v >> (8 * i));
}
static int64_t get_le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v |= (uint64_t)p[i] << (8 * i);
  return (int64_t)v;
}
static void put_be64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (56 - 8 * i));
}
static uint64_t get_be64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = (v << 8) | p[i];
  return v;
}

typedef struct record {
  int64_t create_rev, mod_rev, version, lease;
  const uint8_t *value;
  size_t value_len;
} record;

static bool decode_record(const MDB_val *v, record *r) {
  if (v->mv_size < REC_HDR)
    return false;
  const uint8_t *p = v->mv_data;
  r->create_rev = get_le64(p);
  r->mod_rev = get_le64(p + 8);
  r->version = get_le64(p + 16);
  r->lease = get_le64(p + 24);
  r->value = p + REC_HDR;
  r->value_len = v->mv_size - REC_HDR;
  return true;
}

static void encode_header(uint8_t *p, const record *r) {
  put_le64(p, r->create_rev);
  put_le64(p + 8, r->mod_rev);
  put_le64(p + 16, r->version);
  put_le64(p + 24, r->lease);
}

static MDB_val str_val(const char *s) {
  return (MDB_val){.mv_size = strlen(s), .mv_data = (void *)s};
}

static cairn_status lmdb_fail(cairn_error *err, const char *what, int rc) {
  if (rc == MDB_MAP_FULL)
    return cairn_error_set(err, CAIRN_IO, "meta store full during %s (%s)",
                           what, mdb_strerror(rc));
  return cairn_error_set(err, rc == MDB_CORRUPTED ? CAIRN_CORRUPT : CAIRN_IO,
                         "meta store %s failed: %s", what, mdb_strerror(rc));
}

static int info_get(embedded *s, MDB_txn *t, const char *name, int64_t *out) {
  MDB_val k = str_val(name), v;
  *out = 0;
  int rc = mdb_get(t, s->info, &k, &v);
  if (rc == MDB_NOTFOUND)
    return 0;
  if (rc == 0 && v.mv_size == 8)
    *out = get_le64(v.mv_data);
  return rc == 0 && v.mv_size != 8 ? MDB_CORRUPTED : rc;
}

static int info_put(embedded *s, MDB_txn *t, const char *name, int64_t val) {
  uint8_t buf[8];
  put_le64(buf, val);
  MDB_val k = str_val(name), v = {.mv_size = 8, .mv_data = buf};
  return mdb_put(t, s->info, &k, &v, 0);
}

/* ---- write transactions ------------------------------------------------- */

/* State of one write transaction while its ops are applied. */
typedef struct wctx {
  embedded *s;
  MDB_txn *t;
  int64_t new_rev; /* revision every change of this txn carries */
  uint32_t seq;    /* next history sequence number within new_rev */
  bool changed;    /* something numbered by new_rev was written */
  bool dirty;      /* something else (a lease record) must be committed */
  size_t deleted;
} wctx;

static int hist_append(wctx *w, int type, const char *key, const record *r) {
  size_t klen = strlen(key);
  size_t n = 3 + klen + REC_HDR + r->value_len;
  uint8_t hk[12];
  put_be64(hk, (uint64_t)w->new_rev);
  hk[8] = (uint8_t)(w->seq >> 24), hk[9] = (uint8_t)(w->seq >> 16);
  hk[10] = (uint8_t)(w->seq >> 8), hk[11] = (uint8_t)w->seq;
  w->seq++;
  MDB_val k = {.mv_size = 12, .mv_data = hk}, v = {.mv_size = n};
  int rc = mdb_put(w->t, w->s->hist, &k, &v, MDB_RESERVE);
  if (rc != 0)
    return rc;
  uint8_t *p = v.mv_data;
  p[0] = (uint8_t)type;
  p[1] = (uint8_t)klen, p[2] = (uint8_t)(klen >> 8);
  memcpy(p + 3, key, klen);
  encode_header(p + 3 + klen, r);
  if (r->value_len > 0)
    memcpy(p + 3 + klen + REC_HDR, r->value, r->value_len);
  return 0;
}

static int lkey_op(wctx *w, int64_t lease, const char *key, bool add) {
  uint8_t id[8];
  put_be64(id, (uint64_t)lease);
  MDB_val k = {.mv_size = 8, .mv_data = id}, v = str_val(key);
  int rc = add ? mdb_put(w->t, w->s->lkeys, &k, &v, MDB_NODUPDATA)
               : mdb_del(w->t, w->s->lkeys, &k, &v);
  return rc == MDB_KEYEXIST || rc == MDB_NOTFOUND ? 0 : rc;
}

/* Delete one present key: kv row, lease link, history event. */
static int delete_key(wctx *w, const char *key, const record *old) {
  MDB_val k = str_val(key);
  int rc = mdb_del(w->t, w->s->kv, &k, NULL);
  if (rc == 0 && old->lease != 0)
    rc = lkey_op(w, old->lease, key, false);
  record ev = {.mod_rev = w->new_rev};
  if (rc == 0)
    rc = hist_append(w, 1, key, &ev);
  if (rc == 0)
    w->changed = true, w->deleted++;
  return rc;
}

static int lookup(wctx *w, const char *key, record *r, bool *found) {
  MDB_val k = str_val(key), v;
  int rc = mdb_get(w->t, w->s->kv, &k, &v);
  *found = rc == 0;
  if (rc == MDB_NOTFOUND)
    return 0;
  if (rc == 0 && !decode_record(&v, r))
    return MDB_CORRUPTED;
  return rc;
}

static cairn_status apply_put(wctx *w, const cairn_meta_op *op, cairn_error *err) {
  if (op->lease != 0) {
    uint8_t id[8];
    put_be64(id, (uint64_t)op->lease);
    MDB_val k = {.mv_size = 8, .mv_data = id}, v;
    int rc = mdb_get(w->t, w->s->lease, &k, &v);
    if (rc == MDB_NOTFOUND)
      return cairn_error_set(err, CAIRN_IO_NOT_FOUND,
                             "meta put '%s': lease %lld not found", op->key,
                             (long long)op->lease);
    if (rc != 0)
      return lmdb_fail(err, "lease lookup", rc);
  }
  record old = {0}, r = {0};
  bool found;
  int rc = lookup(w, op->key, &old, &found);
  r.create_rev = found ? old.create_rev : w->new_rev;
  r.version = found ? old.version + 1 : 1;
  r.mod_rev = w->new_rev;
  r.lease = op->lease;
  r.value = op->value;
  r.value_len = op->value_len;
  if (rc == 0 && found && old.lease != 0 && old.lease != op->lease)
    rc = lkey_op(w, old.lease, op->key, false);
  if (rc == 0 && op->lease != 0)
    rc = lkey_op(w, op->lease, op->key, true);
  MDB_val k = str_val(op->key), v = {.mv_size = REC_HDR + op->value_len};
  if (rc == 0)
    rc = mdb_put(w->t, w->s->kv, &k, &v, MDB_RESERVE);
  if (rc == 0) {
    encode_header(v.mv_data, &r);
    if (op->value_len > 0)
      memcpy((uint8_t *)v.mv_data + REC_HDR, op->value, op->value_len);
    rc = hist_append(w, 0, op->key, &r);
  }
  if (rc != 0)
    return lmdb_fail(err, "put", rc);
  w->changed = true;
  return CAIRN_OK;
}

/* Collect the keys under prefix first, then delete them one by one (no
 * cursor is live while deleting). */
static cairn_status apply_delete_prefix(wctx *w, const char *prefix,
                                        cairn_error *err) {
  MDB_cursor *c;
  int rc = mdb_cursor_open(w->t, w->s->kv, &c);
  if (rc != 0)
    return lmdb_fail(err, "cursor", rc);
  size_t plen = strlen(prefix), n = 0, cap = 0;
  char **keys = NULL;
  bool oom = false;
  MDB_val k = str_val(prefix), v;
  for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && !oom;
       rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
      break;
    if (n == cap) {
      cap = cap ? cap * 2 : 16;
      char **nk = realloc(keys, cap * sizeof *keys);
      oom = nk == NULL;
      keys = nk ? nk : keys;
    }
    if (!oom && (keys[n] = strndup(k.mv_data, k.mv_size)) != NULL)
      n++;
    else
      oom = true;
  }
  mdb_cursor_close(c);
  rc = rc == MDB_NOTFOUND ? 0 : rc;
  for (size_t i = 0; i < n && rc == 0 && !oom; i++) {
    record old;
    bool found;
    rc = lookup(w, keys[i], &old, &found);
    if (rc == 0 && found)
      rc = delete_key(w, keys[i], &old);
  }
  for (size_t i = 0; i < n; i++)
    free(keys[i]);
  free(keys);
  if (oom)
    return cairn_error_set(err, CAIRN_NOMEM, "meta delete prefix: out of memory");
  return rc != 0 ? lmdb_fail(err, "delete prefix", rc) : CAIRN_OK;
}

static cairn_status apply_op(wctx *w, const cairn_meta_op *op, cairn_error *err) {
  if (op->type == CAIRN_META_OP_PUT)
    return apply_put(w, op, err);
  if (op->type == CAIRN_META_OP_DELETE_PREFIX)
    return apply_delete_prefix(w, op->key, err);
  record old;
  bool found;
  int rc = lookup(w, op->key, &old, &found);
  if (rc == 0 && found)
    rc = delete_key(w, op->key, &old);
  return rc != 0 ? lmdb_fail(err, "delete", rc) : CAIRN_OK;
}

/* Bytes of pages held by the history database. */
static size_t hist_bytes(wctx *w) {
  MDB_stat st;
  if (mdb_stat(w->t, w->s->hist, &st) != 0)
    return 0;
  return (st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) *
         (size_t)st.ms_psize;
}

/* Drop the oldest HIST_SLACK revisions of history once the window is full,
 * or once history outgrows HIST_MAX_BYTES (large values), keeping at least
 * the newest revision. */
static int compact_history(wctx *w) {
  int64_t compacted;
  int rc = info_get(w->s, w->t, "compacted", &compacted);
  bool full = w->new_rev - compacted > CAIRN_META_HISTORY_REVISIONS + HIST_SLACK;
  if (rc != 0 || (!full && (w->new_rev - compacted <= 1 ||
                            hist_bytes(w) <= HIST_MAX_BYTES)))
    return rc;
  int64_t upto = compacted + HIST_SLACK;
  if (upto >= w->new_rev)
    upto = w->new_rev - 1;
  MDB_cursor *c;
  if ((rc = mdb_cursor_open(w->t, w->s->hist, &c)) != 0)
    return rc;
  MDB_val k, v;
  while ((rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) == 0 &&
         (int64_t)get_be64(k.mv_data) <= upto)
    if ((rc = mdb_cursor_del(c, 0)) != 0)
      break;
  mdb_cursor_close(c);
  if (rc != 0 && rc != MDB_NOTFOUND)
    return rc;
  return info_put(w->s, w->t, "compacted", upto);
}

/* Begin a write: takes write_mu (released by write_end). */
static cairn_status write_begin(embedded *s, wctx *w, cairn_error *err) {
  memset(w, 0, sizeof *w);
  w->s = s;
  pthread_mutex_lock(&s->write_mu);
  int64_t rev;
  int rc = mdb_txn_begin(s->env, NULL, 0, &w->t);
  if (rc == 0 && (rc = info_get(s, w->t, "revision", &rev)) != 0)
    mdb_txn_abort(w->t);
  if (rc != 0) {
    pthread_mutex_unlock(&s->write_mu);
    return lmdb_fail(err, "begin write", rc);
  }
  w->new_rev = rev + 1;
  return CAIRN_OK;
}

/* Commit (if anything changed and st is OK) or abort; wake watchers; release
 * write_mu. *rev receives the store revision after the write. */
static cairn_status write_end(wctx *w, cairn_status st, int64_t *rev,
                              cairn_error *err) {
  embedded *s = w->s;
  int rc = 0;
  if (st == CAIRN_OK && (w->changed || w->dirty)) {
    if (w->changed)
      rc = info_put(s, w->t, "revision", w->new_rev);
    if (rc == 0 && w->changed)
      rc = compact_history(w);
    rc = rc == 0 ? mdb_txn_commit(w->t) : (mdb_txn_abort(w->t), rc);
    if (rc != 0)
      st = lmdb_fail(err, "commit", rc);
  } else {
    mdb_txn_abort(w->t);
  }
  bool committed = st == CAIRN_OK && w->changed;
  pthread_mutex_lock(&s->mu);
  if (committed) {
    s->committed_rev = w->new_rev;
    pthread_cond_broadcast(&s->changed);
  }
  if (rev != NULL)
    *rev = s->committed_rev;
  pthread_mutex_unlock(&s->mu);
  pthread_mutex_unlock(&s->write_mu);
  return st;
}

/* ---- txn ---------------------------------------------------------------- */

static int cmp_int(int64_t a, int64_t b) { return a < b ? -1 : a > b; }

static bool compare_holds(const cairn_meta_cmp *c, const record *r, bool found) {
  int ord;
  switch (c->target) {
  case CAIRN_META_CMP_MOD_REVISION:
    ord = cmp_int(found ? r->mod_rev : 0, c->revision);
    break;
  case CAIRN_META_CMP_CREATE_REVISION:
    ord = cmp_int(found ? r->create_rev : 0, c->revision);
    break;
  case CAIRN_META_CMP_VERSION:
    ord = cmp_int(found ? r->version : 0, c->revision);
    break;
  default: {
    if (!found)
      return false;
    size_t n = r->value_len < c->value_len ? r->value_len : c->value_len;
    ord = n ? memcmp(r->value, c->value, n) : 0;
    ord = ord ? (ord > 0) - (ord < 0) : cmp_int((int64_t)r->value_len, (int64_t)c->value_len);
  }
  }
  switch (c->op) {
  case CAIRN_META_CMP_EQ: return ord == 0;
  case CAIRN_META_CMP_NE: return ord != 0;
  case CAIRN_META_CMP_LT: return ord < 0;
  default: return ord > 0;
  }
}

static cairn_status emb_txn(cairn_meta *m, const cairn_meta_txn *txn,
                            cairn_meta_txn_result *out, cairn_error *err) {
  embedded *s = (embedded *)m;
  wctx w;
  cairn_status st = write_begin(s, &w, err);
  if (st != CAIRN_OK)
    return st;
  bool ok = true;
  for (size_t i = 0; i < txn->n_compares && ok && st == CAIRN_OK; i++) {
    record r;
    bool found;
    int rc = lookup(&w, txn->compares[i].key, &r, &found);
    if (rc != 0)
      st = lmdb_fail(err, "txn compare", rc);
    ok = compare_holds(&txn->compares[i], &r, found);
  }
  const cairn_meta_op *ops = ok ? txn->success : txn->failure;
  size_t n = ok ? txn->n_success : txn->n_failure;
  for (size_t i = 0; i < n && st == CAIRN_OK; i++)
    st = apply_op(&w, &ops[i], err);
  out->succeeded = ok;
  out->deleted = w.deleted;
  return write_end(&w, st, &out->revision, err);
}

/* ---- reads -------------------------------------------------------------- */

static cairn_status emb_get(cairn_meta *m, const char *key, cairn_meta_kv *out,
                            cairn_error *err) {
  embedded *s = (embedded *)m;
  MDB_txn *t;
  int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t);
  if (rc != 0)
    return lmdb_fail(err, "begin read", rc);
  MDB_val k = str_val(key), v;
  record r;
  cairn_status st = CAIRN_OK;
  rc = mdb_get(t, s->kv, &k, &v);
  if (rc == MDB_NOTFOUND)
    st = cairn_error_set(err, CAIRN_IO_NOT_FOUND, "meta key '%s' not found", key);
  else if (rc != 0 || !decode_record(&v, &r))
    st = lmdb_fail(err, "get", rc ? rc : MDB_CORRUPTED);
  else if ((st = cairn_meta_kv_copy(out, key, r.value, r.value_len, r.create_rev,
                                    r.mod_rev, r.version, r.lease)) != CAIRN_OK)
    cairn_error_set(err, st, "meta get: out of memory");
  mdb_txn_abort(t);
  return st;
}

static cairn_status kvs_push(cairn_meta_kvs *out, size_t *cap, const MDB_val *k,
                             const record *r) {
  if (out->count == *cap) {
    size_t nc = *cap ? *cap * 2 : 16;
    cairn_meta_kv *ni = realloc(out->items, nc * sizeof *ni);
    if (ni == NULL)
      return CAIRN_NOMEM;
    out->items = ni, *cap = nc;
  }
  char kb[CAIRN_META_MAX_KEY_LEN + 1];
  size_t kl = k->mv_size < sizeof kb ? k->mv_size : sizeof kb - 1;
  memcpy(kb, k->mv_data, kl);
  kb[kl] = '\0';
  cairn_status st = cairn_meta_kv_copy(&out->items[out->count], kb, r->value,
                                       r->value_len, r->create_rev, r->mod_rev,
                                       r->version, r->lease);
  if (st == CAIRN_OK)
    out->count++;
  return st;
}

/* Position c at the first key >= prefix and > after. */
static int range_seek(MDB_cursor *c, const char *prefix, const char *after,
                      MDB_val *k, MDB_val *v) {
  bool use_after = after != NULL && strcmp(after, prefix) >= 0;
  *k = str_val(use_after ? after : prefix);
  /* LMDB rejects an empty search key: "" means from the first key */
  int rc = mdb_cursor_get(c, k, v, k->mv_size ? MDB_SET_RANGE : MDB_FIRST);
  if (rc == 0 && use_after && k->mv_size == strlen(after) &&
      memcmp(k->mv_data, after, k->mv_size) == 0)
    rc = mdb_cursor_get(c, k, v, MDB_NEXT);
  return rc;
}

static cairn_status range_scan(embedded *s, MDB_txn *t, const char *prefix,
                               const char *after, size_t limit,
                               cairn_meta_kvs *out, cairn_error *err) {
  MDB_cursor *c;
  int rc = mdb_cursor_open(t, s->kv, &c);
  if (rc != 0)
    return lmdb_fail(err, "cursor", rc);
  size_t plen = strlen(prefix), cap = 0;
  cairn_status st = CAIRN_OK;
  MDB_val k, v;
  for (rc = range_seek(c, prefix, after, &k, &v); rc == 0 && st == CAIRN_OK;
       rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
      break;
    if (limit != 0 && out->count == limit) {
      out->more = true;
      break;
    }
    record r;
    if (!decode_record(&v, &r))
      st = lmdb_fail(err, "range", MDB_CORRUPTED);
    else if ((st = kvs_push(out, &cap, &k, &r)) != CAIRN_OK)
      cairn_error_set(err, st, "meta range: out of memory");
  }
  mdb_cursor_close(c);
  if (st == CAIRN_OK && rc != 0 && rc != MDB_NOTFOUND)
    st = lmdb_fail(err, "range", rc);
  return st;
}

static cairn_status emb_range(cairn_meta *m, const char *prefix, const char *after,
                              size_t limit, cairn_meta_kvs *out,
                              cairn_error *err) {
  embedded *s = (embedded *)m;
  MDB_txn *t;
  int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t);
  if (rc != 0)
    return lmdb_fail(err, "begin read", rc);
  cairn_status st = CAIRN_OK;
  if ((rc = info_get(s, t, "revision", &out->revision)) != 0)
    st = lmdb_fail(err, "range", rc);
  else
    st = range_scan(s, t, prefix, after, limit, out, err);
  mdb_txn_abort(t);
  if (st != CAIRN_OK)
    cairn_meta_kvs_free(out);
  return st;
}

static cairn_status emb_revision(cairn_meta *m, int64_t *out, cairn_error *err) {
  embedded *s = (embedded *)m;
  (void)err;
  pthread_mutex_lock(&s->mu);
  *out = s->committed_rev;
  pthread_mutex_unlock(&s->mu);
  return CAIRN_OK;
}

/* ---- leases ------------------------------------------------------------- */

static lease_slot *lease_find_nolock(embedded *s, int64_t id) {
  for (size_t i = 0; i < s->n_leases; i++)
    if (s->leases[i].id == id)
      return &s->leases[i];
  return NULL;
}

static bool lease_remove_nolock(embedded *s, int64_t id) {
  lease_slot *l = lease_find_nolock(s, id);
  if (l == NULL)
    return false;
  *l = s->leases[--s->n_leases];
  return true;
}

static bool lease_add_nolock(embedded *s, int64_t id, int64_t ttl) {
  if (s->n_leases == s->cap_leases) {
    size_t nc = s->cap_leases ? s->cap_leases * 2 : 16;
    lease_slot *nl = realloc(s->leases, nc * sizeof *nl);
    if (nl == NULL)
      return false;
    s->leases = nl, s->cap_leases = nc;
  }
  s->leases[s->n_leases++] =
      (lease_slot){.id = id, .ttl = ttl, .deadline_ms = cairn_monotonic_ms() + ttl * 1000};
  pthread_cond_signal(&s->reaper_cv);
  return true;
}

static cairn_status emb_lease_grant(cairn_meta *m, int64_t ttl, int64_t *id,
                                    cairn_error *err) {
  embedded *s = (embedded *)m;
  wctx w;
  cairn_status st = write_begin(s, &w, err);
  if (st != CAIRN_OK)
    return st;
  int64_t next;
  uint8_t kb[8], vb[8];
  int rc = info_get(s, w.t, "next_lease", &next);
  next = next > 0 ? next : 1;
  put_be64(kb, (uint64_t)next);
  put_le64(vb, ttl);
  MDB_val k = {.mv_size = 8, .mv_data = kb}, v = {.mv_size = 8, .mv_data = vb};
  if (rc == 0)
    rc = mdb_put(w.t, s->lease, &k, &v, 0);
  if (rc == 0)
    rc = info_put(s, w.t, "next_lease", next + 1);
  if (rc == 0)
    rc = mdb_txn_commit(w.t);
  else
    mdb_txn_abort(w.t);
  if (rc != 0)
    st = lmdb_fail(err, "lease grant", rc);
  pthread_mutex_lock(&s->mu);
  if (st == CAIRN_OK && !lease_add_nolock(s, next, ttl))
    st = cairn_error_set(err, CAIRN_NOMEM, "lease grant: out of memory");
  pthread_mutex_unlock(&s->mu);
  pthread_mutex_unlock(&s->write_mu);
  if (st == CAIRN_OK)
    *id = next;
  return st;
}

static cairn_status emb_lease_keepalive(cairn_meta *m, int64_t id,
                                        cairn_error *err) {
  embedded *s = (embedded *)m;
  pthread_mutex_lock(&s->mu);
  lease_slot *l = lease_find_nolock(s, id);
  if (l != NULL)
    l->deadline_ms = cairn_monotonic_ms() + l->ttl * 1000;
  pthread_mutex_unlock(&s->mu);
  if (l == NULL)
    return cairn_error_set(err, CAIRN_IO_NOT_FOUND,
                           "lease %lld not found or expired", (long long)id);
  return CAIRN_OK;
}

/* Collect the keys attached to lease id (DUPSORT values). */
static int lease_keys(wctx *w, const uint8_t id[8], char ***keys, size_t *n) {
  MDB_cursor *c;
  int rc = mdb_cursor_open(w->t, w->s->lkeys, &c);
  if (rc != 0)
    return rc;
  size_t cap = 0;
  MDB_val k = {.mv_size = 8, .mv_data = (void *)id}, v;
  for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY); rc == 0;
       rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_DUP)) {
    if (*n == cap) {
      cap = cap ? cap * 2 : 16;
      char **nk = realloc(*keys, cap * sizeof *nk);
      if (nk == NULL)
        break;
      *keys = nk;
    }
    if (((*keys)[*n] = strndup(v.mv_data, v.mv_size)) == NULL)
      break;
    (*n)++;
  }
  mdb_cursor_close(c);
  return rc == MDB_NOTFOUND ? 0 : (rc == 0 ? ENOMEM : rc);
}

/* Delete a lease's keys and record in one write; IO_NOT_FOUND if unknown. */
static cairn_status revoke_write(embedded *s, int64_t id, cairn_error *err) {
  wctx w;
  cairn_status st = write_begin(s, &w, err);
  if (st != CAIRN_OK)
    return st;
  uint8_t kb[8];
  put_be64(kb, (uint64_t)id);
  MDB_val k = {.mv_size = 8, .mv_data = kb};
  int rc = mdb_del(w.t, s->lease, &k, NULL);
  char **keys = NULL;
  size_t n = 0;
  if (rc == MDB_NOTFOUND)
    st = cairn_error_set(err, CAIRN_IO_NOT_FOUND, "lease %lld not found",
                         (long long)id);
  else if (rc == 0)
    rc = lease_keys(&w, kb, &keys, &n);
  for (size_t i = 0; i < n && rc == 0 && st == CAIRN_OK; i++) {
    record old;
    bool found;
    rc = lookup(&w, keys[i], &old, &found);
    if (rc == 0 && found && old.lease == id)
      rc = delete_key(&w, keys[i], &old);
  }
  if (rc == 0 && st == CAIRN_OK)
    rc = mdb_del(w.t, s->lkeys, &k, NULL);
  for (size_t i = 0; i < n; i++)
    free(keys[i]);
  free(keys);
  if (rc != 0 && rc != MDB_NOTFOUND && st == CAIRN_OK)
    st = lmdb_fail(err, "lease revoke", rc);
  w.dirty = true; /* the lease record removal */
  return write_end(&w, st, NULL, err);
}

static cairn_status emb_lease_revoke(cairn_meta *m, int64_t id, cairn_error *err) {
  embedded *s = (embedded *)m;
  pthread_mutex_lock(&s->mu);
  lease_remove_nolock(s, id);
  pthread_mutex_unlock(&s->mu);
  return revoke_write(s, id, err);
}

static void *reaper_main(void *arg) {
  embedded *s = arg;
  pthread_mutex_lock(&s->mu);
  while (!s->stopping) {
    int64_t now = cairn_monotonic_ms(), next = now + 1000, expired = 0;
    for (size_t i = 0; i < s->n_leases && expired == 0; i++) {
      if (s->leases[i].deadline_ms <= now)
        expired = s->leases[i].id;
      else if (s->leases[i].deadline_ms < next)
        next = s->leases[i].deadline_ms;
    }
    if (expired != 0) {
      lease_remove_nolock(s, expired);
      pthread_mutex_unlock(&s->mu);
      cairn_error err;
      if (revoke_write(s, expired, &err) != CAIRN_OK)
        cairn_log_warn("meta: expiring lease %lld: %s", (long long)expired,
                       err.message);
      pthread_mutex_lock(&s->mu);
      continue;
    }
    struct timespec ts = {.tv_sec = next / 1000, .tv_nsec = (next % 1000) * 1000000};
    pthread_cond_timedwait(&s->reaper_cv, &s->mu, &ts);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

/* ---- watch -------------------------------------------------------------- */

typedef struct batch {
  cairn_meta_event *ev;
  size_t n, cap;
  bool lost;        /* history before next_rev was compacted */
  int64_t next_rev; /* first revision after the batch */
} batch;

static void batch_clear(batch *b) {
  for (size_t i = 0; i < b->n; i++)
    cairn_meta_kv_clear(&b->ev[i].kv);
  free(b->ev);
  memset(b, 0, sizeof *b);
}

static int batch_push(batch *b, const MDB_val *v, int64_t rev) {
  const uint8_t *p = v->mv_data;
  if (v->mv_size < 3 + REC_HDR)
    return MDB_CORRUPTED;
  size_t klen = (size_t)p[1] | (size_t)p[2] << 8;
  MDB_val rv = {.mv_size = v->mv_size - 3 - klen, .mv_data = (void *)(p + 3 + klen)};
  record r;
  char key[CAIRN_META_MAX_KEY_LEN + 1];
  if (klen > CAIRN_META_MAX_KEY_LEN || v->mv_size < 3 + klen + REC_HDR ||
      !decode_record(&rv, &r) || r.mod_rev != rev)
    return MDB_CORRUPTED;
  if (b->n == b->cap) {
    size_t nc = b->cap ? b->cap * 2 : 32;
    cairn_meta_event *ne = realloc(b->ev, nc * sizeof *ne);
    if (ne == NULL)
      return ENOMEM;
    b->ev = ne, b->cap = nc;
  }
  memcpy(key, p + 3, klen);
  key[klen] = '\0';
  cairn_meta_event *e = &b->ev[b->n];
  e->type = p[0] == 0 ? CAIRN_META_EVENT_PUT : CAIRN_META_EVENT_DELETE;
  if (cairn_meta_kv_copy(&e->kv, key, r.value, r.value_len, r.create_rev,
                         r.mod_rev, r.version, r.lease) != CAIRN_OK)
    return ENOMEM;
  b->n++;
  return 0;
}

/* Copy whole revisions of events with revision >= from (matching prefix)
 * into b, stopping after WATCH_BATCH events at a revision boundary. */
static int read_batch(embedded *s, const char *prefix, int64_t from, batch *b) {
  MDB_txn *t;
  MDB_cursor *c = NULL;
  int64_t compacted;
  b->next_rev = from;
  int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t);
  if (rc != 0)
    return rc;
  if ((rc = info_get(s, t, "compacted", &compacted)) == 0 && from <= compacted)
    b->lost = true;
  if (rc == 0 && !b->lost)
    rc = mdb_cursor_open(t, s->hist, &c);
  uint8_t hk[12] = {0};
  put_be64(hk, (uint64_t)from);
  MDB_val k = {.mv_size = 12, .mv_data = hk}, v;
  size_t plen = strlen(prefix), scanned = 0;
  int64_t last = -1, store_rev = 0;
  if (rc == 0)
    rc = info_get(s, t, "revision", &store_rev);
  for (rc = c && rc == 0 ? mdb_cursor_get(c, &k, &v, MDB_SET_RANGE) : rc;
       rc == 0 && c; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    int64_t rev = (int64_t)get_be64(k.mv_data);
    if (rev != last && scanned >= WATCH_BATCH)
      break;
    last = rev;
    b->next_rev = rev + 1;
    scanned++;
    const uint8_t *p = v.mv_data;
    size_t klen = v.mv_size >= 3 ? ((size_t)p[1] | (size_t)p[2] << 8) : 0;
    if (klen >= plen && v.mv_size >= 3 + klen && memcmp(p + 3, prefix, plen) == 0 &&
        (rc = batch_push(b, &v, rev)) != 0)
      break;
  }
  if (c)
    mdb_cursor_close(c);
  mdb_txn_abort(t);
  /* Reached the end of history: nothing below store_rev + 1 is left. */
  if (rc == MDB_NOTFOUND && !b->lost && b->next_rev <= store_rev)
    b->next_rev = store_rev + 1;
  return rc == MDB_NOTFOUND ? 0 : rc;
}

static void deliver(struct cairn_meta_watch *w, batch *b) {
  for (size_t i = 0; i < b->n && !atomic_load(&w->cancelled); i++)
    w->fn(&b->ev[i], w->user);
  if (b->lost && !atomic_load(&w->cancelled)) {
    cairn_meta_event ev = {.type = CAIRN_META_EVENT_LOST};
    ev.kv.key = w->prefix;
    ev.kv.key_len = strlen(w->prefix);
    ev.kv.value = (uint8_t *)"";
    ev.kv.mod_revision = w->next_rev;
    w->fn(&ev, w->user);
    atomic_store(&w->cancelled, true);
  }
}

static void *watch_main(void *arg) {
  struct cairn_meta_watch *w = arg;
  embedded *s = w->store;
  pthread_mutex_lock(&s->mu);
  while (!atomic_load(&w->cancelled)) {
    if (s->committed_rev < w->next_rev) {
      pthread_cond_wait(&s->changed, &s->mu);
      continue;
    }
    pthread_mutex_unlock(&s->mu);
    batch b = {0};
    int rc = read_batch(s, w->prefix, w->next_rev, &b);
    if (rc != 0) {
      cairn_log_error("meta watch '%s': %s", w->prefix, mdb_strerror(rc));
      b.lost = true;
    }
    deliver(w, &b);
    if (!b.lost)
      w->next_rev = b.next_rev;
    batch_clear(&b);
    pthread_mutex_lock(&s->mu);
  }
  bool self_free = w->self_free;
  pthread_mutex_unlock(&s->mu);
  if (self_free) {
    free(w->prefix);
    free(w);
  }
  return NULL;
}

static cairn_status emb_watch(cairn_meta *m, const char *prefix, int64_t from,
                              cairn_meta_watch_fn fn, void *user,
                              cairn_meta_watch **out, cairn_error *err) {
  embedded *s = (embedded *)m;
  struct cairn_meta_watch *w = calloc(1, sizeof *w);
  if (w == NULL || (w->prefix = strdup(prefix)) == NULL) {
    free(w);
    return cairn_error_set(err, CAIRN_NOMEM, "meta watch: out of memory");
  }
  w->store = s, w->fn = fn, w->user = user;
  MDB_txn *t;
  int64_t compacted = 0;
  int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t);
  if (rc == 0) {
    rc = info_get(s, t, "compacted", &compacted);
    mdb_txn_abort(t);
  }
  cairn_status st = rc ? lmdb_fail(err, "watch", rc) : CAIRN_OK;
  if (st == CAIRN_OK && from != 0 && from <= compacted)
    st = cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                         "meta watch from revision %lld: compacted (oldest "
                         "available %lld)",
                         (long long)from, (long long)compacted + 1);
  pthread_mutex_lock(&s->mu);
  w->next_rev = from != 0 ? from : s->committed_rev + 1;
  if (st == CAIRN_OK && pthread_create(&w->thread, NULL, watch_main, w) != 0)
    st = cairn_error_set(err, CAIRN_INTERNAL, "meta watch: cannot start thread");
  if (st == CAIRN_OK)
    w->next = s->watches, s->watches = w;
  pthread_mutex_unlock(&s->mu);
  if (st != CAIRN_OK) {
    free(w->prefix);
    free(w);
    return st;
  }
  *out = w;
  return CAIRN_OK;
}

static void emb_watch_cancel(cairn_meta *m, cairn_meta_watch *w) {
  embedded *s = (embedded *)m;
  bool self = pthread_equal(pthread_self(), w->thread);
  pthread_mutex_lock(&s->mu);
  for (struct cairn_meta_watch **pp = &s->watches; *pp; pp = &(*pp)->next)
    if (*pp == w) {
      *pp = w->next;
      break;
    }
  atomic_store(&w->cancelled, true);
  w->self_free = self;
  pthread_cond_broadcast(&s->changed);
  pthread_mutex_unlock(&s->mu);
  if (self) {
    pthread_detach(w->thread);
    return;
  }
  pthread_join(w->thread, NULL);
  free(w->prefix);
  free(w);
}

/* ---- open / close ------------------------------------------------------- */

static int mkdir_p(const char *dir) {
  char buf[4096];
  if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
    return ENAMETOOLONG;
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
      return errno;
    *p = '/';
  }
  return mkdir(buf, 0755) != 0 && errno != EEXIST ? errno : 0;
}

static cairn_status take_dir_lock(embedded *s, cairn_error *err) {
  char path[4200];
  snprintf(path, sizeof path, "%s/LOCK", s->dir);
  s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (s->lock_fd < 0)
    return cairn_error_set(err, CAIRN_IO, "meta store: cannot open '%s': %s",
                           path, strerror(errno));
  if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0)
    return cairn_error_set(err, CAIRN_IO,
                           "meta store directory '%s' is in use by another "
                           "process (or already open in this one)",
                           s->dir);
  return CAIRN_OK;
}

/* Open the named databases, check or write the format tag, load leases. */
static cairn_status open_dbs(embedded *s, cairn_error *err) {
  MDB_txn *t;
  int rc = mdb_txn_begin(s->env, NULL, 0, &t);
  if (rc != 0)
    return lmdb_fail(err, "open", rc);
  rc = mdb_dbi_open(t, "info", MDB_CREATE, &s->info);
  if (rc == 0) rc = mdb_dbi_open(t, "kv", MDB_CREATE, &s->kv);
  if (rc == 0) rc = mdb_dbi_open(t, "hist", MDB_CREATE, &s->hist);
  if (rc == 0) rc = mdb_dbi_open(t, "lease", MDB_CREATE, &s->lease);
  if (rc == 0) rc = mdb_dbi_open(t, "lkeys", MDB_CREATE | MDB_DUPSORT, &s->lkeys);
  MDB_val k = str_val("format"), v, tag = str_val(FORMAT_TAG);
  int grc = rc == 0 ? mdb_get(t, s->info, &k, &v) : rc;
  if (grc == MDB_NOTFOUND)
    rc = mdb_put(t, s->info, &k, &tag, 0);
  else if (grc == 0 && (v.mv_size != tag.mv_size ||
                        memcmp(v.mv_data, tag.mv_data, v.mv_size) != 0)) {
    mdb_txn_abort(t);
    return cairn_error_set(err, CAIRN_CORRUPT,
                           "meta store '%s': unknown format (expected '%s')",
                           s->dir, FORMAT_TAG);
  }
  if (rc == 0)
    rc = info_get(s, t, "revision", &s->committed_rev);
  MDB_cursor *c;
  if (rc == 0 && (rc = mdb_cursor_open(t, s->lease, &c)) == 0) {
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
      if (k.mv_size == 8 && v.mv_size == 8 &&
          !lease_add_nolock(s, (int64_t)get_be64(k.mv_data), get_le64(v.mv_data)))
        rc = ENOMEM;
    mdb_cursor_close(c);
    rc = rc == MDB_NOTFOUND ? 0 : rc;
  }
  rc = rc == 0 ? mdb_txn_commit(t) : (mdb_txn_abort(t), rc);
  return rc ? lmdb_fail(err, "open", rc) : CAIRN_OK;
}

static cairn_status open_env(embedded *s, cairn_error *err) {
  int rc = mdb_env_create(&s->env);
  if (rc == 0) rc = mdb_env_set_maxdbs(s->env, 8);
  if (rc == 0) rc = mdb_env_set_maxreaders(s->env, 512);
  if (rc == 0) rc = mdb_env_set_mapsize(s->env, MAP_SIZE);
  if (rc == 0) rc = mdb_env_open(s->env, s->dir, MDB_NOTLS, 0644);
  if (rc != 0)
    return cairn_error_set(err, CAIRN_IO, "meta store: cannot open LMDB in '%s': %s",
                           s->dir, mdb_strerror(rc));
  int dead;
  mdb_reader_check(s->env, &dead); /* slots left by a killed process */
  return open_dbs(s, err);
}

static void emb_close(cairn_meta *m) {
  embedded *s = (embedded *)m;
  for (;;) {
    pthread_mutex_lock(&s->mu);
    struct cairn_meta_watch *w = s->watches;
    pthread_mutex_unlock(&s->mu);
    if (w == NULL)
      break;
    emb_watch_cancel(m, w);
  }
  pthread_mutex_lock(&s->mu);
  s->stopping = true;
  pthread_cond_broadcast(&s->reaper_cv);
  pthread_mutex_unlock(&s->mu);
  if (s->reaper_started)
    pthread_join(s->reaper, NULL);
  if (s->env)
    mdb_env_close(s->env);
  if (s->lock_fd >= 0)
    close(s->lock_fd);
  pthread_cond_destroy(&s->changed);
  pthread_cond_destroy(&s->reaper_cv);
  pthread_mutex_destroy(&s->mu);
  pthread_mutex_destroy(&s->write_mu);
  free(s->leases);
  free(s->dir);
  free(s);
}

static embedded *embedded_new(const char *dir) {
  embedded *s = calloc(1, sizeof *s);
  if (s == NULL || (s->dir = strdup(dir)) == NULL) {
    free(s);
    return NULL;
  }
  s->base.vt = &cairn_meta_embedded_vtable;
  s->lock_fd = -1;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s->reaper_cv, &ca);
  pthread_cond_init(&s->changed, NULL);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&s->mu, NULL);
  pthread_mutex_init(&s->write_mu, NULL);
  return s;
}

static cairn_status emb_open(const char *dir, cairn_meta **out, cairn_error *err) {
  int rc = mkdir_p(dir);
  if (rc != 0)
    return cairn_error_set(err, CAIRN_IO, "meta store: cannot create '%s': %s",
                           dir, strerror(rc));
  embedded *s = embedded_new(dir);
  if (s == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, "meta store: out of memory");
  cairn_status st = take_dir_lock(s, err);
  if (st == CAIRN_OK)
    st = open_env(s, err);
  if (st == CAIRN_OK && pthread_create(&s->reaper, NULL, reaper_main, s) != 0)
    st = cairn_error_set(err, CAIRN_INTERNAL, "meta store: cannot start thread");
  s->reaper_started = st == CAIRN_OK;
  if (st != CAIRN_OK) {
    emb_close(&s->base);
    return st;
  }
  *out = &s->base;
  return CAIRN_OK;
}

const cairn_meta_vtable cairn_meta_embedded_vtable = {
    .name = "embedded",
    .open = emb_open,
    .close = emb_close,
    .get = emb_get,
    .range = emb_range,
    .txn = emb_txn,
    .revision = emb_revision,
    .watch = emb_watch,
    .watch_cancel = emb_watch_cancel,
    .lease_grant = emb_lease_grant,
    .lease_keepalive = emb_lease_keepalive,
    .lease_revoke = emb_lease_revoke,
};
