/*
 * distance.c — the portable kernels (the reference path), element
 * conversions, and the run-time choice of kernel table (distance.h).
 *
 * The portable loops are written plainly so a compiler may auto-vectorise
 * them for the baseline ISA; they are still the reference: tests compare
 * the SIMD tables in distance_x86.c against this one.
 */
#include "distance.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- conversions -------------------------------------------------------- */

float cairn_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else { /* subnormal: renormalise */
      exp = 127 - 15 + 1;
      while ((man & 0x400) == 0) {
        man <<= 1;
        exp--;
      }
      man &= 0x3ff;
      bits = sign | (exp << 23) | (man << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (man << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

uint16_t cairn_f32_to_f16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
  uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) /* inf or nan */
    return sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 : 0);
  if (absx >= 0x477ff000u) /* rounds to >= 65520: overflow */
    return sign | 0x7c00;
  if (absx < 0x38800000u) { /* subnormal or zero in half */
    if (absx < 0x33000000u)
      return sign;
    uint32_t e = absx >> 23, m = (absx & 0x7fffff) | 0x800000;
    uint32_t shift = 126 - e; /* 14 + (112 - e) + ... */
    uint32_t half = m >> (shift - 0);
    /* m * 2^(e-150) / 2^-24 = m >> (126 - e) ; round to nearest even */
    uint32_t rem = m & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1)))
      half++;
    return sign | (uint16_t)half;
  }
  uint32_t r = absx - 0x38000000u; /* rebias exponent 127 -> 15 */
  uint32_t half = r >> 13, rem = r & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1)))
    half++;
  return sign | (uint16_t)half;
}

float cairn_bf16_to_f32(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

uint16_t cairn_f32_to_bf16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u)
    return (uint16_t)((x >> 16) | 0x40);
  x += 0x7fff + ((x >> 16) & 1);
  return (uint16_t)(x >> 16);
}

void cairn_normalize_f32(float *v, size_t d) {
  double s = 0;
  for (size_t i = 0; i < d; i++)
    s += (double)v[i] * v[i];
  if (s <= 0)
    return;
  float inv = (float)(1.0 / sqrt(s));
  for (size_t i = 0; i < d; i++)
    v[i] *= inv;
}

/* ---- portable kernels --------------------------------------------------- */

static float p_l2_f32(const float *a, const float *b, size_t d) {
  float s = 0;
  for (size_t i = 0; i < d; i++) {
    float t = a[i] - b[i];
    s += t * t;
  }
  return s;
}

static float p_ip_f32(const float *a, const float *b, size_t d) {
  float s = 0;
  for (size_t i = 0; i < d; i++)
    s += a[i] * b[i];
  return s;
}

static float p_l2_f16(const uint16_t *a, const uint16_t *b, size_t d) {
  float s = 0;
  for (size_t i = 0; i < d; i++) {
    float t = cairn_f16_to_f32(a[i]) - cairn_f16_to_f32(b[i]);
    s += t * t;
  }
  return s;
}

static float p_ip_f16(const uint16_t *a, const uint16_t *b, size_t d) {
  float s = 0;
  for (size_t i = 0; i < d; i++)
    s += cairn_f16_to_f32(a[i]) * cairn_f16_to_f32(b[i]);
  return s;
}

static float p_l2_bf16(const uint16_t *a, const uint16_t *b, size_t d) {
  float s = 0;
  for (size_t i = 0; i < d; i++) {
    float t = cairn_bf16_to_f32(a[i]) - cairn_bf16_to_f32(b[i]);
    s += t * t;
  }
  return s;
}

static float p_ip_bf16(const uint16_t *a, const uint16_t *b, size_t d) {
  float s = 0;
  for (size_t i = 0; i < d; i++)
    s += cairn_bf16_to_f32(a[i]) * cairn_bf16_to_f32(b[i]);
  return s;
}

static float p_l2_i8(const int8_t *a, const int8_t *b, size_t d) {
  int64_t s = 0;
  for (size_t i = 0; i < d; i++) {
    int32_t t = (int32_t)a[i] - b[i];
    s += t * t;
  }
  return (float)s;
}

