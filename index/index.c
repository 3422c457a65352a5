/*
 * index.c — the common layer of every index: names, Milvus parameter
 * parsing and validation, the factory, row ids, conversion of caller
 * vectors into the internal form, and the public search wrappers that
 * turn internal distances back into Milvus scores (see index_impl.h).
 *
 * Parameters arrive as JSON ({"M": 16, "efConstruction": "200"}, maybe
 * nested under "params") or as key/value strings; both become one list of
 * (name, number) pairs and then one validation routine, so the catalogue
 * (cairn_index_validate_params) and the builder accept exactly the same
 * things.
 *
 * Threading: the name/validation functions are pure. Searches on one index
 * may run concurrently; everything else needs exclusive access.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "index_impl.h"

/* ---- names -------------------------------------------------------------- */

static const char *const type_names[CAIRN_INDEX_TYPE_COUNT] = {
    [CAIRN_INDEX_FLAT] = "FLAT",
    [CAIRN_INDEX_HNSW] = "HNSW",
    [CAIRN_INDEX_IVF_FLAT] = "IVF_FLAT",
    [CAIRN_INDEX_IVF_SQ8] = "IVF_SQ8",
    [CAIRN_INDEX_IVF_PQ] = "IVF_PQ",
    [CAIRN_INDEX_BIN_FLAT] = "BIN_FLAT",
    [CAIRN_INDEX_BIN_IVF_FLAT] = "BIN_IVF_FLAT",
    [CAIRN_INDEX_SPARSE_INVERTED] = "SPARSE_INVERTED_INDEX",
};

cairn_index_type cairn_index_type_from_name(const char *name) {
  if (name == NULL)
    return CAIRN_INDEX_NONE;
  if (strcasecmp(name, "SPARSE_WAND") == 0)
    return CAIRN_INDEX_SPARSE_INVERTED;
  for (int t = 1; t < CAIRN_INDEX_TYPE_COUNT; t++)
    if (strcasecmp(name, type_names[t]) == 0)
      return (cairn_index_type)t;
  return CAIRN_INDEX_NONE;
}

const char *cairn_index_type_name(cairn_index_type type) {
  return type > 0 && type < CAIRN_INDEX_TYPE_COUNT ? type_names[type] : NULL;
}

static const char *const metric_names[] = {
    [CAIRN_METRIC_L2] = "L2",           [CAIRN_METRIC_IP] = "IP",
    [CAIRN_METRIC_COSINE] = "COSINE",   [CAIRN_METRIC_HAMMING] = "HAMMING",
    [CAIRN_METRIC_JACCARD] = "JACCARD",
};

cairn_metric cairn_metric_from_name(const char *name) {
  if (name == NULL)
    return CAIRN_METRIC_NONE;
  for (int m = 1; m <= CAIRN_METRIC_JACCARD; m++)
    if (strcasecmp(name, metric_names[m]) == 0)
      return (cairn_metric)m;
  return CAIRN_METRIC_NONE;
}

const char *cairn_metric_name(cairn_metric m) {
  return m > 0 && m <= CAIRN_METRIC_JACCARD ? metric_names[m] : NULL;
}

bool cairn_metric_higher_is_better(cairn_metric m) {
  return m == CAIRN_METRIC_IP || m == CAIRN_METRIC_COSINE;
}

static bool is_float_type(cairn_data_type t) {
  return t == CAIRN_TYPE_FLOAT_VECTOR || t == CAIRN_TYPE_FLOAT16_VECTOR ||
         t == CAIRN_TYPE_BFLOAT16_VECTOR || t == CAIRN_TYPE_INT8_VECTOR;
}

const char *cairn_index_default_for(cairn_data_type t) {
  if (is_float_type(t))
    return "HNSW";
  if (t == CAIRN_TYPE_BINARY_VECTOR)
    return "BIN_IVF_FLAT";
  if (t == CAIRN_TYPE_SPARSE_FLOAT_VECTOR)
    return "SPARSE_INVERTED_INDEX";
  return NULL;
}

const char *cairn_index_default_metric_for(cairn_data_type t) {
  if (is_float_type(t))
    return "COSINE";
  if (t == CAIRN_TYPE_BINARY_VECTOR)
    return "HAMMING";
  if (t == CAIRN_TYPE_SPARSE_FLOAT_VECTOR)
    return "IP";
  return NULL;
}

