/*
 * distance.h — distance kernels of the index library.
 *
 * Kernels for float32, float16 (IEEE binary16), bfloat16 and int8 vectors
 * (squared L2 and inner product; cosine is derived from those), Hamming and
 * Jaccard for binary vectors, and the sparse dot product. Three
 * implementations of one table, cairn_kernels:
 *   - portable: plain C, the reference every other path is tested against;
 *   - AVX2/FMA (+F16C, POPCNT);
 *   - AVX-512 (F, BW, VL; VPOPCNTDQ used when present).
 * cairn_kernels_get() picks the best one the CPU supports, once, by
 * __builtin_cpu_supports; the SIMD code is compiled with per-function
 * target attributes, so the library itself needs no -m flags and runs on
 * any x86-64 (or any other architecture, where only the portable path
 * exists). CAIRN_KERNELS=portable|avx2|avx512 in the environment forces a
 * path (for tests and benchmarks).
 *
 * Agreement: SIMD paths sum in a different order from the portable one, so
 * float results agree within float tolerance (relative ~1e-5 for d <= 4096),
 * not bit-for-bit; integer kernels (int8, Hamming) agree exactly.
 *
 * Batched forms compute one query against n contiguous rows (row stride d)
 * and are what FLAT and IVF scans call; they prefetch ahead.
 *
 * Threading: all kernels are pure functions; the dispatch table is set once
 * (racy-but-idempotent initialisation of a pointer to a static table).
 */
#ifndef CAIRN_DISTANCE_H
#define CAIRN_DISTANCE_H

#include <stddef.h>
#include <stdint.h>

typedef struct cairn_kernels {
  const char *name; /* "portable", "avx2", "avx512" */
  float (*l2_f32)(const float *a, const float *b, size_t d);
  float (*ip_f32)(const float *a, const float *b, size_t d);
  float (*l2_f16)(const uint16_t *a, const uint16_t *b, size_t d);
  float (*ip_f16)(const uint16_t *a, const uint16_t *b, size_t d);
  float (*l2_bf16)(const uint16_t *a, const uint16_t *b, size_t d);
  float (*ip_bf16)(const uint16_t *a, const uint16_t *b, size_t d);
  float (*l2_i8)(const int8_t *a, const int8_t *b, size_t d);
  float (*ip_i8)(const int8_t *a, const int8_t *b, size_t d);
  /* nbytes = dim / 8 */
  uint32_t (*hamming)(const uint8_t *a, const uint8_t *b, size_t nbytes);
  float (*jaccard)(const uint8_t *a, const uint8_t *b, size_t nbytes);
  /* out[i] = dist(q, rows + i*d) for i < n */
  void (*l2_f32_batch)(const float *q, const float *rows, size_t n, size_t d,
                       float *out);
  void (*ip_f32_batch)(const float *q, const float *rows, size_t n, size_t d,
                       float *out);
  /* out[i] = dist(q, rows + i*nbytes) */
  void (*hamming_batch)(const uint8_t *q, const uint8_t *rows, size_t n,
                        size_t nbytes, float *out);
  /* Two row streams at once: outa[i] = dist(q, a + i*d), outb[i] =
   * dist(q, b + i*d) for i < n. Reading two far-apart regions in one loop
   * keeps more misses in flight: the one-query FLAT scan uses it on the
   * two halves of its rows to run at memory bandwidth. */
  void (*l2_f32_dual)(const float *q, const float *a, const float *b, size_t n,
                      size_t d, float *outa, float *outb);
  void (*ip_f32_dual)(const float *q, const float *a, const float *b, size_t n,
                      size_t d, float *outa, float *outb);
  /* 4 queries at once against one row: out[j] = ip(q[j], row). Used by the
   * blocked multi-query FLAT scan. */
  void (*ip_f32_4q)(const float *const q[4], const float *row, size_t d,
                    float out[4]);
  /* 8-bit scalar-quantised rows (IVF_SQ8): with per-query prepared
   * vectors qp (query in code units), w (squared scale) and a (scaled
   * query): sq8_l2 = sum w[j] * (qp[j] - c[j])^2, sq8_ip = sum a[j] * c[j]. */
  float (*sq8_l2)(const float *qp, const float *w, const uint8_t *c, size_t d);
  float (*sq8_ip)(const float *a, const uint8_t *c, size_t d);
  /* float query against a row stored losslessly as uint8 (HNSW's compact
   * storage of integer-valued data): squared L2 and inner product. */
  float (*l2_f32_u8)(const float *q, const uint8_t *r, size_t d);
  float (*ip_f32_u8)(const float *q, const uint8_t *r, size_t d);
  /* uint8 against uint8, computed exactly in integers (d < 2^15). */
  float (*l2_u8)(const uint8_t *a, const uint8_t *b, size_t d);
  float (*ip_u8)(const uint8_t *a, const uint8_t *b, size_t d);
} cairn_kernels;

/* The best table for this CPU (never NULL). */
const cairn_kernels *cairn_kernels_get(void);
/* A specific table, or NULL when the CPU (or the build) lacks it. */
const cairn_kernels *cairn_kernels_portable(void);
const cairn_kernels *cairn_kernels_avx2(void);
const cairn_kernels *cairn_kernels_avx512(void);

/* Cosine similarity from the kernels above (0 when a norm is 0). */
float cairn_cosine_f32(const float *a, const float *b, size_t d);
float cairn_cosine_f16(const uint16_t *a, const uint16_t *b, size_t d);
float cairn_cosine_bf16(const uint16_t *a, const uint16_t *b, size_t d);
float cairn_cosine_i8(const int8_t *a, const int8_t *b, size_t d);

/* Sparse dot product of two rows with sorted indices (merge join). */
float cairn_sparse_dot(uint32_t na, const uint32_t *ia, const float *va,
                       uint32_t nb, const uint32_t *ib, const float *vb);

/* Element conversions (exact for f16/bf16 -> f32; f32 -> f16/bf16 rounds
 * to nearest even). */
float cairn_f16_to_f32(uint16_t h);
uint16_t cairn_f32_to_f16(float f);
float cairn_bf16_to_f32(uint16_t h);
uint16_t cairn_f32_to_bf16(float f);

/* Scales v (d floats) to unit L2 norm; leaves a zero vector alone. */
void cairn_normalize_f32(float *v, size_t d);

#endif
