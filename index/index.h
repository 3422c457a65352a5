/*
 * index.h — the public interface of Cairn's vector index library (DESIGN §6).
 *
 * One opaque handle, cairn_index, behind which every index type sits: FLAT,
 * HNSW, IVF_FLAT, IVF_SQ8, IVF_PQ, BIN_FLAT, BIN_IVF_FLAT and
 * SPARSE_INVERTED_INDEX. Each type implements the vtable in index_impl.h as
 * a `static const` table; this header is all a caller needs.
 *
 * Conventions
 *   - Metrics: "L2" is *squared* L2 (smaller is better); "IP" and "COSINE"
 *     are similarities (larger is better, COSINE = cos(angle) in [-1, 1]);
 *     "HAMMING" is the number of differing bits, "JACCARD" is the Jaccard
 *     *distance* 1 - |a&b|/|a|b| (both smaller is better). Sparse vectors use
 *     "IP". These are Milvus's score values and Milvus's result order.
 *   - Row ids are int64 and chosen by the caller at add time. A row's
 *     *position* is its 0-based insertion order in the index.
 *   - Filter bitset (cairn_bitset): bit i, stored in byte i/8 at bit (i%8)
 *     (LSB first), is 1 when the row at *position* i may be returned, 0 when
 *     it is filtered out. Rows at positions >= nbits are filtered out. A NULL
 *     filter lets every row through. (Milvus's own bitset has the opposite
 *     sense — "1 = deleted/filtered"; callers coming from there invert it.)
 *   - Results: search writes k (id, score) pairs per query, best first; when
 *     fewer than k rows qualify the tail is padded with id -1 and the worst
 *     score (+FLT_MAX for L2/HAMMING/JACCARD, -FLT_MAX for IP/COSINE).
 *   - Vector input: float field types (FloatVector, Float16Vector,
 *     BFloat16Vector, Int8Vector) are passed in their own element type, dim
 *     values per row, rows contiguous; BinaryVector rows are dim/8 bytes;
 *     SparseFloatVector rows are cairn_sparse_row records.
 *   - Errors: every function returning cairn_status fills `err` (may be NULL)
 *     with the same status and a message such as
 *     "HNSW parameter M must be in [2, 2048], got 0".
 *
 * Threading: an index may be searched from many threads at once once built;
 * train/add/load must not run concurrently with anything else on the same
 * index. Build-time parallelism (HNSW) is internal.
 *
 * Ownership: cairn_index_new / cairn_index_load return an index the caller
 * frees with cairn_index_free. Vectors passed to add are copied. Buffers
 * from cairn_index_serialize are malloc'd and freed by the caller with
 * free(). cairn_range_result arrays are freed with cairn_range_result_destroy.
 */
#ifndef CAIRN_INDEX_H
#define CAIRN_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema.h"
#include "status.h"

typedef struct cairn_index cairn_index;

typedef enum cairn_metric {
  CAIRN_METRIC_NONE = 0,
  CAIRN_METRIC_L2,
  CAIRN_METRIC_IP,
  CAIRN_METRIC_COSINE,
  CAIRN_METRIC_HAMMING,
  CAIRN_METRIC_JACCARD,
} cairn_metric;

typedef enum cairn_index_type {
  CAIRN_INDEX_NONE = 0,
  CAIRN_INDEX_FLAT,
  CAIRN_INDEX_HNSW,
  CAIRN_INDEX_IVF_FLAT,
  CAIRN_INDEX_IVF_SQ8,
  CAIRN_INDEX_IVF_PQ,
  CAIRN_INDEX_BIN_FLAT,
  CAIRN_INDEX_BIN_IVF_FLAT,
  CAIRN_INDEX_SPARSE_INVERTED,
  CAIRN_INDEX_TYPE_COUNT
} cairn_index_type;

/* Allowed-rows bitset; see the convention above. */
typedef struct cairn_bitset {
  const uint8_t *bits; /* borrowed; (nbits + 7) / 8 bytes */
  size_t nbits;
} cairn_bitset;

/* One sparse row: nnz (dimension index, value) pairs, indices strictly
 * increasing. Arrays are borrowed. */
typedef struct cairn_sparse_row {
  uint32_t nnz;
  const uint32_t *idx;
  const float *val;
} cairn_sparse_row;

/* Search-time parameters (Milvus names). 0 means "use the default". */
typedef struct cairn_search_params {
  int ef;                  /* HNSW: candidate list size (>= k; default max(k, 64)) */
  int nprobe;              /* IVF: lists probed (default 8) */
  float drop_ratio_search; /* SPARSE: fraction of smallest query values dropped */
} cairn_search_params;

/* Result of a range search of one query: n hits, best first. */
typedef struct cairn_range_result {
  size_t n;
  int64_t *ids;  /* owned (malloc) */
  float *scores; /* owned (malloc) */
} cairn_range_result;

/* ---- names -------------------------------------------------------------- */

/* "HNSW" -> CAIRN_INDEX_HNSW (case-insensitive; "SPARSE_INVERTED_INDEX"
 * and "SPARSE_WAND" both map to CAIRN_INDEX_SPARSE_INVERTED);
 * CAIRN_INDEX_NONE if unknown. */
cairn_index_type cairn_index_type_from_name(const char *name);
/* Milvus name, or NULL for an unknown type. */
const char *cairn_index_type_name(cairn_index_type type);
/* "L2" -> CAIRN_METRIC_L2 (case-insensitive); CAIRN_METRIC_NONE if unknown. */
cairn_metric cairn_metric_from_name(const char *name);
const char *cairn_metric_name(cairn_metric metric);
/* True when larger scores are better (IP, COSINE). */
bool cairn_metric_higher_is_better(cairn_metric metric);