const cairn_index_ops *cairn_index_ops_for(cairn_index_type type) {
  switch (type) {
  case CAIRN_INDEX_FLAT: return &cairn_flat_ops;
  case CAIRN_INDEX_HNSW: return &cairn_hnsw_ops;
  case CAIRN_INDEX_IVF_FLAT: return &cairn_ivf_flat_ops;
  case CAIRN_INDEX_IVF_SQ8: return &cairn_ivf_sq8_ops;
  case CAIRN_INDEX_IVF_PQ: return &cairn_ivf_pq_ops;
  case CAIRN_INDEX_BIN_FLAT: return &cairn_bin_flat_ops;
  case CAIRN_INDEX_BIN_IVF_FLAT: return &cairn_bin_ivf_flat_ops;
  case CAIRN_INDEX_SPARSE_INVERTED: return &cairn_sparse_ops;
  default: return NULL;
  }
}

/* ---- parameters: DEFAULT / MIN / MAX ------------------------------------ */

#define HNSW_DEFAULT_M 30
#define HNSW_MIN_M 2
#define HNSW_MAX_M 2048
#define HNSW_DEFAULT_EFC 360
#define HNSW_MIN_EFC 1
#define HNSW_MAX_EFC (1 << 20)
#define HNSW_MIN_EF 1
#define HNSW_MAX_EF (1 << 20)
#define IVF_DEFAULT_NLIST 128
#define IVF_MIN_NLIST 1
#define IVF_MAX_NLIST 65536
#define IVF_DEFAULT_NPROBE 8
#define IVF_MIN_NPROBE 1
#define IVF_MAX_NPROBE 65536
#define PQ_DEFAULT_NBITS 8
#define PQ_MIN_NBITS 1
#define PQ_MAX_NBITS 8 /* XXX: Milvus allows up to 16; codes here are bytes */
#define MAX_FLOAT_DIM 32768
#define MAX_BINARY_DIM 262144

/* One parsed parameter. */
typedef struct kv_num {
  char key[32];
  double val;
} kv_num;

typedef struct kv_list {
  kv_num items[32];
  int n;
} kv_list;

static cairn_status parse_number(const char *key, const char *s, double *out,
                                 cairn_error *err) {
  char *end;
  while (isspace((unsigned char)*s))
    s++;
  double v = strtod(s, &end);
  while (isspace((unsigned char)*end))
    end++;
  if (end == s || *end != '\0' || !isfinite(v))
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "index parameter %s must be a number, got \"%s\"",
                           key, s);
  *out = v;
  return CAIRN_OK;
}

static bool known_key(const char *k) {
  static const char *const keys[] = {"M", "efConstruction", "ef", "nlist",
                                     "nprobe", "m", "nbits", "drop_ratio_build",
                                     "drop_ratio_search"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (strcmp(k, keys[i]) == 0)
      return true;
  return false;
}

static cairn_status kv_add(kv_list *l, const char *key, const char *sval,
                           cairn_error *err) {
  if (!known_key(key))
    return CAIRN_OK; /* Milvus ignores unknown keys too */
  if (l->n == (int)(sizeof l->items / sizeof l->items[0]))
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "too many index parameters");
  kv_num *it = &l->items[l->n];
  cairn_status st = parse_number(key, sval, &it->val, err);
  if (st != CAIRN_OK)
    return st;
  snprintf(it->key, sizeof it->key, "%s", key);
  l->n++;
  return CAIRN_OK;
}

static cairn_status kv_from_json_obj(kv_list *l, json_object *obj, int depth,
                                     cairn_error *err) {
  json_object_object_foreach(obj, key, val) {
    cairn_status st = CAIRN_OK;
    enum json_type t = json_object_get_type(val);
    if (t == json_type_object && strcmp(key, "params") == 0 && depth == 0)
      st = kv_from_json_obj(l, val, 1, err);
    else if (t == json_type_string)
      st = kv_add(l, key, json_object_get_string(val), err);
    else if (t == json_type_int || t == json_type_double) {
      char buf[64];
      snprintf(buf, sizeof buf, "%.17g", json_object_get_double(val));
      st = kv_add(l, key, buf, err);
    } else if (known_key(key))
      st = cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "index parameter %s must be a number", key);
    if (st != CAIRN_OK)
      return st;
  }
  return CAIRN_OK;
}

