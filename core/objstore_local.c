/*
 * objstore_local.c — the "local" object store backend: objects are plain
 * files under a root directory, key path = file path ("a/b/c" is
 * <root>/a/b/c), so a querynode can mmap them in place.
 *
 * Writes (put, writer commit) follow the one pattern that makes a file
 * replacement atomic and durable on POSIX file systems:
 *   1. write the bytes to a temp file in the target's own directory,
 *   2. fsync the temp file,
 *   3. rename it over the target (atomic: readers see old or new),
 *   4. fsync the directory (the rename itself survives power loss).
 * Directories created for a key are fsync'ed into their parents too.
 * A reader opens the file once and reads through that descriptor, so a
 * concurrent replacement never gives it a mix of old and new bytes.
 *
 * Temp files are named "#tmp-<pid>-<seq>". '#' is not a key character, so
 * no key can name a temp file and list skips them (it skips every name that
 * is not a valid key component). On open, temp files whose creating process
 * is gone (kill(pid, 0) says ESRCH) are removed: they are leftovers of a
 * crash. Temp files of live processes are left alone, so several processes
 * may share one root (XXX: across PID namespaces, a live pid may hide a
 * stale file until that pid is gone too).
 *
 * remove unlinks the file and then removes directories left empty, up to
 * the root. It does not fsync the directory: after a power loss a removed
 * object may come back. Removers (garbage collection of dropped segments)
 * re-list and retry, so that costs a repeat, never data; an fsync per
 * remove would make dropping a collection of thousands of files crawl. A put racing with that prune may find its directory gone between
 * mkdir and creating the temp file; it recreates it and retries.
 *
 * list walks the tree in key order without sorting the whole store: each
 * directory's entries are sorted by name, with a directory compared as
 * "name/" (every key below it starts so), which makes the depth-first walk
 * visit keys in ascending byte order. Subtrees that cannot hold a key under
 * the prefix or after `after` are skipped, and the walk stops once it has
 * limit + 1 keys, so paging costs about one page, not the whole store.
 *
 * Limitation of a file system (S3 has none): "a" and "a/b" cannot both be
 * objects; a put that would need that fails with CAIRN_CONFLICT.
 *
 * Threading: the store holds only its root path and an atomic counter; every
 * call is independent. A writer belongs to one thread.
 */
#include "objstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMP_PREFIX "#tmp-"
#define LOCAL_PATH_MAX 4096
#define PUT_RETRIES 8

typedef struct local_store {
  cairn_objstore base;
  char *root;
  unsigned long seq; /* atomic: temp name counter */
} local_store;

typedef struct local_writer {
  cairn_obj_writer base;
  int fd;
  char tmp[LOCAL_PATH_MAX];
  char path[LOCAL_PATH_MAX];
  bool failed; /* an append failed: commit refuses */
} local_writer;

static cairn_status io_error(cairn_error *err, const char *what,
                             const char *key) {
  return cairn_error_set(err, CAIRN_IO, "object %s '%s': %s", what, key,
                         strerror(errno));
}

static int fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

static int obj_path(const local_store *s, const char *key, char *buf,
                    size_t n) {
  int k = snprintf(buf, n, "%s/%s", s->root, key);
  if (k < 0 || (size_t)k >= n) {
    errno = ENAMETOOLONG;
    return -1;
  }
  return 0;
}

/* Directory part of path (in place copy into dir). */
static void dir_of(const char *path, char *dir, size_t n) {
  snprintf(dir, n, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash != NULL)
    *slash = '\0';
}

