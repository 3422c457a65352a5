/*
 * qn_wire.h — search and query requests of querynode.h as cairn.cluster
 * messages (proto/cairn_cluster.proto), both ways (qn_wire.c): the proxy of
 * a cluster encodes, the querynode's service decodes.
 *
 * The filter travels as its source text and template values and is parsed
 * again on the querynode against the collection's schema (the proxy has
 * already checked it against the same schema, so a parse error there means
 * the collection changed under the call).
 *
 * Ownership: everything built lives in the arena, except the decoded
 * filter, which the caller frees with cairn_expr_free.
 */
#ifndef CAIRN_QN_WIRE_H
#define CAIRN_QN_WIRE_H

#include "arena.h"
#include "cairn_cluster.pb-c.h"
#include "querynode.h"
#include "schema.h"
#include "status.h"

cairn_status qn_wire_encode_search(cairn_arena *arena, const cairn_qn_search *q,
                                   Cairn__Cluster__SearchRequest **out,
                                   cairn_error *err);
/* Fills *q from m; queries are checked against the searched field of
 * schema; *filter (may be NULL when there is none) is set in q->filter. */
cairn_status qn_wire_decode_search(cairn_arena *arena,
                                   const Cairn__Cluster__SearchRequest *m,
                                   const cairn_schema *schema,
                                   cairn_qn_search *q, cairn_expr **filter,
                                   cairn_error *err);

cairn_status qn_wire_encode_query(cairn_arena *arena, const cairn_qn_query *q,
                                  Cairn__Cluster__QueryRequest **out,
                                  cairn_error *err);
cairn_status qn_wire_decode_query(cairn_arena *arena,
                                  const Cairn__Cluster__QueryRequest *m,
                                  const cairn_schema *schema, cairn_qn_query *q,
                                  cairn_expr **filter, cairn_error *err);

#endif
