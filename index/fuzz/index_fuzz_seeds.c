/*
 * index_fuzz_seeds.c — writes one small valid index file per index type
 * into DIR, as the seed corpus of index_load_fuzz:
 *   index_fuzz_seeds DIR && index_load_fuzz DIR
 */
#include <stdio.h>
#include <stdlib.h>

#include "index.h"

static void save(cairn_index *ix, const char *dir, const char *name) {
  char path[4096];
  cairn_error err;
  snprintf(path, sizeof path, "%s/%s.idx", dir, name);
  if (cairn_index_save(ix, path, &err) != CAIRN_OK)
    fprintf(stderr, "%s: %s\n", name, err.message);
  cairn_index_free(ix);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  enum { N = 40, D = 8 };
  float x[N * D];
  uint8_t b[N * 2];
  for (int i = 0; i < N * D; i++)
    x[i] = (float)((i * 7919) % 101) / 10.0f;
  for (int i = 0; i < N * 2; i++)
    b[i] = (uint8_t)(i * 37);
  const char *types[] = {"FLAT", "HNSW", "IVF_FLAT", "IVF_SQ8", "IVF_PQ"};
  const char *params[] = {NULL, "{\"M\": 4, \"efConstruction\": 8}", "{\"nlist\": 4}",
                          "{\"nlist\": 4}", "{\"nlist\": 4, \"m\": 2, \"nbits\": 4}"};
  cairn_error err;
  for (int t = 0; t < 5; t++) {
    cairn_index *ix;
    if (cairn_index_new(types[t], "L2", CAIRN_TYPE_FLOAT_VECTOR, D, params[t], &ix, &err) ==
            CAIRN_OK &&
        cairn_index_add(ix, N, x, NULL, &err) == CAIRN_OK)
      save(ix, argv[1], types[t]);
  }
  cairn_index *ix;
  if (cairn_index_new("BIN_FLAT", "HAMMING", CAIRN_TYPE_BINARY_VECTOR, 16, NULL, &ix, &err) == CAIRN_OK &&
      cairn_index_add(ix, N, b, NULL, &err) == CAIRN_OK)
    save(ix, argv[1], "BIN_FLAT");
  if (cairn_index_new("BIN_IVF_FLAT", "JACCARD", CAIRN_TYPE_BINARY_VECTOR, 16, "{\"nlist\": 3}",
                      &ix, &err) == CAIRN_OK &&
      cairn_index_add(ix, N, b, NULL, &err) == CAIRN_OK)
    save(ix, argv[1], "BIN_IVF_FLAT");
  uint32_t idx[3] = {1, 4, 9};
  float val[3] = {0.5f, 1.0f, 2.0f};
  cairn_sparse_row rows[4] = {{3, idx, val}, {2, idx + 1, val}, {1, idx + 2, val + 1}, {0, NULL, NULL}};
  if (cairn_index_new("SPARSE_INVERTED_INDEX", "IP", CAIRN_TYPE_SPARSE_FLOAT_VECTOR, 0, NULL, &ix,
                      &err) == CAIRN_OK &&
      cairn_index_add(ix, 4, rows, NULL, &err) == CAIRN_OK)
    save(ix, argv[1], "SPARSE");
  return 0;
}