/* mkdir -p below the root, fsync'ing each parent that gained an entry. */
static int mkdirs(const char *root, const char *dir) {
  char tmp[LOCAL_PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s", dir);
  size_t rootlen = strlen(root);
  for (char *p = tmp + rootlen + 1; ; p++) {
    if (*p != '/' && *p != '\0')
      continue;
    char c = *p;
    *p = '\0';
    if (mkdir(tmp, 0755) == 0) {
      char parent[LOCAL_PATH_MAX];
      dir_of(tmp, parent, sizeof parent);
      if (fsync_dir(parent) != 0)
        return -1;
    } else if (errno != EEXIST) {
      return -1;
    }
    *p = c;
    if (c == '\0')
      return 0;
  }
}

/* Create a temp file next to path; directories made as needed (retried when
 * a concurrent remove prunes them meanwhile). */
static int tmp_create(local_store *s, const char *path, char *tmp, size_t n) {
  char dir[LOCAL_PATH_MAX];
  dir_of(path, dir, sizeof dir);
  for (int attempt = 0; attempt < PUT_RETRIES; attempt++) {
    unsigned long seq = __atomic_fetch_add(&s->seq, 1, __ATOMIC_RELAXED);
    if (snprintf(tmp, n, "%s/" TMP_PREFIX "%ld-%lu", dir, (long)getpid(),
                 seq) >= (int)n) {
      errno = ENAMETOOLONG;
      return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0)
      return fd;
    if (errno != ENOENT)
      return -1;
    if (strcmp(dir, s->root) != 0 && mkdirs(s->root, dir) != 0 &&
        errno != ENOENT)
      return -1;
  }
  return -1;
}

static int write_full(int fd, const void *data, size_t len) {
  const uint8_t *p = data;
  while (len > 0) {
    ssize_t k = write(fd, p, len);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return -1;
    p += k, len -= (size_t)k;
  }
  return 0;
}

/* Steps 2-4 of the write pattern: fsync, rename, fsync the directory.
 * Closes fd; removes tmp on failure. */
static cairn_status publish(int fd, const char *tmp, const char *path,
                            const char *key, cairn_error *err) {
  char dir[LOCAL_PATH_MAX];
  dir_of(path, dir, sizeof dir);
  cairn_status st = CAIRN_OK;
  if (fsync(fd) != 0)
    st = io_error(err, "fsync", key);
  close(fd);
  if (st == CAIRN_OK && rename(tmp, path) != 0) {
    if (errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST)
      st = cairn_error_set(err, CAIRN_CONFLICT,
                           "object put '%s': other keys lie under it (a local "
                           "store cannot hold both)",
                           key);
    else
      st = io_error(err, "rename", key);
  }
  if (st != CAIRN_OK) {
    unlink(tmp);
    return st;
  }
  if (fsync_dir(dir) != 0)
    return io_error(err, "fsync directory of", key);
  return CAIRN_OK;
}

/* The temp file could not be created: explain why. */
static cairn_status tmp_failed(const char *key, cairn_error *err) {
  if (errno == ENOTDIR || errno == EEXIST)
    return cairn_error_set(err, CAIRN_CONFLICT,
                           "object '%s': a parent of it is an object (a local "
                           "store cannot hold both)",
                           key);
  return io_error(err, "create temp file for", key);
}

static cairn_status local_put(cairn_objstore *so, const char *key,
                              const void *data, size_t len, cairn_error *err) {
  local_store *s = (local_store *)so;
  char path[LOCAL_PATH_MAX], tmp[LOCAL_PATH_MAX];
  if (obj_path(s, key, path, sizeof path) != 0)
    return io_error(err, "put", key);
  int fd = tmp_create(s, path, tmp, sizeof tmp);
  if (fd < 0)
    return tmp_failed(key, err);
  if (write_full(fd, data, len) != 0) {
    cairn_status st = io_error(err, "write", key);
    close(fd);
    unlink(tmp);
    return st;
  }
  return publish(fd, tmp, path, key, err);
}

/* Open key for reading; a directory is no object. */
static int open_object(local_store *s, const char *key, struct stat *sb) {
  char path[LOCAL_PATH_MAX];
  if (obj_path(s, key, path, sizeof path) != 0)
    return -1;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  if (fstat(fd, sb) != 0 || !S_ISREG(sb->st_mode)) {
    close(fd);
    errno = ENOENT;
    return -1;
  }
  return fd;
}

static cairn_status open_failed(const char *what, const char *key,
                                cairn_error *err) {
  if (errno == ENOENT || errno == ENOTDIR)
    return cairn_error_set(err, CAIRN_IO_NOT_FOUND, "object '%s' not found", key);
  return io_error(err, what, key);
}

static cairn_status local_get(cairn_objstore *so, const char *key,
                              uint64_t offset, uint64_t len, void **data,
                              size_t *got, cairn_error *err) {
  struct stat sb;
  int fd = open_object((local_store *)so, key, &sb);
  if (fd < 0)
    return open_failed("get", key, err);
  uint64_t size = (uint64_t)sb.st_size;
  uint64_t n = offset >= size ? 0 : size - offset;
  if (len < n)
    n = len;
  cairn_status st = CAIRN_OK;
  uint8_t *buf = n > SIZE_MAX - 1 ? NULL : malloc((size_t)n + 1);
  if (buf == NULL)
    st = cairn_error_set(err, CAIRN_NOMEM, "object get '%s': %" PRIu64
                         " bytes do not fit in memory", key, n);
  size_t have = 0;
  while (st == CAIRN_OK && have < n) {
    ssize_t k = pread(fd, buf + have, (size_t)n - have, (off_t)(offset + have));
    if (k < 0 && errno == EINTR)
      continue;
    if (k < 0)
      st = io_error(err, "read", key);
    else if (k == 0)
      break; /* the file shrank: cannot happen with rename-only updates */
    else
      have += (size_t)k;
  }
  close(fd);
  if (st != CAIRN_OK) {
    free(buf);
    return st;
  }
  *data = buf;
  *got = have;
  return CAIRN_OK;
}

static cairn_status local_stat(cairn_objstore *so, const char *key,
                               uint64_t *size, cairn_error *err) {
  local_store *s = (local_store *)so;
  char path[LOCAL_PATH_MAX];
  struct stat sb;
  if (obj_path(s, key, path, sizeof path) != 0)
    return io_error(err, "stat", key);
  if (stat(path, &sb) != 0)
    return open_failed("stat", key, err);
  if (!S_ISREG(sb.st_mode)) /* a directory is no object */
    return cairn_error_set(err, CAIRN_IO_NOT_FOUND, "object '%s' not found", key);
  *size = (uint64_t)sb.st_size;
  return CAIRN_OK;
}

/* Remove directories left empty from dir up to (not including) the root. */
static void prune_dirs(const local_store *s, char *dir) {
  size_t rootlen = strlen(s->root);
  while (strlen(dir) > rootlen) {
    if (rmdir(dir) != 0)
      return; /* not empty, or someone is using it */
    char parent[LOCAL_PATH_MAX];
    dir_of(dir, parent, sizeof parent);
    strcpy(dir, parent);
  }
}

static cairn_status local_remove(cairn_objstore *so, const char *key,
                                 cairn_error *err) {
  local_store *s = (local_store *)so;
  char path[LOCAL_PATH_MAX], dir[LOCAL_PATH_MAX];
  if (obj_path(s, key, path, sizeof path) != 0)
    return io_error(err, "remove", key);
  if (unlink(path) != 0) {
    if (errno == ENOENT || errno == ENOTDIR || errno == EISDIR ||
        errno == EPERM) /* absent, or a directory (no object): OK */
      return CAIRN_OK;
    return io_error(err, "remove", key);
  }
  dir_of(path, dir, sizeof dir);
  prune_dirs(s, dir);
  return CAIRN_OK;
}

/* ---- list: the ordered walk ---------------------------------------------- */

typedef struct list_ctx {
  const local_store *s;
  const char *prefix;
  const char *after; /* NULL: from the start */
  size_t limit;      /* 0: all */
  cairn_obj_info *items;
  size_t n, cap;
  bool more; /* found limit + 1 */
  cairn_status st;
  cairn_error *err;
} list_ctx;

typedef struct dir_entry {
  char *sortkey; /* name, plus '/' for a directory */
  bool is_dir;
  uint64_t size;
} dir_entry;

static bool component_ok(const char *name) {
  if (name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
    return false;
  for (const char *p = name; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '=' ||
          c == '-'))
      return false;
  }
  return true;
}

