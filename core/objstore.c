/*
 * objstore.c — the backend-neutral half of object storage (objstore.h):
 * choosing a backend by name, validating keys and arguments before they
 * reach a backend, remove_prefix as list + remove, and the free function.
 *
 * Backends may therefore assume: handles and out parameters are non-NULL,
 * keys are valid (cairn_objstore_key_valid), prefixes are valid prefixes,
 * `after` is NULL or at most CAIRN_OBJ_MAX_KEY bytes, data is non-NULL when
 * len > 0. Out parameters are cleared here first.
 *
 * Key rule (objstore.h): 1..CAIRN_OBJ_MAX_KEY bytes of '/'-separated
 * components, each non-empty, of [A-Za-z0-9._=-], and no ".." anywhere (so
 * neither "." nor ".." components nor a leading '/' can reach a file system
 * or an S3 URL). A prefix is "" or a key-like string that may end in '/' and
 * in a partial component ("insert_log/1/2" matches "insert_log/1/20/x").
 */
#include "objstore.h"

#include <stdlib.h>
#include <string.h>

/* The registry of backends. A new backend (e.g. "s3") adds one row. */
extern const cairn_objstore_vtable cairn_objstore_local_vtable;
extern const cairn_objstore_vtable cairn_objstore_s3_vtable;
static const cairn_objstore_vtable *const obj_backends[] = {
    &cairn_objstore_local_vtable,
    &cairn_objstore_s3_vtable,
};
#define N_BACKENDS (sizeof obj_backends / sizeof obj_backends[0])

const char *cairn_objstore_backends(void) { return "local, s3"; }

static bool key_char_ok(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '=' ||
         c == '-';
}

/* Shared by keys (whole components) and prefixes (may end in '/'). */
static bool path_ok(const char *s, bool is_prefix) {
  if (s == NULL)
    return false;
  size_t n = strlen(s);
  if (n == 0)
    return is_prefix;
  if (n > CAIRN_OBJ_MAX_KEY || s[0] == '/' || strstr(s, "..") != NULL)
    return false;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '/') {
      if (i > 0 && s[i - 1] == '/') /* empty component */
        return false;
    } else if (!key_char_ok((unsigned char)s[i])) {
      return false;
    }
  }
  if (!is_prefix && s[n - 1] == '/')
    return false;
  /* "." as a whole component */
  for (size_t i = 0; i < n; i++)
    if (s[i] == '.' && (i == 0 || s[i - 1] == '/') &&
        (i + 1 == n ? !is_prefix : s[i + 1] == '/'))
      return false;
  return true;
}

bool cairn_objstore_key_valid(const char *key) { return path_ok(key, false); }
bool cairn_objstore_prefix_valid(const char *prefix) {
  return path_ok(prefix, true);
}

static cairn_status check_key(const char *what, const char *key,
                              cairn_error *err) {
  if (cairn_objstore_key_valid(key))
    return CAIRN_OK;
  if (key == NULL || key[0] == '\0')
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "object %s: empty key",
                           what);
  return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                         "object %s: invalid key '%.80s' ('/'-separated "
                         "non-empty components of [A-Za-z0-9._=-], no leading "
                         "'/', no '..', at most %d bytes)",
                         what, key, CAIRN_OBJ_MAX_KEY);
}

cairn_status cairn_objstore_open(const char *backend, const char *location,
                                 cairn_objstore **out, cairn_error *err) {
  if (out == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "object store open: out is NULL");
  *out = NULL;
  if (backend == NULL)
    backend = "";
  for (size_t i = 0; i < N_BACKENDS; i++) {
    if (strcmp(obj_backends[i]->name, backend) != 0)
      continue;
    if (location == NULL || location[0] == '\0')
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "object store backend '%s' needs a location",
                             backend);
    return obj_backends[i]->open(location, out, err);
  }
  return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                         "unknown object store backend '%s' (known: %s)",
                         backend, cairn_objstore_backends());
}

void cairn_objstore_close(cairn_objstore *s) {
  if (s != NULL)
    s->vt->close(s);
}

cairn_status cairn_objstore_put(cairn_objstore *s, const char *key,
                                const void *data, size_t len, cairn_error *err) {
  if (s == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "object put: NULL store");
  cairn_status st = check_key("put", key, err);
  if (st != CAIRN_OK)
    return st;
  if (len > 0 && data == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "object put '%s': data NULL", key);
  return s->vt->put(s, key, len > 0 ? data : "", len, err);
}

