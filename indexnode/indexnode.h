/*
 * indexnode.h — the indexnode role (DESIGN §1, §6): builds the vector index
 * files of sealed segments.
 *
 * For every index definition of a collection (catalogue IndexInfo: type,
 * metric, params) and every sealed segment that has no file for it yet, the
 * indexnode reads the field's binlog, builds the index with the index
 * library (index/index.h; row ids = row offsets in the segment), writes it
 * to index_files/{index id}/1/{segment}/index (the library's own format,
 * index/index_io.c) and records it with CoordService.SaveSegmentIndex.
 * Builds run on a small worker pool, one segment at a time per worker.
 *
 * Threading: public functions are thread-safe; builds run on the pool.
 */
#ifndef CAIRN_INDEXNODE_H
#define CAIRN_INDEXNODE_H

#include <stdint.h>

#include "objstore.h"
#include "rpc.h"
#include "status.h"

typedef struct cairn_indexnode cairn_indexnode;

/* Called (on a worker) after an index file was recorded. */
typedef void (*cairn_indexnode_built_fn)(void *user, int64_t collection_id);

typedef struct cairn_indexnode_options {
  cairn_objstore *objstore;   /* borrowed */
  cairn_rpc_client *coord;    /* borrowed: CoordService */
  const char *root;           /* object key prefix */
  int workers;                /* 0: 1 */
  cairn_indexnode_built_fn on_built; /* may be NULL */
  void *on_built_user;
} cairn_indexnode_options;

cairn_status cairn_indexnode_open(const cairn_indexnode_options *opts,
                                  cairn_indexnode **out, cairn_error *err);
/* Finishes the build in progress, drops queued ones. NULL is allowed. */
void cairn_indexnode_close(cairn_indexnode *in);
/* Queue builds for every (index, sealed segment) of the collection that has
 * no file yet. Idempotent; returns at once. */
cairn_status cairn_indexnode_schedule(cairn_indexnode *in, int64_t collection_id,
                                      cairn_error *err);
/* Wait until no build is queued or running (tests, Flush + index sync). */
void cairn_indexnode_wait_idle(cairn_indexnode *in);

#endif