static int cmp_entry(const void *a, const void *b) {
  return strcmp(((const dir_entry *)a)->sortkey,
                ((const dir_entry *)b)->sortkey);
}

static bool starts_with(const char *s, const char *p) {
  return strncmp(s, p, strlen(p)) == 0;
}

/* Can a key starting with `path` ("a/b/") be under the prefix and after
 * `after`? */
static bool subtree_wanted(const list_ctx *c, const char *path) {
  if (!starts_with(c->prefix, path) && !starts_with(path, c->prefix))
    return false;
  if (c->after != NULL && strcmp(path, c->after) < 0 &&
      !starts_with(c->after, path))
    return false; /* every key below is < after */
  return true;
}

static void entries_free(dir_entry *e, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(e[i].sortkey);
  free(e);
}

/* Read and sort the valid entries of directory `path` (relative rel). */
static int read_entries(const char *path, dir_entry **out, size_t *n_out) {
  *out = NULL, *n_out = 0;
  DIR *d = opendir(path);
  if (d == NULL)
    return errno == ENOENT ? 0 : -1; /* pruned by a concurrent remove */
  dir_entry *e = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;
  int rc = 0;
  while (rc == 0 && (de = readdir(d)) != NULL) {
    struct stat sb;
    if (!component_ok(de->d_name) ||
        fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
        (!S_ISDIR(sb.st_mode) && !S_ISREG(sb.st_mode)))
      continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 32;
      dir_entry *ne = realloc(e, cap * sizeof *ne);
      if (ne == NULL) {
        rc = -1;
        break;
      }
      e = ne;
    }
    bool is_dir = S_ISDIR(sb.st_mode);
    size_t len = strlen(de->d_name);
    e[n].sortkey = malloc(len + 2);
    if (e[n].sortkey == NULL) {
      rc = -1;
      break;
    }
    memcpy(e[n].sortkey, de->d_name, len);
    e[n].sortkey[len] = is_dir ? '/' : '\0';
    e[n].sortkey[len + 1] = '\0';
    e[n].is_dir = is_dir;
    e[n].size = (uint64_t)sb.st_size;
    n++;
  }
  closedir(d);
  if (rc != 0) {
    entries_free(e, n);
    errno = ENOMEM;
    return -1;
  }
  if (n > 1)
    qsort(e, n, sizeof *e, cmp_entry);
  *out = e, *n_out = n;
  return 0;
}