static cairn_status kv_from_json(kv_list *l, const char *json,
                                 cairn_error *err) {
  l->n = 0;
  if (json == NULL || json[0] == '\0')
    return CAIRN_OK;
  json_object *obj = json_tokener_parse(json);
  if (obj == NULL || json_object_get_type(obj) != json_type_object) {
    json_object_put(obj);
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "index parameters are not a JSON object: %.200s", json);
  }
  cairn_status st = kv_from_json_obj(l, obj, 0, err);
  json_object_put(obj);
  return st;
}

static const kv_num *kv_get(const kv_list *l, const char *key) {
  for (int i = l->n - 1; i >= 0; i--)
    if (strcmp(l->items[i].key, key) == 0)
      return &l->items[i];
  return NULL;
}

/* Reads an integer parameter in [lo, hi] (default def when absent). */
static cairn_status get_int(const kv_list *l, const char *type,
                            const char *key, long lo, long hi, int def,
                            int *out, cairn_error *err) {
  const kv_num *it = kv_get(l, key);
  if (it == NULL) {
    *out = def;
    return CAIRN_OK;
  }
  if (it->val != floor(it->val) || it->val < lo || it->val > hi)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "%s parameter %s must be in [%ld, %ld], got %g",
                           type, key, lo, hi, it->val);
  *out = (int)it->val;
  return CAIRN_OK;
}

static cairn_status get_ratio(const kv_list *l, const char *type,
                              const char *key, float *out, cairn_error *err) {
  const kv_num *it = kv_get(l, key);
  *out = 0;
  if (it == NULL)
    return CAIRN_OK;
  if (!(it->val >= 0 && it->val < 1))
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "%s parameter %s must be in [0, 1), got %g", type,
                           key, it->val);
  *out = (float)it->val;
  return CAIRN_OK;
}

/* Largest divisor of dim that is <= dim/2 and <= 64 (1 for dim 1). */
static int default_pq_m(int64_t dim) {
  for (int64_t m = dim / 2 < 64 ? dim / 2 : 64; m > 1; m--)
    if (dim % m == 0)
      return (int)m;
  return 1;
}

static cairn_status check_type_metric(cairn_index_type type, cairn_metric metric,
                                      cairn_data_type ft, cairn_error *err) {
  const char *tn = cairn_index_type_name(type);
  bool fl = type == CAIRN_INDEX_FLAT || type == CAIRN_INDEX_HNSW ||
            type == CAIRN_INDEX_IVF_FLAT || type == CAIRN_INDEX_IVF_SQ8 ||
            type == CAIRN_INDEX_IVF_PQ;
  bool bin = type == CAIRN_INDEX_BIN_FLAT || type == CAIRN_INDEX_BIN_IVF_FLAT;
  bool ok_type = (fl && is_float_type(ft)) &&
                 (ft != CAIRN_TYPE_INT8_VECTOR || type == CAIRN_INDEX_FLAT ||
                  type == CAIRN_INDEX_HNSW);
  ok_type |= bin && ft == CAIRN_TYPE_BINARY_VECTOR;
  ok_type |= type == CAIRN_INDEX_SPARSE_INVERTED &&
             ft == CAIRN_TYPE_SPARSE_FLOAT_VECTOR;
  if (!ok_type)
    return cairn_error_set(err, CAIRN_INDEX_NOT_SUPPORTED,
                           "index type %s does not support field type %s", tn,
                           cairn_type_name(ft) ? cairn_type_name(ft) : "unknown");
  bool ok_metric =
      (fl && (metric == CAIRN_METRIC_L2 || metric == CAIRN_METRIC_IP ||
              metric == CAIRN_METRIC_COSINE)) ||
      (bin && (metric == CAIRN_METRIC_HAMMING || metric == CAIRN_METRIC_JACCARD)) ||
      (type == CAIRN_INDEX_SPARSE_INVERTED && metric == CAIRN_METRIC_IP);
  if (!ok_metric)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "metric type %s is not supported by index type %s",
                           cairn_metric_name(metric) ? cairn_metric_name(metric)
                                                     : "(unknown)",
                           tn);
  return CAIRN_OK;
}

static cairn_status check_dim(cairn_index_type type, cairn_data_type ft,
                              int64_t dim, cairn_error *err) {
  if (ft == CAIRN_TYPE_SPARSE_FLOAT_VECTOR || dim <= 0)
    return CAIRN_OK;
  if (ft == CAIRN_TYPE_BINARY_VECTOR) {
    if (dim % 8 != 0 || dim > MAX_BINARY_DIM)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "binary vector dim must be a multiple of 8 in [8, %d], got %lld",
                             MAX_BINARY_DIM, (long long)dim);
  } else if (dim > MAX_FLOAT_DIM) {
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "%s: vector dim must be in [1, %d], got %lld",
                           cairn_index_type_name(type), MAX_FLOAT_DIM,
                           (long long)dim);
  }
  return CAIRN_OK;
}