cairn_status cairn_objstore_get(cairn_objstore *s, const char *key,
                                uint64_t offset, uint64_t len, void **data,
                                size_t *got, cairn_error *err) {
  if (data != NULL)
    *data = NULL;
  if (got != NULL)
    *got = 0;
  if (s == NULL || data == NULL || got == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "object get: NULL argument");
  cairn_status st = check_key("get", key, err);
  return st != CAIRN_OK ? st : s->vt->get(s, key, offset, len, data, got, err);
}

cairn_status cairn_objstore_stat(cairn_objstore *s, const char *key,
                                 uint64_t *size, cairn_error *err) {
  if (size != NULL)
    *size = 0;
  if (s == NULL || size == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "object stat: NULL argument");
  cairn_status st = check_key("stat", key, err);
  return st != CAIRN_OK ? st : s->vt->stat(s, key, size, err);
}

cairn_status cairn_objstore_list(cairn_objstore *s, const char *prefix,
                                 const char *after, size_t limit,
                                 cairn_obj_info **items, size_t *n, bool *more,
                                 cairn_error *err) {
  bool local_more;
  if (more == NULL)
    more = &local_more;
  *more = false;
  if (items != NULL)
    *items = NULL;
  if (n != NULL)
    *n = 0;
  if (s == NULL || items == NULL || n == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "object list: NULL argument");
  if (prefix == NULL)
    prefix = "";
  if (!cairn_objstore_prefix_valid(prefix))
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "object list: invalid prefix '%.80s'", prefix);
  if (after != NULL && strlen(after) > CAIRN_OBJ_MAX_KEY)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "object list: 'after' longer than %d bytes",
                           CAIRN_OBJ_MAX_KEY);
  return s->vt->list(s, prefix, after, limit, items, n, more, err);
}

void cairn_obj_infos_free(cairn_obj_info *items, size_t n) {
  if (items == NULL)
    return;
  for (size_t i = 0; i < n; i++)
    free(items[i].key);
  free(items);
}

cairn_status cairn_objstore_remove(cairn_objstore *s, const char *key,
                                   cairn_error *err) {
  if (s == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "object remove: NULL store");
  cairn_status st = check_key("remove", key, err);
  return st != CAIRN_OK ? st : s->vt->remove(s, key, err);
}

/* Pages of list, each key removed; restarts after the last key seen so
 * removals do not disturb paging. */
cairn_status cairn_objstore_remove_prefix(cairn_objstore *s, const char *prefix,
                                          cairn_error *err) {
  enum { PAGE = 1000 };
  char after[CAIRN_OBJ_MAX_KEY + 1] = "";
  bool more = true;
  while (more) {
    cairn_obj_info *items;
    size_t n;
    cairn_status st = cairn_objstore_list(s, prefix, after[0] ? after : NULL,
                                          PAGE, &items, &n, &more, err);
    if (st != CAIRN_OK)
      return st;
    for (size_t i = 0; i < n && st == CAIRN_OK; i++)
      st = s->vt->remove(s, items[i].key, err);
    if (n > 0)
      strcpy(after, items[n - 1].key); /* keys are at most MAX_KEY bytes */
    cairn_obj_infos_free(items, n);
    if (st != CAIRN_OK)
      return st;
  }
  return CAIRN_OK;
}

cairn_status cairn_obj_writer_open(cairn_objstore *s, const char *key,
                                   cairn_obj_writer **out, cairn_error *err) {
  if (out != NULL)
    *out = NULL;
  if (s == NULL || out == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "object writer open: NULL argument");
  cairn_status st = check_key("writer open", key, err);
  return st != CAIRN_OK ? st : s->vt->writer_open(s, key, out, err);
}

/* Every writer starts with its store's handle (see objstore.h). */
cairn_status cairn_obj_writer_append(cairn_obj_writer *w, const void *data,
                                     size_t len, cairn_error *err) {
  if (w == NULL || (len > 0 && data == NULL))
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "object writer append: NULL argument");
  if (len == 0)
    return CAIRN_OK;
  return w->store->vt->writer_append(w, data, len, err);
}

cairn_status cairn_obj_writer_commit(cairn_obj_writer *w, cairn_error *err) {
  if (w == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "object writer commit: NULL writer");
  return w->store->vt->writer_commit(w, err);
}

void cairn_obj_writer_abort(cairn_obj_writer *w) {
  if (w != NULL)
    w->store->vt->writer_abort(w);
}

const char *cairn_objstore_local_path(cairn_objstore *s, const char *key,
                                      char *buf, size_t buf_len) {
  if (s == NULL || buf == NULL || buf_len == 0 ||
      !cairn_objstore_key_valid(key) || s->vt->local_path == NULL)
    return NULL;
  return s->vt->local_path(s, key, buf, buf_len);
}