static bool list_add(list_ctx *c, const char *key, uint64_t size) {
  if (c->limit != 0 && c->n == c->limit) {
    c->more = true;
    return false;
  }
  if (c->n == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 64;
    cairn_obj_info *ni = realloc(c->items, cap * sizeof *ni);
    if (ni == NULL)
      goto oom;
    c->items = ni, c->cap = cap;
  }
  if ((c->items[c->n].key = strdup(key)) == NULL)
    goto oom;
  c->items[c->n++].size = size;
  return true;
oom:
  c->st = cairn_error_set(c->err, CAIRN_NOMEM, "object list: out of memory");
  return false;
}

/* Walk directory rel ("" or "a/b/"); false = stop (limit reached / error). */
static bool list_walk(list_ctx *c, const char *rel) {
  char path[LOCAL_PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", c->s->root, rel);
  dir_entry *e;
  size_t n;
  if (read_entries(path, &e, &n) != 0) {
    c->st = cairn_error_set(c->err, CAIRN_IO, "object list: reading '%s': %s",
                            path, strerror(errno));
    return false;
  }
  bool go = true;
  char key[CAIRN_OBJ_MAX_KEY + 260];
  for (size_t i = 0; go && i < n; i++) {
    snprintf(key, sizeof key, "%s%s", rel, e[i].sortkey);
    if (strlen(key) > CAIRN_OBJ_MAX_KEY)
      continue; /* not a key this store could have written */
    if (e[i].is_dir) {
      if (subtree_wanted(c, key))
        go = list_walk(c, key);
    } else if (starts_with(key, c->prefix) &&
               (c->after == NULL || strcmp(key, c->after) > 0)) {
      go = list_add(c, key, e[i].size);
    }
  }
  entries_free(e, n);
  return go;
}

static cairn_status local_list(cairn_objstore *so, const char *prefix,
                               const char *after, size_t limit,
                               cairn_obj_info **items, size_t *n, bool *more,
                               cairn_error *err) {
  list_ctx c = {.s = (local_store *)so, .prefix = prefix, .after = after,
                .limit = limit, .st = CAIRN_OK, .err = err};
  list_walk(&c, "");
  if (c.st != CAIRN_OK) {
    cairn_obj_infos_free(c.items, c.n);
    return c.st;
  }
  *items = c.items;
  *n = c.n;
  *more = c.more;
  return CAIRN_OK;
}

/* ---- writer -------------------------------------------------------------- */

static cairn_status local_writer_open(cairn_objstore *so, const char *key,
                                      cairn_obj_writer **out, cairn_error *err) {
  local_store *s = (local_store *)so;
  local_writer *w = calloc(1, sizeof *w);
  if (w == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, "object writer: out of memory");
  w->base.store = so;
  if (obj_path(s, key, w->path, sizeof w->path) != 0) {
    free(w);
    return io_error(err, "writer open", key);
  }
  w->fd = tmp_create(s, w->path, w->tmp, sizeof w->tmp);
  if (w->fd < 0) {
    cairn_status st = tmp_failed(key, err);
    free(w);
    return st;
  }
  *out = &w->base;
  return CAIRN_OK;
}

static const char *writer_key(const local_writer *w) {
  const local_store *s = (const local_store *)w->base.store;
  return w->path + strlen(s->root) + 1;
}

static cairn_status local_writer_append(cairn_obj_writer *wo, const void *data,
                                        size_t len, cairn_error *err) {
  local_writer *w = (local_writer *)wo;
  if (w->failed)
    return cairn_error_set(err, CAIRN_IO, "object writer '%s': an earlier "
                           "append failed", writer_key(w));
  if (write_full(w->fd, data, len) != 0) {
    w->failed = true;
    return io_error(err, "write", writer_key(w));
  }
  return CAIRN_OK;
}

static void local_writer_abort(cairn_obj_writer *wo) {
  local_writer *w = (local_writer *)wo;
  if (w->fd >= 0)
    close(w->fd);
  unlink(w->tmp);
  free(w);
}

static cairn_status local_writer_commit(cairn_obj_writer *wo, cairn_error *err) {
  local_writer *w = (local_writer *)wo;
  cairn_status st;
  if (w->failed) {
    st = cairn_error_set(err, CAIRN_IO, "object writer '%s': an earlier append "
                         "failed; nothing published", writer_key(w));
    local_writer_abort(wo);
    return st;
  }
  st = publish(w->fd, w->tmp, w->path, writer_key(w), err);
  free(w); /* publish closed fd and removed tmp on failure */
  return st;
}

/* ---- open / close / local_path -------------------------------------------- */

/* Remove temp files of dead processes anywhere below dir (recursive). */
static void clean_stale(const char *dir, int depth) {
  DIR *d = opendir(dir);
  if (d == NULL || depth > 64) {
    if (d != NULL)
      closedir(d);
    return;
  }
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0) {
      long pid = strtol(de->d_name + strlen(TMP_PREFIX), NULL, 10);
      if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH))
        unlinkat(dirfd(d), de->d_name, 0);
      continue;
    }
    struct stat sb;
    if (!component_ok(de->d_name) ||
        fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISDIR(sb.st_mode))
      continue;
    char sub[LOCAL_PATH_MAX];
    if (snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name) < (int)sizeof sub)
      clean_stale(sub, depth + 1);
  }
  closedir(d);
}