/* The one validation routine: kv -> params for this type. */
static cairn_status params_from_kv(cairn_index_type type, int64_t dim,
                                   const kv_list *l, cairn_index_params *p,
                                   cairn_error *err) {
  const char *tn = cairn_index_type_name(type);
  cairn_status st = CAIRN_OK;
  memset(p, 0, sizeof *p);
  switch (type) {
  case CAIRN_INDEX_HNSW:
    st = get_int(l, tn, "M", HNSW_MIN_M, HNSW_MAX_M, HNSW_DEFAULT_M, &p->M, err);
    if (st == CAIRN_OK)
      st = get_int(l, tn, "efConstruction", HNSW_MIN_EFC, HNSW_MAX_EFC,
                   HNSW_DEFAULT_EFC, &p->efConstruction, err);
    if (st == CAIRN_OK)
      st = get_int(l, tn, "ef", HNSW_MIN_EF, HNSW_MAX_EF, 0, &p->ef, err);
    return st;
  case CAIRN_INDEX_IVF_PQ:
    st = get_int(l, tn, "m", 1, MAX_FLOAT_DIM, dim > 0 ? default_pq_m(dim) : 1,
                 &p->m, err);
    if (st == CAIRN_OK && dim > 0 && dim % p->m != 0)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                             "%s parameter m must divide dim %lld, got %d", tn,
                             (long long)dim, p->m);
    if (st == CAIRN_OK)
      st = get_int(l, tn, "nbits", PQ_MIN_NBITS, PQ_MAX_NBITS, PQ_DEFAULT_NBITS,
                   &p->nbits, err);
    __attribute__((fallthrough)); /* IVF parameters follow */
  case CAIRN_INDEX_IVF_FLAT:
  case CAIRN_INDEX_IVF_SQ8:
  case CAIRN_INDEX_BIN_IVF_FLAT:
    if (st == CAIRN_OK)
      st = get_int(l, tn, "nlist", IVF_MIN_NLIST, IVF_MAX_NLIST,
                   IVF_DEFAULT_NLIST, &p->nlist, err);
    if (st == CAIRN_OK)
      st = get_int(l, tn, "nprobe", IVF_MIN_NPROBE, IVF_MAX_NPROBE,
                   IVF_DEFAULT_NPROBE, &p->nprobe, err);
    return st;
  case CAIRN_INDEX_SPARSE_INVERTED:
    st = get_ratio(l, tn, "drop_ratio_build", &p->drop_ratio_build, err);
    if (st == CAIRN_OK)
      st = get_ratio(l, tn, "drop_ratio_search", &p->drop_ratio_search, err);
    return st;
  default:
    return CAIRN_OK;
  }
}

/* Resolves names (AUTOINDEX, default metric) and checks everything. */
static cairn_status resolve(const char *index_type, const char *metric,
                            cairn_data_type ft, int64_t dim, const kv_list *l,
                            cairn_index_type *type_out, cairn_metric *metric_out,
                            cairn_index_params *p, cairn_error *err) {
  if (!cairn_type_is_vector(ft))
    return cairn_error_set(err, CAIRN_INDEX_NOT_SUPPORTED,
                           "cannot build a vector index on field type %s",
                           cairn_type_name(ft) ? cairn_type_name(ft) : "unknown");
  const char *tn = index_type;
  if (tn == NULL || tn[0] == '\0' || strcasecmp(tn, "AUTOINDEX") == 0)
    tn = cairn_index_default_for(ft);
  cairn_index_type type = cairn_index_type_from_name(tn);
  if (type == CAIRN_INDEX_NONE)
    return cairn_error_set(err, CAIRN_INDEX_NOT_SUPPORTED,
                           "index type %s is not supported", index_type);
  const char *mn = metric;
  if (mn == NULL || mn[0] == '\0')
    mn = cairn_index_default_metric_for(ft);
  cairn_metric m = cairn_metric_from_name(mn);
  if (m == CAIRN_METRIC_NONE)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "metric type %s is not supported", metric);
  cairn_status st = check_type_metric(type, m, ft, err);
  if (st == CAIRN_OK)
    st = check_dim(type, ft, dim, err);
  if (st == CAIRN_OK)
    st = params_from_kv(type, dim, l, p, err);
  *type_out = type;
  *metric_out = m;
  return st;
}

