/*
 * objstore.h — object storage: immutable blobs by key (DESIGN §2, §5).
 *
 * Segments' binlogs, delta logs, stats and index files live here. Backends:
 * "local" (a directory, objstore_local.c) and "s3" (objstore_s3.c). Keys are
 * '/'-separated paths of [A-Za-z0-9._=-] components, 1..1024 bytes, never
 * starting with '/' or containing "..".
 *
 * Semantics (those of S3): a put replaces the whole object atomically —
 * readers see the old or the new bytes, never a mix; a put that returns OK is
 * durable. Objects are read whole or by range. list returns keys under a
 * prefix in ascending byte order, paged by `after`. Large objects are written
 * through a writer (maps to multipart upload on S3): append parts, then
 * commit (atomic, durable) or abort.
 *
 * Ownership: buffers returned through out parameters are malloc'd and owned
 * by the caller (free()). Threading: a cairn_objstore is safe from any
 * number of threads; a writer is used by one thread.
 */
#ifndef CAIRN_OBJSTORE_H
#define CAIRN_OBJSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define CAIRN_OBJ_MAX_KEY 1024

typedef struct cairn_objstore cairn_objstore;
typedef struct cairn_obj_writer cairn_obj_writer;

typedef struct cairn_obj_info {
  char *key;     /* malloc'd */
  uint64_t size;
} cairn_obj_info;

typedef struct cairn_objstore_vtable {
  const char *name;
  cairn_status (*open)(const char *location, cairn_objstore **out,
                       cairn_error *err);
  void (*close)(cairn_objstore *s);
  cairn_status (*put)(cairn_objstore *s, const char *key, const void *data,
                      size_t len, cairn_error *err);
  cairn_status (*get)(cairn_objstore *s, const char *key, uint64_t offset,
                      uint64_t len, void **data, size_t *got, cairn_error *err);
  cairn_status (*stat)(cairn_objstore *s, const char *key, uint64_t *size,
                       cairn_error *err);
  cairn_status (*list)(cairn_objstore *s, const char *prefix, const char *after,
                       size_t limit, cairn_obj_info **items, size_t *n,
                       bool *more, cairn_error *err);
  cairn_status (*remove)(cairn_objstore *s, const char *key, cairn_error *err);
  cairn_status (*writer_open)(cairn_objstore *s, const char *key,
                              cairn_obj_writer **out, cairn_error *err);
  cairn_status (*writer_append)(cairn_obj_writer *w, const void *data,
                                size_t len, cairn_error *err);
  cairn_status (*writer_commit)(cairn_obj_writer *w, cairn_error *err);
  void (*writer_abort)(cairn_obj_writer *w);
  /* Local path of an object for mmap, or NULL when the backend has none. */
  const char *(*local_path)(cairn_objstore *s, const char *key, char *buf,
                            size_t buf_len);
} cairn_objstore_vtable;

struct cairn_objstore {
  const cairn_objstore_vtable *vt;
};

/* Common head of every backend's writer (the generic layer finds the vtable
 * through it). */
struct cairn_obj_writer {
  cairn_objstore *store;
};

/* The backends (objstore_local.c; an "s3" one later). */
extern const cairn_objstore_vtable cairn_objstore_local_vtable;
/* "local" (the names cairn_objstore_open accepts, comma-separated). */
const char *cairn_objstore_backends(void);
/* The key rule above: 1..CAIRN_OBJ_MAX_KEY bytes, '/'-separated non-empty
 * components of [A-Za-z0-9._=-], no leading '/', no "..", no "." component. */
bool cairn_objstore_key_valid(const char *key);
/* "" or a key-like string that may end in '/' or inside a component. */
bool cairn_objstore_prefix_valid(const char *prefix);

/* Open backend "local" (a directory, created if missing). */
cairn_status cairn_objstore_open(const char *backend, const char *location,
                                 cairn_objstore **out, cairn_error *err);
void cairn_objstore_close(cairn_objstore *s);
cairn_status cairn_objstore_put(cairn_objstore *s, const char *key,
                                const void *data, size_t len, cairn_error *err);
/* Whole object (len = UINT64_MAX from offset 0) or a range; a range past the
 * end is cut at the end. Absent: CAIRN_IO_NOT_FOUND. *data is malloc'd. */
cairn_status cairn_objstore_get(cairn_objstore *s, const char *key,
                                uint64_t offset, uint64_t len, void **data,
                                size_t *got, cairn_error *err);
cairn_status cairn_objstore_stat(cairn_objstore *s, const char *key,
                                 uint64_t *size, cairn_error *err);
/* Up to limit (0 = all) keys under prefix greater than after (NULL = from
 * the start). Free with cairn_obj_infos_free. */
cairn_status cairn_objstore_list(cairn_objstore *s, const char *prefix,
                                 const char *after, size_t limit,
                                 cairn_obj_info **items, size_t *n, bool *more,
                                 cairn_error *err);
void cairn_obj_infos_free(cairn_obj_info *items, size_t n);
/* Removing an absent key is OK. */
cairn_status cairn_objstore_remove(cairn_objstore *s, const char *key,
                                   cairn_error *err);
/* Remove every object under prefix. */
cairn_status cairn_objstore_remove_prefix(cairn_objstore *s, const char *prefix,
                                          cairn_error *err);
cairn_status cairn_obj_writer_open(cairn_objstore *s, const char *key,
                                   cairn_obj_writer **out, cairn_error *err);
cairn_status cairn_obj_writer_append(cairn_obj_writer *w, const void *data,
                                     size_t len, cairn_error *err);
/* Publish the object (atomic, durable) and free the writer, also when it
 * fails (then nothing was published and the old object, if any, stays). */
cairn_status cairn_obj_writer_commit(cairn_obj_writer *w, cairn_error *err);
/* Discard and free the writer. */
void cairn_obj_writer_abort(cairn_obj_writer *w);
/* Local file of an object (for mmap) or NULL: the path where the object
 * lives (whether or not it exists now) written into buf, or NULL when the
 * backend keeps no local files, the key is invalid or buf is too small.
 * A put replaces the file by rename, so a mapping keeps the old bytes. */
const char *cairn_objstore_local_path(cairn_objstore *s, const char *key,
                                      char *buf, size_t buf_len);

#endif
