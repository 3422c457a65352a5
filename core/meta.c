/*
 * meta.c — the backend-neutral half of the meta store (meta.h): choosing a
 * backend by name, validating every argument before it reaches a backend,
 * put/delete expressed as one-op transactions, and the result free functions.
 *
 * Backends therefore implement only txn for writes, and may assume: keys are
 * valid (cairn_meta_key_valid), values within limits, a txn has at most
 * CAIRN_META_MAX_TXN_OPS ops per branch and names no key twice in a branch.
 */
#include "meta.h"
#include "meta_etcd.h"

#include <stdlib.h>
#include <string.h>

/* The registry of backends. A new backend (e.g. "etcd") adds one row. */
static const cairn_meta_vtable *const meta_backends[] = {
    &cairn_meta_embedded_vtable,
    &cairn_meta_etcd_vtable,
};
#define N_BACKENDS (sizeof meta_backends / sizeof meta_backends[0])

const char *cairn_meta_backends(void) { return "embedded, etcd"; }

cairn_status cairn_meta_open(const char *backend_name,
                             const char *location_or_config, cairn_meta **out,
                             cairn_error *err) {
  if (out == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "meta open: out is NULL");
  *out = NULL;
  if (backend_name == NULL)
    backend_name = "";
  for (size_t i = 0; i < N_BACKENDS; i++) {
    if (strcmp(meta_backends[i]->name, backend_name) == 0) {
      if (location_or_config == NULL || location_or_config[0] == '\0')
        return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                               "meta store backend '%s' needs a location",
                               backend_name);
      return meta_backends[i]->open(location_or_config, out, err);
    }
  }
  return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                         "unknown meta store backend '%s' (known: %s)",
                         backend_name, cairn_meta_backends());
}

void cairn_meta_close(cairn_meta *m) {
  if (m != NULL)
    m->vt->close(m);
}

/* ---- validation --------------------------------------------------------- */

static bool key_chars_ok(const char *key, size_t max, bool allow_empty) {
  if (key == NULL)
    return false;
  size_t n = 0;
  for (; key[n] != '\0'; n++) {
    unsigned char c = (unsigned char)key[n];
    if (c < 0x20 || c > 0x7e || n >= max)
      return false;
  }
  return allow_empty || n > 0;
}

bool cairn_meta_key_valid(const char *key) {
  return key_chars_ok(key, CAIRN_META_MAX_KEY_LEN, false);
}

static cairn_status check_key(const char *what, const char *key,
                              cairn_error *err) {
  if (cairn_meta_key_valid(key))
    return CAIRN_OK;
  if (key == NULL || key[0] == '\0')
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "meta %s: empty key",
                           what);
  return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                         "meta %s: invalid key '%.64s' (printable ASCII, at "
                         "most %d bytes)",
                         what, key, CAIRN_META_MAX_KEY_LEN);
}

static cairn_status check_prefix(const char *what, const char *prefix,
                                 cairn_error *err) {
  if (key_chars_ok(prefix, CAIRN_META_MAX_KEY_LEN, true))
    return CAIRN_OK;
  return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                         "meta %s: invalid prefix (printable ASCII, at most "
                         "%d bytes)",
                         what, CAIRN_META_MAX_KEY_LEN);
}

static bool is_prefix(const char *prefix, const char *key) {
  return strncmp(prefix, key, strlen(prefix)) == 0;
}

/* Two ops of one branch conflict when they name the same key, or one deletes
 * a prefix the other's key lies under (etcd rejects both). */
static bool ops_conflict(const cairn_meta_op *a, const cairn_meta_op *b) {
  if (a->type == CAIRN_META_OP_DELETE_PREFIX && is_prefix(a->key, b->key))
    return true;
  if (b->type == CAIRN_META_OP_DELETE_PREFIX && is_prefix(b->key, a->key))
    return true;
  return strcmp(a->key, b->key) == 0;
}