cairn_status cairn_index_validate_params(const char *index_type,
                                         const char *metric,
                                         cairn_data_type field_type,
                                         int64_t dim, const char *params_json,
                                         cairn_error *err) {
  kv_list l;
  cairn_status st = kv_from_json(&l, params_json, err);
  if (st != CAIRN_OK)
    return st;
  cairn_index_type t;
  cairn_metric m;
  cairn_index_params p;
  return resolve(index_type, metric, field_type, dim, &l, &t, &m, &p, err);
}

/* ---- factory ------------------------------------------------------------ */

cairn_status cairn_index__new_raw(cairn_index_type type, cairn_metric metric,
                                  cairn_data_type dtype, uint32_t dim,
                                  const cairn_index_params *params,
                                  cairn_index **out, cairn_error *err) {
  *out = NULL;
  const cairn_index_ops *ops = cairn_index_ops_for(type);
  if (ops == NULL || !cairn_type_is_vector(dtype))
    return cairn_error_set(err, CAIRN_INDEX_NOT_SUPPORTED, "unknown index type %d",
                           (int)type);
  cairn_status st = check_type_metric(type, metric, dtype, err);
  if (st == CAIRN_OK)
    st = check_dim(type, dtype, dim, err);
  if (st != CAIRN_OK)
    return st;
  if ((dtype != CAIRN_TYPE_SPARSE_FLOAT_VECTOR) != (dim != 0))
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "vector dim must be > 0 (0 for sparse), got %u", dim);
  if (type == CAIRN_INDEX_IVF_PQ &&
      (params->m <= 0 || dim % (uint32_t)params->m != 0 || params->nbits < 1 ||
       params->nbits > PQ_MAX_NBITS))
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "bad IVF_PQ m/nbits");
  if ((type == CAIRN_INDEX_HNSW &&
       (params->M < HNSW_MIN_M || params->M > HNSW_MAX_M || params->efConstruction < 1 ||
        params->efConstruction > HNSW_MAX_EFC || params->ef < 0 || params->ef > HNSW_MAX_EF)) ||
      !(params->drop_ratio_build >= 0 && params->drop_ratio_build < 1) ||
      !(params->drop_ratio_search >= 0 && params->drop_ratio_search < 1) ||
      ((type == CAIRN_INDEX_IVF_FLAT || type == CAIRN_INDEX_IVF_SQ8 ||
        type == CAIRN_INDEX_IVF_PQ || type == CAIRN_INDEX_BIN_IVF_FLAT) &&
       (params->nlist < 1 || params->nlist > IVF_MAX_NLIST || params->nprobe < 1 ||
        params->nprobe > IVF_MAX_NPROBE)))
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "bad %s parameters",
                           cairn_index_type_name(type));
  cairn_index *ix = calloc(1, sizeof *ix);
  if (ix == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, NULL);
  ix->ops = ops;
  ix->type = type;
  ix->metric = metric;
  ix->dtype = dtype;
  ix->dim = dim;
  ix->params = *params;
  ix->k = cairn_kernels_get();
  st = ops->init(ix, err);
  if (st != CAIRN_OK) {
    cairn_index_free(ix);
    return st;
  }
  *out = ix;
  return CAIRN_OK;
}

static cairn_status new_from_kv(const char *index_type, const char *metric,
                                cairn_data_type ft, int64_t dim,
                                const kv_list *l, cairn_index **out,
                                cairn_error *err) {
  *out = NULL;
  cairn_index_type t;
  cairn_metric m;
  cairn_index_params p;
  cairn_status st = resolve(index_type, metric, ft, dim, l, &t, &m, &p, err);
  if (st != CAIRN_OK)
    return st;
  if (ft != CAIRN_TYPE_SPARSE_FLOAT_VECTOR && (dim <= 0 || dim > MAX_BINARY_DIM))
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "vector dim must be positive, got %lld", (long long)dim);
  return cairn_index__new_raw(t, m, ft, ft == CAIRN_TYPE_SPARSE_FLOAT_VECTOR ? 0 : (uint32_t)dim,
                              &p, out, err);
}