/* ---- catalogue helpers (stable: the coordinator calls these) ------------ */

/* Checks, without building anything, that an index of this type and metric
 * can be built on a field of this data type and dimension with these
 * parameters. params_json is a JSON object of Milvus index parameters
 * (values as numbers or strings, e.g. {"M": 16, "efConstruction": "200"});
 * NULL or "" means none. Keys "index_type", "metric_type" and "params" (a
 * nested object, flattened) are understood; other unknown keys are ignored,
 * as Milvus does. dim <= 0 skips the dimension checks (IVF_PQ m | dim,
 * binary dim % 8). Returns CAIRN_OK, CAIRN_INVALID_ARGUMENT or
 * CAIRN_INDEX_NOT_SUPPORTED with a message in err. Thread-safe. */
cairn_status cairn_index_validate_params(const char *index_type,
                                         const char *metric,
                                         cairn_data_type field_type,
                                         int64_t dim, const char *params_json,
                                         cairn_error *err);

/* AUTOINDEX: the index type for a field type — "HNSW" for float vectors,
 * "BIN_IVF_FLAT" for binary, "SPARSE_INVERTED_INDEX" for sparse; NULL for
 * non-vector types. Static string, never freed. */
const char *cairn_index_default_for(cairn_data_type field_type);
/* AUTOINDEX metric: "COSINE" for float vectors, "HAMMING" for binary, "IP"
 * for sparse; NULL for non-vector types. */
const char *cairn_index_default_metric_for(cairn_data_type field_type);

/* ---- life cycle --------------------------------------------------------- */

/* Creates an empty index. dim is the vector dimension (bits for binary;
 * ignored, may be 0, for sparse). params_json as in
 * cairn_index_validate_params, which this calls first. On success *out owns
 * the new index (free with cairn_index_free); on error *out is NULL. */
cairn_status cairn_index_new(const char *index_type, const char *metric,
                             cairn_data_type field_type, int64_t dim,
                             const char *params_json, cairn_index **out,
                             cairn_error *err);
/* Same with parameters as n_kv key/value string pairs:
 * kv = {"M", "16", "efConstruction", "200"}, n_kv = 2. */
cairn_status cairn_index_new_kv(const char *index_type, const char *metric,
                                cairn_data_type field_type, int64_t dim,
                                const char *const *kv, size_t n_kv,
                                cairn_index **out, cairn_error *err);
/* Frees the index and everything it owns. NULL is allowed. */
void cairn_index_free(cairn_index *index);

/* Trains what needs training (IVF centroids, PQ codebooks, SQ ranges) on n
 * sample rows. A no-op for FLAT, HNSW, BIN_FLAT, SPARSE. IVF indexes that
 * were never trained train themselves on the first add. */
cairn_status cairn_index_train(cairn_index *index, size_t n,
                               const void *vectors, cairn_error *err);
/* Adds n rows with their ids (ids may be NULL: ids are then the positions).
 * Positions continue from cairn_index_count(). */
cairn_status cairn_index_add(cairn_index *index, size_t n, const void *vectors,
                             const int64_t *ids, cairn_error *err);

/* Top-k search of nq queries. ids and scores receive nq*k values each
 * (caller-allocated). params may be NULL; filter may be NULL. */
cairn_status cairn_index_search(const cairn_index *index, size_t nq,
                                const void *queries, int k,
                                const cairn_search_params *params,
                                const cairn_bitset *filter, int64_t *ids,
                                float *scores, cairn_error *err);
/* Range search of one query with Milvus semantics: for L2/HAMMING/JACCARD
 * hits have range_filter <= d < radius; for IP/COSINE radius < s <=
 * range_filter. Pass NAN for range_filter when absent. *out is cleared on
 * entry and filled with every hit, best first. */
cairn_status cairn_index_range_search(const cairn_index *index,
                                      const void *query, float radius,
                                      float range_filter,
                                      const cairn_search_params *params,
                                      const cairn_bitset *filter,
                                      cairn_range_result *out,
                                      cairn_error *err);
void cairn_range_result_destroy(cairn_range_result *res);

/* Parses Milvus search parameters ({"ef": 64} or {"params": {"nprobe": 16}},
 * values as numbers or strings) into *out, cleared on entry. */
cairn_status cairn_search_params_parse(const char *params_json,
                                       cairn_search_params *out,
                                       cairn_error *err);

size_t cairn_index_count(const cairn_index *index);
/* Bytes of memory held by the index (vectors, graph, codes, ids). */
size_t cairn_index_memory(const cairn_index *index);
cairn_index_type cairn_index_get_type(const cairn_index *index);
cairn_metric cairn_index_get_metric(const cairn_index *index);
int64_t cairn_index_dim(const cairn_index *index);
/* The id of the row at a position, or -1 if out of range. */
int64_t cairn_index_id_at(const cairn_index *index, size_t position);

/* ---- persistence (format: index_io.c) ----------------------------------- */

/* Serializes into a malloc'd buffer; caller frees *buf with free(). */
cairn_status cairn_index_serialize(const cairn_index *index, uint8_t **buf,
                                   size_t *len, cairn_error *err);
cairn_status cairn_index_save(const cairn_index *index, const char *path,
                              cairn_error *err);
/* Loads from a buffer (copied) / from a file (mmap'd, read, unmapped). Bad,
 * truncated or corrupted input gives CAIRN_CORRUPT, never a crash. */
cairn_status cairn_index_deserialize(const uint8_t *buf, size_t len,
                                     cairn_index **out, cairn_error *err);
cairn_status cairn_index_load(const char *path, cairn_index **out,
                              cairn_error *err);

#endif
