/*
 * pending.c — index types whose implementation has not landed yet: their
 * tables refuse to create an index with CAIRN_UNIMPLEMENTED. Each entry
 * disappears from here when its type's files land.
 */
#include "index_impl.h"

static cairn_status pending_init(cairn_index *ix, cairn_error *err) {
  return cairn_error_set(err, CAIRN_UNIMPLEMENTED,
                         "index type %s is not implemented yet",
                         cairn_index_type_name(ix->type));
}
static void pending_destroy(cairn_index *ix) { (void)ix; }

#define PENDING(NAME, TYPE)                                                    \
  const cairn_index_ops NAME = {.type = TYPE, .init = pending_init,            \
                                .destroy = pending_destroy};

PENDING(cairn_sparse_ops, CAIRN_INDEX_SPARSE_INVERTED)