cairn_status cairn_index_new(const char *index_type, const char *metric,
                             cairn_data_type field_type, int64_t dim,
                             const char *params_json, cairn_index **out,
                             cairn_error *err) {
  *out = NULL;
  kv_list l;
  cairn_status st = kv_from_json(&l, params_json, err);
  if (st != CAIRN_OK)
    return st;
  return new_from_kv(index_type, metric, field_type, dim, &l, out, err);
}

cairn_status cairn_index_new_kv(const char *index_type, const char *metric,
                                cairn_data_type field_type, int64_t dim,
                                const char *const *kv, size_t n_kv,
                                cairn_index **out, cairn_error *err) {
  *out = NULL;
  kv_list l = {.n = 0};
  for (size_t i = 0; i < n_kv; i++) {
    if (kv[2 * i] == NULL || kv[2 * i + 1] == NULL)
      return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "NULL index parameter");
    cairn_status st = kv_add(&l, kv[2 * i], kv[2 * i + 1], err);
    if (st != CAIRN_OK)
      return st;
  }
  return new_from_kv(index_type, metric, field_type, dim, &l, out, err);
}

void cairn_index_free(cairn_index *ix) {
  if (ix == NULL)
    return;
  if (ix->ops != NULL)
    ix->ops->destroy(ix);
  free(ix->ids);
  free(ix);
}

/* ---- vector conversion -------------------------------------------------- */

/* Internal rows for n caller rows: either the caller's pointer (float32
 * non-cosine, binary, sparse) or a malloc'd converted copy in *owned. */
static cairn_status to_internal(const cairn_index *ix, size_t n,
                                const void *vecs, const void **rows,
                                float **owned, cairn_error *err) {
  *owned = NULL;
  *rows = vecs;
  if (!is_float_type(ix->dtype) ||
      (ix->dtype == CAIRN_TYPE_FLOAT_VECTOR && ix->metric != CAIRN_METRIC_COSINE))
    return CAIRN_OK;
  size_t d = ix->dim;
  float *f = malloc(n * d * sizeof(float) + 1);
  if (f == NULL)
    return cairn_error_set(err, CAIRN_NOMEM, "out of memory converting vectors");
  for (size_t i = 0; i < n * d; i++) {
    switch (ix->dtype) {
    case CAIRN_TYPE_FLOAT16_VECTOR: f[i] = cairn_f16_to_f32(((const uint16_t *)vecs)[i]); break;
    case CAIRN_TYPE_BFLOAT16_VECTOR: f[i] = cairn_bf16_to_f32(((const uint16_t *)vecs)[i]); break;
    case CAIRN_TYPE_INT8_VECTOR: f[i] = ((const int8_t *)vecs)[i]; break;
    default: f[i] = ((const float *)vecs)[i]; break;
    }
  }
  if (ix->metric == CAIRN_METRIC_COSINE)
    for (size_t i = 0; i < n; i++)
      cairn_normalize_f32(f + i * d, d);
  *owned = f;
  *rows = f;
  return CAIRN_OK;
}

static size_t input_row_bytes(const cairn_index *ix) {
  switch (ix->dtype) {
  case CAIRN_TYPE_FLOAT_VECTOR: return ix->dim * 4;
  case CAIRN_TYPE_FLOAT16_VECTOR:
  case CAIRN_TYPE_BFLOAT16_VECTOR: return ix->dim * 2;
  case CAIRN_TYPE_INT8_VECTOR: return ix->dim;
  case CAIRN_TYPE_BINARY_VECTOR: return ix->dim / 8;
  default: return sizeof(cairn_sparse_row);
  }
}

/* ---- build -------------------------------------------------------------- */

cairn_status cairn_index_train(cairn_index *ix, size_t n, const void *vecs,
                               cairn_error *err) {
  if (ix->ops->train == NULL) {
    ix->trained = true;
    return CAIRN_OK;
  }
  if (n == 0 || vecs == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "%s needs training rows", cairn_index_type_name(ix->type));
  const void *rows;
  float *owned;
  cairn_status st = to_internal(ix, n, vecs, &rows, &owned, err);
  if (st == CAIRN_OK)
    st = ix->ops->train(ix, n, rows, err);
  if (st == CAIRN_OK)
    ix->trained = true;
  free(owned);
  return st;
}