static float p_ip_i8(const int8_t *a, const int8_t *b, size_t d) {
  int64_t s = 0;
  for (size_t i = 0; i < d; i++)
    s += (int32_t)a[i] * b[i];
  return (float)s;
}

static uint32_t p_hamming(const uint8_t *a, const uint8_t *b, size_t n) {
  uint32_t s = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x, y;
    memcpy(&x, a + i, 8);
    memcpy(&y, b + i, 8);
    s += (uint32_t)__builtin_popcountll(x ^ y);
  }
  for (; i < n; i++)
    s += (uint32_t)__builtin_popcount((unsigned)(a[i] ^ b[i]));
  return s;
}

static float p_jaccard(const uint8_t *a, const uint8_t *b, size_t n) {
  uint32_t inter = 0, uni = 0;
  for (size_t i = 0; i < n; i++) {
    inter += (uint32_t)__builtin_popcount((unsigned)(a[i] & b[i]));
    uni += (uint32_t)__builtin_popcount((unsigned)(a[i] | b[i]));
  }
  return uni == 0 ? 0.0f : 1.0f - (float)inter / (float)uni;
}

static void p_l2_f32_batch(const float *q, const float *rows, size_t n,
                           size_t d, float *out) {
  for (size_t i = 0; i < n; i++)
    out[i] = p_l2_f32(q, rows + i * d, d);
}

static void p_ip_f32_batch(const float *q, const float *rows, size_t n,
                           size_t d, float *out) {
  for (size_t i = 0; i < n; i++)
    out[i] = p_ip_f32(q, rows + i * d, d);
}

static void p_hamming_batch(const uint8_t *q, const uint8_t *rows, size_t n,
                            size_t nbytes, float *out) {
  for (size_t i = 0; i < n; i++)
    out[i] = (float)p_hamming(q, rows + i * nbytes, nbytes);
}

static void p_l2_f32_dual(const float *q, const float *a, const float *b,
                          size_t n, size_t d, float *oa, float *ob) {
  for (size_t i = 0; i < n; i++) {
    oa[i] = p_l2_f32(q, a + i * d, d);
    ob[i] = p_l2_f32(q, b + i * d, d);
  }
}

static void p_ip_f32_dual(const float *q, const float *a, const float *b,
                          size_t n, size_t d, float *oa, float *ob) {
  for (size_t i = 0; i < n; i++) {
    oa[i] = p_ip_f32(q, a + i * d, d);
    ob[i] = p_ip_f32(q, b + i * d, d);
  }
}

static void p_ip_f32_4q(const float *const q[4], const float *row, size_t d,
                        float out[4]) {
  for (int j = 0; j < 4; j++)
    out[j] = p_ip_f32(q[j], row, d);
}

static float p_sq8_l2(const float *qp, const float *w, const uint8_t *c,
                      size_t d) {
  float s = 0;
  for (size_t i = 0; i < d; i++) {
    float t = qp[i] - (float)c[i];
    s += w[i] * t * t;
  }
  return s;
}

static float p_sq8_ip(const float *a, const uint8_t *c, size_t d) {
  float s = 0;
  for (size_t i = 0; i < d; i++)
    s += a[i] * (float)c[i];
  return s;
}

static float p_l2_f32_u8(const float *q, const uint8_t *r, size_t d) {
  float s = 0;
  for (size_t i = 0; i < d; i++) {
    float t = q[i] - (float)r[i];
    s += t * t;
  }
  return s;
}

static float p_ip_f32_u8(const float *q, const uint8_t *r, size_t d) {
  float s = 0;
  for (size_t i = 0; i < d; i++)
    s += q[i] * (float)r[i];
  return s;
}

static float p_l2_u8(const uint8_t *a, const uint8_t *b, size_t d) {
  int64_t s = 0;
  for (size_t i = 0; i < d; i++) {
    int32_t t = (int32_t)a[i] - b[i];
    s += t * t;
  }
  return (float)s;
}

