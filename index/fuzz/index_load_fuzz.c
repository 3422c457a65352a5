/*
 * index_load_fuzz.c — libFuzzer target for the index file loader.
 *
 * Feeds arbitrary bytes to cairn_index_deserialize; whatever loads is then
 * searched (a zero query, with and without a filter), range-searched and
 * serialized again, so a file that passes the structural checks must also
 * be safe to use. Built with -DCAIRN_FUZZ_NO_CRC (index/CMakeLists.txt) so
 * mutations get past the checksums to the structural checks; the seed
 * corpus comes from index_fuzz_seeds (one valid file per index type).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cairn_index *ix = NULL;
  cairn_error err;
  if (cairn_index_deserialize(data, size, &ix, &err) != CAIRN_OK)
    return 0;
  int64_t dim = cairn_index_dim(ix);
  cairn_index_type t = cairn_index_get_type(ix);
  size_t qbytes = t == CAIRN_INDEX_BIN_FLAT || t == CAIRN_INDEX_BIN_IVF_FLAT
                      ? (size_t)dim / 8
                      : (size_t)dim * sizeof(float);
  void *q = calloc(1, qbytes + sizeof(cairn_sparse_row));
  if (t == CAIRN_INDEX_SPARSE_INVERTED) {
    static const uint32_t idx[2] = {1, 7};
    static const float val[2] = {0.5f, 2.0f};
    cairn_sparse_row *r = q;
    r->nnz = 2;
    r->idx = idx;
    r->val = val;
  } else if (t != CAIRN_INDEX_BIN_FLAT && t != CAIRN_INDEX_BIN_IVF_FLAT) {
    for (int64_t j = 0; j < dim; j++)
      ((float *)q)[j] = (float)(j % 7) - 3.0f;
  }
  int64_t ids[5];
  float sc[5];
  cairn_index_search(ix, 1, q, 5, NULL, NULL, ids, sc, &err);
  uint8_t bits[4] = {0x5a, 0xff, 0x01, 0x80};
  cairn_bitset f = {bits, 32};
  cairn_index_search(ix, 1, q, 5, NULL, &f, ids, sc, &err);
  cairn_range_result rr;
  if (cairn_index_range_search(ix, q, 1e30f, NAN, NULL, NULL, &rr, &err) == CAIRN_OK)
    cairn_range_result_destroy(&rr);
  uint8_t *buf;
  size_t len;
  if (cairn_index_serialize(ix, &buf, &len, &err) == CAIRN_OK)
    free(buf);
  free(q);
  cairn_index_free(ix);
  return 0;
}