cairn_status cairn_index_add(cairn_index *ix, size_t n, const void *vecs,
                             const int64_t *ids, cairn_error *err) {
  if (n == 0)
    return CAIRN_OK;
  if (vecs == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "NULL vectors");
  if (ix->n + n > UINT32_MAX - 1)
    return cairn_error_set(err, CAIRN_TOO_LARGE, "index holds at most 2^32-2 rows");
  if (!ix->trained) {
    cairn_status st = cairn_index_train(ix, n, vecs, err);
    if (st != CAIRN_OK)
      return st;
  }
  if (ix->n + n > ix->cap_ids) {
    size_t cap = ix->cap_ids + ix->cap_ids / 2;
    if (cap < ix->n + n)
      cap = ix->n + n;
    int64_t *nids = realloc(ix->ids, cap * sizeof(int64_t));
    if (nids == NULL)
      return cairn_error_set(err, CAIRN_NOMEM, "out of memory growing ids");
    ix->ids = nids;
    ix->cap_ids = cap;
  }
  const void *rows;
  float *owned;
  cairn_status st = to_internal(ix, n, vecs, &rows, &owned, err);
  if (st == CAIRN_OK)
    st = ix->ops->add(ix, n, rows, err);
  free(owned);
  if (st != CAIRN_OK)
    return st;
  for (size_t i = 0; i < n; i++)
    ix->ids[ix->n + i] = ids ? ids[i] : (int64_t)(ix->n + i);
  ix->n += n;
  return CAIRN_OK;
}

/* ---- search ------------------------------------------------------------- */

static float to_score(const cairn_index *ix, float d) {
  return cairn_metric_higher_is_better(ix->metric) ? -d : d;
}

static void emit(const cairn_index *ix, cairn_topk *t, int64_t *ids,
                 float *scores) {
  cairn_topk_sort(t);
  float worst = cairn_metric_higher_is_better(ix->metric) ? -FLT_MAX : FLT_MAX;
  for (int j = 0; j < t->k; j++) {
    ids[j] = j < t->n ? ix->ids[t->pos[j]] : -1;
    scores[j] = j < t->n ? to_score(ix, t->dist[j]) : worst;
  }
}

cairn_status cairn_index_search(const cairn_index *ix, size_t nq,
                                const void *queries, int k,
                                const cairn_search_params *params,
                                const cairn_bitset *filter, int64_t *ids,
                                float *scores, cairn_error *err) {
  if (k <= 0 || k > (1 << 20))
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT,
                           "topk must be in [1, 1048576], got %d", k);
  if (nq == 0)
    return CAIRN_OK;
  if (queries == NULL || ids == NULL || scores == NULL)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "NULL search argument");
  cairn_search_params sp = params ? *params : (cairn_search_params){0};
  const void *rows;
  float *owned;
  cairn_status st = to_internal(ix, nq, queries, &rows, &owned, err);
  if (st != CAIRN_OK)
    return st;
  size_t qb = is_float_type(ix->dtype) ? ix->dim * sizeof(float) : input_row_bytes(ix);
  size_t batch = ix->ops->search_batch && nq > 1 ? (nq < 64 ? nq : 64) : 1;
  cairn_topk *tops = calloc(batch, sizeof *tops);
  for (size_t b = 0; tops != NULL && b < batch && st == CAIRN_OK; b++)
    st = cairn_topk_init(&tops[b], k);
  if (tops == NULL || st != CAIRN_OK)
    st = cairn_error_set(err, CAIRN_NOMEM, "out of memory for top-k");
  for (size_t q = 0; q < nq && st == CAIRN_OK; q += batch) {
    size_t nb = nq - q < batch ? nq - q : batch;
    const uint8_t *qp = (const uint8_t *)rows + q * qb;
    for (size_t b = 0; b < nb; b++)
      cairn_topk_clear(&tops[b]);
    if (batch > 1)
      st = ix->ops->search_batch(ix, nb, qp, &sp, filter, tops, err);
    else
      st = ix->ops->search(ix, qp, &sp, filter, &tops[0], err);
    for (size_t b = 0; b < nb && st == CAIRN_OK; b++)
      emit(ix, &tops[b], ids + (q + b) * (size_t)k, scores + (q + b) * (size_t)k);
  }
  for (size_t b = 0; tops != NULL && b < batch; b++)
    cairn_topk_destroy(&tops[b]);
  free(tops);
  free(owned);
  return st;
}