static float p_ip_u8(const uint8_t *a, const uint8_t *b, size_t d) {
  int64_t s = 0;
  for (size_t i = 0; i < d; i++)
    s += (int32_t)a[i] * b[i];
  return (float)s;
}

static const cairn_kernels portable_kernels = {
    .name = "portable",
    .l2_f32 = p_l2_f32,
    .ip_f32 = p_ip_f32,
    .l2_f16 = p_l2_f16,
    .ip_f16 = p_ip_f16,
    .l2_bf16 = p_l2_bf16,
    .ip_bf16 = p_ip_bf16,
    .l2_i8 = p_l2_i8,
    .ip_i8 = p_ip_i8,
    .hamming = p_hamming,
    .jaccard = p_jaccard,
    .l2_f32_batch = p_l2_f32_batch,
    .ip_f32_batch = p_ip_f32_batch,
    .hamming_batch = p_hamming_batch,
    .ip_f32_4q = p_ip_f32_4q,
    .l2_f32_dual = p_l2_f32_dual,
    .ip_f32_dual = p_ip_f32_dual,
    .sq8_l2 = p_sq8_l2,
    .sq8_ip = p_sq8_ip,
    .l2_f32_u8 = p_l2_f32_u8,
    .ip_f32_u8 = p_ip_f32_u8,
    .l2_u8 = p_l2_u8,
    .ip_u8 = p_ip_u8,
};

const cairn_kernels *cairn_kernels_portable(void) { return &portable_kernels; }

/* ---- dispatch ----------------------------------------------------------- */

static const cairn_kernels *chosen;

const cairn_kernels *cairn_kernels_get(void) {
  const cairn_kernels *k = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);
  if (k != NULL)
    return k;
  const char *force = getenv("CAIRN_KERNELS");
  if (force != NULL && strcmp(force, "portable") == 0)
    k = cairn_kernels_portable();
  else if (force != NULL && strcmp(force, "avx2") == 0)
    k = cairn_kernels_avx2();
  else if (force == NULL || strcmp(force, "avx512") == 0)
    k = cairn_kernels_avx512();
  if (k == NULL)
    k = cairn_kernels_avx2();
  if (k == NULL)
    k = cairn_kernels_portable();
  __atomic_store_n(&chosen, k, __ATOMIC_RELEASE);
  return k;
}

/* ---- derived ------------------------------------------------------------ */

static float cosine_from(float ip, float na, float nb) {
  float den = sqrtf(na) * sqrtf(nb);
  return den > 0 ? ip / den : 0.0f;
}

float cairn_cosine_f32(const float *a, const float *b, size_t d) {
  const cairn_kernels *k = cairn_kernels_get();
  return cosine_from(k->ip_f32(a, b, d), k->ip_f32(a, a, d), k->ip_f32(b, b, d));
}

float cairn_cosine_f16(const uint16_t *a, const uint16_t *b, size_t d) {
  const cairn_kernels *k = cairn_kernels_get();
  return cosine_from(k->ip_f16(a, b, d), k->ip_f16(a, a, d), k->ip_f16(b, b, d));
}

float cairn_cosine_bf16(const uint16_t *a, const uint16_t *b, size_t d) {
  const cairn_kernels *k = cairn_kernels_get();
  return cosine_from(k->ip_bf16(a, b, d), k->ip_bf16(a, a, d),
                     k->ip_bf16(b, b, d));
}

float cairn_cosine_i8(const int8_t *a, const int8_t *b, size_t d) {
  const cairn_kernels *k = cairn_kernels_get();
  return cosine_from(k->ip_i8(a, b, d), k->ip_i8(a, a, d), k->ip_i8(b, b, d));
}

float cairn_sparse_dot(uint32_t na, const uint32_t *ia, const float *va,
                       uint32_t nb, const uint32_t *ib, const float *vb) {
  float s = 0;
  uint32_t i = 0, j = 0;
  while (i < na && j < nb) {
    if (ia[i] == ib[j])
      s += va[i++] * vb[j++];
    else if (ia[i] < ib[j])
      i++;
    else
      j++;
  }
  return s;
}