static cairn_status check_ops(const cairn_meta_op *ops, size_t n,
                              cairn_error *err) {
  if (n > CAIRN_META_MAX_TXN_OPS)
    return cairn_error_set(err, CAIRN_TOO_LARGE,
                           "meta txn: %zu ops in one branch (at most %d)", n,
                           CAIRN_META_MAX_TXN_OPS);
  if (n > 0 && ops == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "meta txn: ops NULL");
  for (size_t i = 0; i < n; i++) {
    const cairn_meta_op *op = &ops[i];
    cairn_status st = check_key("txn op", op->key, err);
    if (st != CAIRN_OK)
      return st;
    if (op->type == CAIRN_META_OP_PUT) {
      if (op->value_len > CAIRN_META_MAX_VALUE_LEN)
        return cairn_error_set(err, CAIRN_TOO_LARGE,
                               "meta put '%s': value of %zu bytes exceeds %d",
                               op->key, op->value_len, CAIRN_META_MAX_VALUE_LEN);
      if (op->value_len > 0 && op->value == NULL)
        return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                               "meta put '%s': value NULL", op->key);
      if (op->lease < 0)
        return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                               "meta put '%s': negative lease", op->key);
    } else if (op->type != CAIRN_META_OP_DELETE &&
               op->type != CAIRN_META_OP_DELETE_PREFIX) {
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "meta txn: unknown op type %d", (int)op->type);
    }
    for (size_t j = 0; j < i; j++)
      if (ops_conflict(&ops[j], op))
        return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                               "meta txn: duplicate key '%s' in one branch",
                               op->key);
  }
  return CAIRN_OK;
}

static cairn_status check_compares(const cairn_meta_cmp *c, size_t n,
                                   cairn_error *err) {
  if (n > CAIRN_META_MAX_TXN_OPS)
    return cairn_error_set(err, CAIRN_TOO_LARGE,
                           "meta txn: %zu compares (at most %d)", n,
                           CAIRN_META_MAX_TXN_OPS);
  if (n > 0 && c == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "meta txn: compares NULL");
  for (size_t i = 0; i < n; i++) {
    cairn_status st = check_key("txn compare", c[i].key, err);
    if (st != CAIRN_OK)
      return st;
    if ((int)c[i].target < 0 || c[i].target > CAIRN_META_CMP_VALUE ||
        (int)c[i].op < 0 || c[i].op > CAIRN_META_CMP_GT)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "meta txn: bad compare on '%s'", c[i].key);
    if (c[i].target == CAIRN_META_CMP_VALUE && c[i].value_len > 0 &&
        c[i].value == NULL)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "meta txn: compare value NULL on '%s'", c[i].key);
  }
  return CAIRN_OK;
}

/* ---- key-value ---------------------------------------------------------- */

cairn_status cairn_meta_get(cairn_meta *m, const char *key, cairn_meta_kv *out,
                            cairn_error *err) {
  if (out != NULL)
    memset(out, 0, sizeof *out);
  if (m == NULL || out == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "meta get: NULL argument");
  cairn_status st = check_key("get", key, err);
  return st != CAIRN_OK ? st : m->vt->get(m, key, out, err);
}

cairn_status cairn_meta_txn_commit(cairn_meta *m, const cairn_meta_txn *txn,
                                   cairn_meta_txn_result *out, cairn_error *err) {
  cairn_meta_txn_result local;
  if (out == NULL)
    out = &local;
  memset(out, 0, sizeof *out);
  if (m == NULL || txn == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "meta txn: NULL argument");
  cairn_status st = check_compares(txn->compares, txn->n_compares, err);
  if (st == CAIRN_OK)
    st = check_ops(txn->success, txn->n_success, err);
  if (st == CAIRN_OK)
    st = check_ops(txn->failure, txn->n_failure, err);
  return st != CAIRN_OK ? st : m->vt->txn(m, txn, out, err);
}

static cairn_status one_op(cairn_meta *m, const cairn_meta_op *op,
                           cairn_meta_txn_result *res, cairn_error *err) {
  cairn_meta_txn txn = {.success = op, .n_success = 1};
  return cairn_meta_txn_commit(m, &txn, res, err);
}

cairn_status cairn_meta_put(cairn_meta *m, const char *key, const void *value,
                            size_t value_len, int64_t lease, int64_t *revision,
                            cairn_error *err) {
  if (revision != NULL)
    *revision = 0;
  cairn_meta_op op = {.type = CAIRN_META_OP_PUT, .key = key, .value = value,
                      .value_len = value_len, .lease = lease};
  cairn_meta_txn_result res;
  cairn_status st = one_op(m, &op, &res, err);
  if (st == CAIRN_OK && revision != NULL)
    *revision = res.revision;
  return st;
}

static cairn_status delete_op(cairn_meta *m, cairn_meta_op_type type,
                              const char *key, size_t *deleted,
                              cairn_error *err) {
  if (deleted != NULL)
    *deleted = 0;
  cairn_meta_op op = {.type = type, .key = key};
  cairn_meta_txn_result res;
  cairn_status st = one_op(m, &op, &res, err);
  if (st == CAIRN_OK && deleted != NULL)
    *deleted = res.deleted;
  return st;
}

cairn_status cairn_meta_delete(cairn_meta *m, const char *key, size_t *deleted,
                               cairn_error *err) {
  return delete_op(m, CAIRN_META_OP_DELETE, key, deleted, err);
}