static int mkdir_p(const char *path) {
  char tmp[LOCAL_PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s", path);
  for (char *p = tmp + 1; *p != '\0'; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
      return -1;
    *p = '/';
  }
  return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static cairn_status local_open(const char *location, cairn_objstore **out,
                               cairn_error *err) {
  size_t len = strlen(location);
  while (len > 1 && location[len - 1] == '/')
    len--;
  if (len + CAIRN_OBJ_MAX_KEY + 64 > LOCAL_PATH_MAX)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "object store: root path too long");
  local_store *s = calloc(1, sizeof *s);
  if (s == NULL || (s->root = strndup(location, len)) == NULL) {
    free(s);
    return cairn_error_set(err, CAIRN_NOMEM, "object store: out of memory");
  }
  s->base.vt = &cairn_objstore_local_vtable;
  struct stat sb;
  if (mkdir_p(s->root) != 0 || stat(s->root, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
    cairn_status st = cairn_error_set(err, CAIRN_IO,
                                      "object store: cannot use directory "
                                      "'%s': %s",
                                      s->root, strerror(errno ? errno : ENOTDIR));
    free(s->root);
    free(s);
    return st;
  }
  clean_stale(s->root, 0);
  *out = &s->base;
  return CAIRN_OK;
}

static void local_close(cairn_objstore *so) {
  local_store *s = (local_store *)so;
  free(s->root);
  free(s);
}

static const char *local_path(cairn_objstore *so, const char *key, char *buf,
                              size_t buf_len) {
  return obj_path((local_store *)so, key, buf, buf_len) == 0 ? buf : NULL;
}

const cairn_objstore_vtable cairn_objstore_local_vtable = {
    .name = "local",
    .open = local_open,
    .close = local_close,
    .put = local_put,
    .get = local_get,
    .stat = local_stat,
    .list = local_list,
    .remove = local_remove,
    .writer_open = local_writer_open,
    .writer_append = local_writer_append,
    .writer_commit = local_writer_commit,
    .writer_abort = local_writer_abort,
    .local_path = local_path,
};