/* Hit test with Milvus range semantics on internal distances. */
static bool in_range(const cairn_index *ix, float d, float radius, float rf) {
  float s = to_score(ix, d);
  if (cairn_metric_higher_is_better(ix->metric))
    return s > radius && (isnan(rf) || s <= rf);
  return s < radius && (isnan(rf) || s >= rf);
}

/* Range search by widening top-k until the k-th hit leaves the radius (or
 * every row was returned). Exact for exact indexes, as good as the index's
 * recall otherwise. */
cairn_status cairn_index_range_search(const cairn_index *ix, const void *query,
                                      float radius, float range_filter,
                                      const cairn_search_params *params,
                                      const cairn_bitset *filter,
                                      cairn_range_result *out,
                                      cairn_error *err) {
  memset(out, 0, sizeof *out);
  if (ix->n == 0)
    return CAIRN_OK;
  const void *rows;
  float *owned;
  cairn_status st = to_internal(ix, 1, query, &rows, &owned, err);
  if (st != CAIRN_OK)
    return st;
  cairn_search_params sp = params ? *params : (cairn_search_params){0};
  size_t k = 64;
  cairn_topk t = {0};
  for (;;) {
    if (k > ix->n)
      k = ix->n;
    cairn_topk_destroy(&t);
    if (cairn_topk_init(&t, (int)k) != CAIRN_OK) {
      st = cairn_error_set(err, CAIRN_NOMEM, NULL);
      break;
    }
    cairn_search_params s2 = sp;
    if (s2.ef < (int)k)
      s2.ef = (int)k;
    st = ix->ops->search(ix, rows, &s2, filter, &t, err);
    if (st != CAIRN_OK)
      break;
    cairn_topk_sort(&t);
    if (t.n < (int)k || k == ix->n || !in_range(ix, t.dist[t.n - 1], radius, NAN))
      break;
    k *= 4;
  }
  size_t hits = 0;
  for (int j = 0; st == CAIRN_OK && j < t.n; j++)
    hits += in_range(ix, t.dist[j], radius, range_filter);
  if (st == CAIRN_OK && hits > 0) {
    out->ids = malloc(hits * sizeof(int64_t));
    out->scores = malloc(hits * sizeof(float));
    if (out->ids == NULL || out->scores == NULL) {
      cairn_range_result_destroy(out);
      st = cairn_error_set(err, CAIRN_NOMEM, NULL);
    }
    for (int j = 0; st == CAIRN_OK && j < t.n; j++)
      if (in_range(ix, t.dist[j], radius, range_filter)) {
        out->ids[out->n] = ix->ids[t.pos[j]];
        out->scores[out->n++] = to_score(ix, t.dist[j]);
      }
  }
  cairn_topk_destroy(&t);
  free(owned);
  return st;
}

void cairn_range_result_destroy(cairn_range_result *res) {
  if (res == NULL)
    return;
  free(res->ids);
  free(res->scores);
  memset(res, 0, sizeof *res);
}

cairn_status cairn_search_params_parse(const char *params_json,
                                       cairn_search_params *out,
                                       cairn_error *err) {
  memset(out, 0, sizeof *out);
  kv_list l;
  cairn_status st = kv_from_json(&l, params_json, err);
  int ef = 0, nprobe = 0;
  if (st == CAIRN_OK)
    st = get_int(&l, "search", "ef", HNSW_MIN_EF, HNSW_MAX_EF, 0, &ef, err);
  if (st == CAIRN_OK)
    st = get_int(&l, "search", "nprobe", IVF_MIN_NPROBE, IVF_MAX_NPROBE, 0,
                 &nprobe, err);
  if (st == CAIRN_OK)
    st = get_ratio(&l, "search", "drop_ratio_search", &out->drop_ratio_search, err);
  out->ef = ef;
  out->nprobe = nprobe;
  return st;
}

/* ---- accessors ---------------------------------------------------------- */

size_t cairn_index_count(const cairn_index *ix) { return ix->n; }

size_t cairn_index_memory(const cairn_index *ix) {
  return sizeof *ix + ix->cap_ids * sizeof(int64_t) + ix->ops->memory(ix);
}

cairn_index_type cairn_index_get_type(const cairn_index *ix) { return ix->type; }
cairn_metric cairn_index_get_metric(const cairn_index *ix) { return ix->metric; }
int64_t cairn_index_dim(const cairn_index *ix) { return ix->dim; }

int64_t cairn_index_id_at(const cairn_index *ix, size_t position) {
  return position < ix->n ? ix->ids[position] : -1;
}