cairn_status cairn_meta_delete_prefix(cairn_meta *m, const char *prefix,
                                      size_t *deleted, cairn_error *err) {
  return delete_op(m, CAIRN_META_OP_DELETE_PREFIX, prefix, deleted, err);
}

cairn_status cairn_meta_range(cairn_meta *m, const char *prefix,
                              const char *after, size_t limit,
                              cairn_meta_kvs *out, cairn_error *err) {
  if (out != NULL)
    memset(out, 0, sizeof *out);
  if (m == NULL || out == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "meta range: NULL argument");
  if (prefix == NULL)
    prefix = "";
  cairn_status st = check_prefix("range", prefix, err);
  if (st == CAIRN_OK && after != NULL)
    st = check_prefix("range after", after, err);
  return st != CAIRN_OK ? st : m->vt->range(m, prefix, after, limit, out, err);
}

cairn_status cairn_meta_revision(cairn_meta *m, int64_t *out, cairn_error *err) {
  if (out != NULL)
    *out = 0;
  if (m == NULL || out == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "meta revision: NULL argument");
  return m->vt->revision(m, out, err);
}

void cairn_meta_kv_clear(cairn_meta_kv *kv) {
  if (kv == NULL)
    return;
  free(kv->key);
  free(kv->value);
  memset(kv, 0, sizeof *kv);
}

void cairn_meta_kvs_free(cairn_meta_kvs *kvs) {
  if (kvs == NULL)
    return;
  for (size_t i = 0; i < kvs->count; i++)
    cairn_meta_kv_clear(&kvs->items[i]);
  free(kvs->items);
  memset(kvs, 0, sizeof *kvs);
}

cairn_status cairn_meta_kv_copy(cairn_meta_kv *dst, const char *key,
                                const void *value, size_t value_len,
                                int64_t create_revision, int64_t mod_revision,
                                int64_t version, int64_t lease) {
  memset(dst, 0, sizeof *dst);
  size_t klen = strlen(key);
  dst->key = malloc(klen + 1);
  dst->value = malloc(value_len + 1);
  if (dst->key == NULL || dst->value == NULL) {
    cairn_meta_kv_clear(dst);
    return CAIRN_NOMEM;
  }
  memcpy(dst->key, key, klen + 1);
  if (value_len > 0)
    memcpy(dst->value, value, value_len);
  dst->value[value_len] = '\0';
  dst->key_len = klen;
  dst->value_len = value_len;
  dst->create_revision = create_revision;
  dst->mod_revision = mod_revision;
  dst->version = version;
  dst->lease = lease;
  return CAIRN_OK;
}

/* ---- watch and leases --------------------------------------------------- */

cairn_status cairn_meta_watch_start(cairn_meta *m, const char *prefix,
                                    int64_t from_revision,
                                    cairn_meta_watch_fn fn, void *user,
                                    cairn_meta_watch **out, cairn_error *err) {
  if (out != NULL)
    *out = NULL;
  if (m == NULL || fn == NULL || out == NULL || from_revision < 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "meta watch: bad argument");
  if (prefix == NULL)
    prefix = "";
  cairn_status st = check_prefix("watch", prefix, err);
  return st != CAIRN_OK ? st
                        : m->vt->watch(m, prefix, from_revision, fn, user, out, err);
}

void cairn_meta_watch_cancel(cairn_meta *m, cairn_meta_watch *w) {
  if (m != NULL && w != NULL)
    m->vt->watch_cancel(m, w);
}

cairn_status cairn_meta_lease_grant(cairn_meta *m, int64_t ttl_seconds,
                                    int64_t *id, cairn_error *err) {
  if (id != NULL)
    *id = 0;
  if (m == NULL || id == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "lease grant: NULL argument");
  if (ttl_seconds < 1 || ttl_seconds > 1000000)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "lease grant: ttl %lld s out of range 1..1000000",
                           (long long)ttl_seconds);
  return m->vt->lease_grant(m, ttl_seconds, id, err);
}

cairn_status cairn_meta_lease_keepalive(cairn_meta *m, int64_t id,
                                        cairn_error *err) {
  if (m == NULL || id <= 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "lease keepalive: bad lease id %lld", (long long)id);
  return m->vt->lease_keepalive(m, id, err);
}

cairn_status cairn_meta_lease_revoke(cairn_meta *m, int64_t id,
                                     cairn_error *err) {
  if (m == NULL || id <= 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "lease revoke: bad lease id %lld", (long long)id);
  return m->vt->lease_revoke(m, id, err);
}
