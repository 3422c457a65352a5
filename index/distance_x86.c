/*
 * distance_x86.c — AVX2/FMA and AVX-512 kernel tables (distance.h).
 *
 * Every function carries a target attribute, so this file compiles with the
 * baseline x86-64 flags and the tables are only handed out after
 * __builtin_cpu_supports says the CPU has the features. On other
 * architectures the two getters return NULL.
 *
 * Step pattern of every float kernel: main loop with two (AVX2) or two
 * (AVX-512) independent accumulators over full vectors, one masked /
 * scalar tail, one horizontal sum. Sums are therefore in a different order
 * from the portable path (see the tolerance note in distance.h).
 */
#include "distance.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define T_AVX2 __attribute__((target("avx2,fma,f16c,popcnt")))
#define T_AVX512                                                               \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c,popcnt")))

/* ======================= AVX2 ========================================== */

T_AVX2 static inline float hsum256(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

T_AVX2 static float a2_l2_f32(const float *a, const float *b, size_t d) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    __m256 t1 =
        _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    s0 = _mm256_fmadd_ps(t0, t0, s0);
    s1 = _mm256_fmadd_ps(t1, t1, s1);
  }
  for (; i + 8 <= d; i += 8) {
    __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    s0 = _mm256_fmadd_ps(t0, t0, s0);
  }
  float s = hsum256(_mm256_add_ps(s0, s1));
  for (; i < d; i++) {
    float t = a[i] - b[i];
    s += t * t;
  }
  return s;
}

T_AVX2 static float a2_ip_f32(const float *a, const float *b, size_t d) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8),
                         s1);
  }
  for (; i + 8 <= d; i += 8)
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  float s = hsum256(_mm256_add_ps(s0, s1));
  for (; i < d; i++)
    s += a[i] * b[i];
  return s;
}

T_AVX2 static inline __m256 a2_load_f16(const uint16_t *p) {
  return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

T_AVX2 static inline __m256 a2_load_bf16(const uint16_t *p) {
  __m128i h = _mm_loadu_si128((const __m128i *)p);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

#define A2_HALF_KERNELS(NAME, LOAD, CONV)                                      \
  T_AVX2 static float a2_l2_##NAME(const uint16_t *a, const uint16_t *b,      \
                                   size_t d) {                                 \
    __m256 s0 = _mm256_setzero_ps();                                           \
    size_t i = 0;                                                              \
    for (; i + 8 <= d; i += 8) {                                               \
      __m256 t = _mm256_sub_ps(LOAD(a + i), LOAD(b + i));                      \
      s0 = _mm256_fmadd_ps(t, t, s0);                                          \
    }                                                                          \
    float s = hsum256(s0);                                                     \
    for (; i < d; i++) {                                                       \
      float t = CONV(a[i]) - CONV(b[i]);                                       \
      s += t * t;                                                              \
    }                                                                          \
    return s;                                                                  \
  }                                                                            \
  T_AVX2 static float a2_ip_##NAME(const uint16_t *a, const uint16_t *b,      \
                                   size_t d) {                                 \
    __m256 s0 = _mm256_setzero_ps();                                           \
    size_t i = 0;                                                              \
    for (; i + 8 <= d; i += 8)                                                 \
      s0 = _mm256_fmadd_ps(LOAD(a + i), LOAD(b + i), s0);                      \
    float s = hsum256(s0);                                                     \
    for (; i < d; i++)                                                         \
      s += CONV(a[i]) * CONV(b[i]);                                            \
    return s;                                                                  \
  }

A2_HALF_KERNELS(f16, a2_load_f16, cairn_f16_to_f32)
A2_HALF_KERNELS(bf16, a2_load_bf16, cairn_bf16_to_f32)

T_AVX2 static inline int32_t hsum256_epi32(__m256i v) {
  __m128i x = _mm_add_epi32(_mm256_castsi256_si128(v),
                            _mm256_extracti128_si256(v, 1));
  x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0x4e));
  x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0xb1));
  return _mm_cvtsi128_si32(x);
}

/* int8: widen 16 lanes to int16, multiply-add pairs into int32. Exact as
 * long as d < 2^16 (each int32 lane sums <= d/16 * 2 * 2^15 products). */
T_AVX2 static float a2_l2_i8(const int8_t *a, const int8_t *b, size_t d) {
  __m256i s = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    __m256i x = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + i)));
    __m256i y = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + i)));
    __m256i t = _mm256_sub_epi16(x, y);
    s = _mm256_add_epi32(s, _mm256_madd_epi16(t, t));
  }
  int64_t r = hsum256_epi32(s);
  for (; i < d; i++) {
    int32_t t = (int32_t)a[i] - b[i];
    r += t * t;
  }
  return (float)r;
}

T_AVX2 static float a2_ip_i8(const int8_t *a, const int8_t *b, size_t d) {
  __m256i s = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    __m256i x = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + i)));
    __m256i y = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + i)));
    s = _mm256_add_epi32(s, _mm256_madd_epi16(x, y));
  }
  int64_t r = hsum256_epi32(s);
  for (; i < d; i++)
    r += (int32_t)a[i] * b[i];
  return (float)r;
}

T_AVX2 static uint32_t a2_hamming(const uint8_t *a, const uint8_t *b,
                                  size_t n) {
  uint64_t s0 = 0, s1 = 0;
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    uint64_t x0, y0, x1, y1;
    memcpy(&x0, a + i, 8);
    memcpy(&y0, b + i, 8);
    memcpy(&x1, a + i + 8, 8);
    memcpy(&y1, b + i + 8, 8);
    s0 += (uint64_t)_mm_popcnt_u64(x0 ^ y0);
    s1 += (uint64_t)_mm_popcnt_u64(x1 ^ y1);
  }
  for (; i < n; i++)
    s0 += (uint64_t)__builtin_popcount((unsigned)(a[i] ^ b[i]));
  return (uint32_t)(s0 + s1);
}

T_AVX2 static float a2_jaccard(const uint8_t *a, const uint8_t *b, size_t n) {
  uint64_t in = 0, un = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x, y;
    memcpy(&x, a + i, 8);
    memcpy(&y, b + i, 8);
    in += (uint64_t)_mm_popcnt_u64(x & y);
    un += (uint64_t)_mm_popcnt_u64(x | y);
  }
  for (; i < n; i++) {
    in += (uint64_t)__builtin_popcount((unsigned)(a[i] & b[i]));
    un += (uint64_t)__builtin_popcount((unsigned)(a[i] | b[i]));
  }
  return un == 0 ? 0.0f : 1.0f - (float)in / (float)un;
}

#define PF_AHEAD 4 /* rows prefetched ahead in batched scans */

T_AVX2 static void a2_l2_f32_batch(const float *q, const float *rows, size_t n,
                                   size_t d, float *out) {
  for (size_t i = 0; i < n; i++) {
    if (i + PF_AHEAD < n)
      _mm_prefetch((const char *)(rows + (i + PF_AHEAD) * d), _MM_HINT_T0);
    out[i] = a2_l2_f32(q, rows + i * d, d);
  }
}

T_AVX2 static void a2_ip_f32_batch(const float *q, const float *rows, size_t n,
                                   size_t d, float *out) {
  for (size_t i = 0; i < n; i++) {
    if (i + PF_AHEAD < n)
      _mm_prefetch((const char *)(rows + (i + PF_AHEAD) * d), _MM_HINT_T0);
    out[i] = a2_ip_f32(q, rows + i * d, d);
  }
}

T_AVX2 static void a2_hamming_batch(const uint8_t *q, const uint8_t *rows,
                                    size_t n, size_t nb, float *out) {
  for (size_t i = 0; i < n; i++)
    out[i] = (float)a2_hamming(q, rows + i * nb, nb);
}

T_AVX2 static void a2_ip_f32_4q(const float *const q[4], const float *row,
                                size_t d, float out[4]) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= d; i += 8) {
    __m256 r = _mm256_loadu_ps(row + i);
    s0 = _mm256_fmadd_ps(r, _mm256_loadu_ps(q[0] + i), s0);
    s1 = _mm256_fmadd_ps(r, _mm256_loadu_ps(q[1] + i), s1);
    s2 = _mm256_fmadd_ps(r, _mm256_loadu_ps(q[2] + i), s2);
    s3 = _mm256_fmadd_ps(r, _mm256_loadu_ps(q[3] + i), s3);
  }
  out[0] = hsum256(s0);
  out[1] = hsum256(s1);
  out[2] = hsum256(s2);
  out[3] = hsum256(s3);
  for (; i < d; i++)
    for (int j = 0; j < 4; j++)
      out[j] += q[j][i] * row[i];
}

T_AVX2 static float a2_sq8_l2(const float *qp, const float *w,
                              const uint8_t *c, size_t d) {
  __m256 s0 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= d; i += 8) {
    __m128i b = _mm_loadl_epi64((const __m128i *)(c + i));
    __m256 x = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b));
    __m256 t = _mm256_sub_ps(_mm256_loadu_ps(qp + i), x);
    s0 = _mm256_fmadd_ps(_mm256_mul_ps(t, t), _mm256_loadu_ps(w + i), s0);
  }
  float s = hsum256(s0);
  for (; i < d; i++) {
    float t = qp[i] - (float)c[i];
    s += w[i] * t * t;
  }
  return s;
}

T_AVX2 static float a2_sq8_ip(const float *a, const uint8_t *c, size_t d) {
  __m256 s0 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= d; i += 8) {
    __m128i b = _mm_loadl_epi64((const __m128i *)(c + i));
    __m256 x = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b));
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), x, s0);
  }
  float s = hsum256(s0);
  for (; i < d; i++)
    s += a[i] * (float)c[i];
  return s;
}

T_AVX2 static float a2_l2_f32_u8(const float *q, const uint8_t *r, size_t d) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    __m128i b = _mm_loadu_si128((const __m128i *)(r + i));
    __m256 x0 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b));
    __m256 x1 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(b, 8)));
    __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(q + i), x0);
    __m256 t1 = _mm256_sub_ps(_mm256_loadu_ps(q + i + 8), x1);
    s0 = _mm256_fmadd_ps(t0, t0, s0);
    s1 = _mm256_fmadd_ps(t1, t1, s1);
  }
  float s = hsum256(_mm256_add_ps(s0, s1));
  for (; i < d; i++) {
    float t = q[i] - (float)r[i];
    s += t * t;
  }
  return s;
}

T_AVX2 static float a2_ip_f32_u8(const float *q, const uint8_t *r, size_t d) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    __m128i b = _mm_loadu_si128((const __m128i *)(r + i));
    __m256 x0 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b));
    __m256 x1 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(b, 8)));
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), x0, s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), x1, s1);
  }
  float s = hsum256(_mm256_add_ps(s0, s1));
  for (; i < d; i++)
    s += q[i] * (float)r[i];
  return s;
}

T_AVX2 static float a2_l2_u8(const uint8_t *a, const uint8_t *b, size_t d) {
  __m256i s = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    __m256i x = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(a + i)));
    __m256i y = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(b + i)));
    __m256i t = _mm256_sub_epi16(x, y);
    s = _mm256_add_epi32(s, _mm256_madd_epi16(t, t));
  }
  int64_t r = hsum256_epi32(s);
  for (; i < d; i++) {
    int32_t t = (int32_t)a[i] - b[i];
    r += t * t;
  }
  return (float)r;
}

T_AVX2 static float a2_ip_u8(const uint8_t *a, const uint8_t *b, size_t d) {
  __m256i s = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    __m256i x = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(a + i)));
    __m256i y = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(b + i)));
    s = _mm256_add_epi32(s, _mm256_madd_epi16(x, y));
  }
  int64_t r = hsum256_epi32(s);
  for (; i < d; i++)
    r += (int32_t)a[i] * b[i];
  return (float)r;
}

T_AVX2 static void a2_l2_f32_dual(const float *q, const float *a,
                                  const float *b, size_t n, size_t d,
                                  float *oa, float *ob) {
  for (size_t i = 0; i < n; i++) {
    oa[i] = a2_l2_f32(q, a + i * d, d);
    ob[i] = a2_l2_f32(q, b + i * d, d);
  }
}

T_AVX2 static void a2_ip_f32_dual(const float *q, const float *a,
                                  const float *b, size_t n, size_t d,
                                  float *oa, float *ob) {
  for (size_t i = 0; i < n; i++) {
    oa[i] = a2_ip_f32(q, a + i * d, d);
    ob[i] = a2_ip_f32(q, b + i * d, d);
  }
}

static const cairn_kernels avx2_kernels = {
    .name = "avx2",
    .l2_f32 = a2_l2_f32,
    .ip_f32 = a2_ip_f32,
    .l2_f16 = a2_l2_f16,
    .ip_f16 = a2_ip_f16,
    .l2_bf16 = a2_l2_bf16,
    .ip_bf16 = a2_ip_bf16,
    .l2_i8 = a2_l2_i8,
    .ip_i8 = a2_ip_i8,
    .hamming = a2_hamming,
    .jaccard = a2_jaccard,
    .l2_f32_batch = a2_l2_f32_batch,
    .ip_f32_batch = a2_ip_f32_batch,
    .hamming_batch = a2_hamming_batch,
    .ip_f32_4q = a2_ip_f32_4q,
    .l2_f32_dual = a2_l2_f32_dual,
    .ip_f32_dual = a2_ip_f32_dual,
    .sq8_l2 = a2_sq8_l2,
    .sq8_ip = a2_sq8_ip,
    .l2_f32_u8 = a2_l2_f32_u8,
    .ip_f32_u8 = a2_ip_f32_u8,
    .l2_u8 = a2_l2_u8,
    .ip_u8 = a2_ip_u8,
};

const cairn_kernels *cairn_kernels_avx2(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return &avx2_kernels;
  return NULL;
}

/* ======================= AVX-512 ======================================= */

T_AVX512 static float a5_l2_f32(const float *a, const float *b, size_t d) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= d; i += 32) {
    __m512 t0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    __m512 t1 =
        _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
    s0 = _mm512_fmadd_ps(t0, t0, s0);
    s1 = _mm512_fmadd_ps(t1, t1, s1);
  }
  for (; i + 16 <= d; i += 16) {
    __m512 t0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    s0 = _mm512_fmadd_ps(t0, t0, s0);
  }
  if (i < d) { /* masked tail */
    __mmask16 m = (__mmask16)((1u << (d - i)) - 1);
    __m512 t0 = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i),
                              _mm512_maskz_loadu_ps(m, b + i));
    s1 = _mm512_fmadd_ps(t0, t0, s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

T_AVX512 static float a5_ip_f32(const float *a, const float *b, size_t d) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= d; i += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16),
                         _mm512_loadu_ps(b + i + 16), s1);
  }
  for (; i + 16 <= d; i += 16)
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
  if (i < d) {
    __mmask16 m = (__mmask16)((1u << (d - i)) - 1);
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i),
                         _mm512_maskz_loadu_ps(m, b + i), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

T_AVX512 static inline __m512 a5_load_f16(const uint16_t *p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

T_AVX512 static inline __m512 a5_load_bf16(const uint16_t *p) {
  __m256i h = _mm256_loadu_si256((const __m256i *)p);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

#define A5_HALF_KERNELS(NAME, LOAD, CONV)                                      \
  T_AVX512 static float a5_l2_##NAME(const uint16_t *a, const uint16_t *b,    \
                                     size_t d) {                               \
    __m512 s0 = _mm512_setzero_ps();                                           \
    size_t i = 0;                                                              \
    for (; i + 16 <= d; i += 16) {                                             \
      __m512 t = _mm512_sub_ps(LOAD(a + i), LOAD(b + i));                      \
      s0 = _mm512_fmadd_ps(t, t, s0);                                          \
    }                                                                          \
    float s = _mm512_reduce_add_ps(s0);                                        \
    for (; i < d; i++) {                                                       \
      float t = CONV(a[i]) - CONV(b[i]);                                       \
      s += t * t;                                                              \
    }                                                                          \
    return s;                                                                  \
  }                                                                            \
  T_AVX512 static float a5_ip_##NAME(const uint16_t *a, const uint16_t *b,    \
                                     size_t d) {                               \
    __m512 s0 = _mm512_setzero_ps();                                           \
    size_t i = 0;                                                              \
    for (; i + 16 <= d; i += 16)                                               \
      s0 = _mm512_fmadd_ps(LOAD(a + i), LOAD(b + i), s0);                      \
    float s = _mm512_reduce_add_ps(s0);                                        \
    for (; i < d; i++)                                                         \
      s += CONV(a[i]) * CONV(b[i]);                                            \
    return s;                                                                  \
  }

A5_HALF_KERNELS(f16, a5_load_f16, cairn_f16_to_f32)
A5_HALF_KERNELS(bf16, a5_load_bf16, cairn_bf16_to_f32)

T_AVX512 static float a5_l2_i8(const int8_t *a, const int8_t *b, size_t d) {
  __m512i s = _mm512_setzero_si512();
  size_t i = 0;
  for (; i + 32 <= d; i += 32) {
    __m512i x = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(a + i)));
    __m512i y = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(b + i)));
    __m512i t = _mm512_sub_epi16(x, y);
    s = _mm512_add_epi32(s, _mm512_madd_epi16(t, t));
  }
  int64_t r = _mm512_reduce_add_epi32(s);
  for (; i < d; i++) {
    int32_t t = (int32_t)a[i] - b[i];
    r += t * t;
  }
  return (float)r;
}

T_AVX512 static float a5_ip_i8(const int8_t *a, const int8_t *b, size_t d) {
  __m512i s = _mm512_setzero_si512();
  size_t i = 0;
  for (; i + 32 <= d; i += 32) {
    __m512i x = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(a + i)));
    __m512i y = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(b + i)));
    s = _mm512_add_epi32(s, _mm512_madd_epi16(x, y));
  }
  int64_t r = _mm512_reduce_add_epi32(s);
  for (; i < d; i++)
    r += (int32_t)a[i] * b[i];
  return (float)r;
}

/* Two rows per pass (two independent load streams, four accumulators),
 * no software prefetch: on the AVX-512 machines measured the hardware
 * prefetcher streams rows better without it. The dual form reads two
 * far-apart regions (see distance.h); the batch form two adjacent rows. */
#define A5_PAIR(NAME, STEP)                                                    \
  T_AVX512 static inline void NAME(const float *q, const float *a,            \
                                   const float *b, size_t d, float *oa,       \
                                   float *ob) {                                \
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();                 \
    __m512 t0 = _mm512_setzero_ps(), t1 = _mm512_setzero_ps();                 \
    size_t j = 0;                                                              \
    for (; j + 32 <= d; j += 32) {                                             \
      __m512 q0 = _mm512_loadu_ps(q + j), q1 = _mm512_loadu_ps(q + j + 16);    \
      STEP(s0, q0, _mm512_loadu_ps(a + j));                                    \
      STEP(t0, q0, _mm512_loadu_ps(b + j));                                    \
      STEP(s1, q1, _mm512_loadu_ps(a + j + 16));                               \
      STEP(t1, q1, _mm512_loadu_ps(b + j + 16));                               \
    }                                                                          \
    for (; j < d; j += 16) {                                                   \
      __mmask16 m = d - j >= 16 ? (__mmask16)0xffff                            \
                                : (__mmask16)((1u << (d - j)) - 1);            \
      __m512 q0 = _mm512_maskz_loadu_ps(m, q + j);                             \
      STEP(s0, q0, _mm512_maskz_loadu_ps(m, a + j));                           \
      STEP(t0, q0, _mm512_maskz_loadu_ps(m, b + j));                           \
    }                                                                          \
    *oa = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));                         \
    *ob = _mm512_reduce_add_ps(_mm512_add_ps(t0, t1));                         \
  }

#define A5_STEP_L2(acc, x, y)                                                  \
  do {                                                                         \
    __m512 t_ = _mm512_sub_ps(x, y);                                           \
    acc = _mm512_fmadd_ps(t_, t_, acc);                                        \
  } while (0)
#define A5_STEP_IP(acc, x, y) acc = _mm512_fmadd_ps(x, y, acc)

A5_PAIR(a5_l2_pair, A5_STEP_L2)
A5_PAIR(a5_ip_pair, A5_STEP_IP)

#define A5_BATCH(NAME, PAIR, ONE)                                              \
  T_AVX512 static void NAME(const float *q, const float *rows, size_t n,      \
                            size_t d, float *out) {                            \
    size_t i = 0;                                                              \
    for (; i + 2 <= n; i += 2)                                                 \
      PAIR(q, rows + i * d, rows + (i + 1) * d, d, &out[i], &out[i + 1]);      \
    for (; i < n; i++)                                                         \
      out[i] = ONE(q, rows + i * d, d);                                        \
  }                                                                            \
  T_AVX512 static void NAME##_dual(const float *q, const float *a,            \
                                   const float *b, size_t n, size_t d,        \
                                   float *oa, float *ob) {                     \
    for (size_t i = 0; i < n; i++)                                             \
      PAIR(q, a + i * d, b + i * d, d, &oa[i], &ob[i]);                        \
  }

A5_BATCH(a5_l2_f32_batch, a5_l2_pair, a5_l2_f32)
A5_BATCH(a5_ip_f32_batch, a5_ip_pair, a5_ip_f32)

T_AVX512 static void a5_ip_f32_4q(const float *const q[4], const float *row,
                                  size_t d, float out[4]) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    __m512 r = _mm512_loadu_ps(row + i);
    s0 = _mm512_fmadd_ps(r, _mm512_loadu_ps(q[0] + i), s0);
    s1 = _mm512_fmadd_ps(r, _mm512_loadu_ps(q[1] + i), s1);
    s2 = _mm512_fmadd_ps(r, _mm512_loadu_ps(q[2] + i), s2);
    s3 = _mm512_fmadd_ps(r, _mm512_loadu_ps(q[3] + i), s3);
  }
  if (i < d) {
    __mmask16 m = (__mmask16)((1u << (d - i)) - 1);
    __m512 r = _mm512_maskz_loadu_ps(m, row + i);
    s0 = _mm512_fmadd_ps(r, _mm512_maskz_loadu_ps(m, q[0] + i), s0);
    s1 = _mm512_fmadd_ps(r, _mm512_maskz_loadu_ps(m, q[1] + i), s1);
    s2 = _mm512_fmadd_ps(r, _mm512_maskz_loadu_ps(m, q[2] + i), s2);
    s3 = _mm512_fmadd_ps(r, _mm512_maskz_loadu_ps(m, q[3] + i), s3);
  }
  out[0] = _mm512_reduce_add_ps(s0);
  out[1] = _mm512_reduce_add_ps(s1);
  out[2] = _mm512_reduce_add_ps(s2);
  out[3] = _mm512_reduce_add_ps(s3);
}

T_AVX512 static float a5_sq8_l2(const float *qp, const float *w,
                                const uint8_t *c, size_t d) {
  __m512 s0 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    __m128i b = _mm_loadu_si128((const __m128i *)(c + i));
    __m512 x = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b));
    __m512 t = _mm512_sub_ps(_mm512_loadu_ps(qp + i), x);
    s0 = _mm512_fmadd_ps(_mm512_mul_ps(t, t), _mm512_loadu_ps(w + i), s0);
  }
  if (i < d) {
    __mmask16 m = (__mmask16)((1u << (d - i)) - 1);
    __m128i b = _mm_maskz_loadu_epi8(m, c + i);
    __m512 x = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b));
    __m512 t = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, qp + i), x);
    s0 = _mm512_fmadd_ps(_mm512_mul_ps(t, t), _mm512_maskz_loadu_ps(m, w + i), s0);
  }
  return _mm512_reduce_add_ps(s0);
}

T_AVX512 static float a5_sq8_ip(const float *a, const uint8_t *c, size_t d) {
  __m512 s0 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    __m128i b = _mm_loadu_si128((const __m128i *)(c + i));
    __m512 x = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b));
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), x, s0);
  }
  if (i < d) {
    __mmask16 m = (__mmask16)((1u << (d - i)) - 1);
    __m128i b = _mm_maskz_loadu_epi8(m, c + i);
    __m512 x = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b));
    s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), x, s0);
  }
  return _mm512_reduce_add_ps(s0);
}

T_AVX512 static float a5_l2_f32_u8(const float *q, const uint8_t *r,
                                   size_t d) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= d; i += 32) {
    __m512 x0 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(r + i))));
    __m512 x1 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(r + i + 16))));
    __m512 t0 = _mm512_sub_ps(_mm512_loadu_ps(q + i), x0);
    __m512 t1 = _mm512_sub_ps(_mm512_loadu_ps(q + i + 16), x1);
    s0 = _mm512_fmadd_ps(t0, t0, s0);
    s1 = _mm512_fmadd_ps(t1, t1, s1);
  }
  for (; i < d; i += 16) {
    __mmask16 m = d - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (d - i)) - 1);
    __m512 x = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, r + i)));
    __m512 t = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, q + i), x);
    s0 = _mm512_fmadd_ps(t, t, s0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

T_AVX512 static float a5_ip_f32_u8(const float *q, const uint8_t *r,
                                   size_t d) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= d; i += 32) {
    __m512 x0 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(r + i))));
    __m512 x1 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(r + i + 16))));
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), x0, s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 16), x1, s1);
  }
  for (; i < d; i += 16) {
    __mmask16 m = d - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (d - i)) - 1);
    __m512 x = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, r + i)));
    s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + i), x, s0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

T_AVX512 static float a5_l2_u8(const uint8_t *a, const uint8_t *b, size_t d) {
  __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
  size_t i = 0;
  for (; i + 64 <= d; i += 64) {
    __m512i x0 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(a + i)));
    __m512i y0 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(b + i)));
    __m512i x1 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(a + i + 32)));
    __m512i y1 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(b + i + 32)));
    __m512i t0 = _mm512_sub_epi16(x0, y0), t1 = _mm512_sub_epi16(x1, y1);
    s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(t0, t0));
    s1 = _mm512_add_epi32(s1, _mm512_madd_epi16(t1, t1));
  }
  for (; i < d; i += 32) {
    __mmask32 m = d - i >= 32 ? (__mmask32)0xffffffffu : (__mmask32)((1u << (d - i)) - 1);
    __m512i x = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(m, a + i));
    __m512i y = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(m, b + i));
    __m512i t = _mm512_sub_epi16(x, y);
    s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(t, t));
  }
  return (float)_mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1));
}

T_AVX512 static float a5_ip_u8(const uint8_t *a, const uint8_t *b, size_t d) {
  __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
  size_t i = 0;
  for (; i + 64 <= d; i += 64) {
    __m512i x0 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(a + i)));
    __m512i y0 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(b + i)));
    __m512i x1 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(a + i + 32)));
    __m512i y1 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(b + i + 32)));
    s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(x0, y0));
    s1 = _mm512_add_epi32(s1, _mm512_madd_epi16(x1, y1));
  }
  for (; i < d; i += 32) {
    __mmask32 m = d - i >= 32 ? (__mmask32)0xffffffffu : (__mmask32)((1u << (d - i)) - 1);
    __m512i x = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(m, a + i));
    __m512i y = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(m, b + i));
    s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(x, y));
  }
  return (float)_mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1));
}

static const cairn_kernels avx512_kernels = {
    .name = "avx512",
    .l2_f32 = a5_l2_f32,
    .ip_f32 = a5_ip_f32,
    .l2_f16 = a5_l2_f16,
    .ip_f16 = a5_ip_f16,
    .l2_bf16 = a5_l2_bf16,
    .ip_bf16 = a5_ip_bf16,
    .l2_i8 = a5_l2_i8,
    .ip_i8 = a5_ip_i8,
    .hamming = a2_hamming, /* popcnt is already at memory speed here */
    .jaccard = a2_jaccard,
    .l2_f32_batch = a5_l2_f32_batch,
    .ip_f32_batch = a5_ip_f32_batch,
    .hamming_batch = a2_hamming_batch,
    .ip_f32_4q = a5_ip_f32_4q,
    .l2_f32_dual = a5_l2_f32_batch_dual,
    .ip_f32_dual = a5_ip_f32_batch_dual,
    .sq8_l2 = a5_sq8_l2,
    .sq8_ip = a5_sq8_ip,
    .l2_f32_u8 = a5_l2_f32_u8,
    .ip_f32_u8 = a5_ip_f32_u8,
    .l2_u8 = a5_l2_u8,
    .ip_u8 = a5_ip_u8,
};

const cairn_kernels *cairn_kernels_avx512(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    return &avx512_kernels;
  return NULL;
}

#else /* not x86-64 */

const cairn_kernels *cairn_kernels_avx2(void) { return NULL; }
const cairn_kernels *cairn_kernels_avx512(void) { return NULL; }

#endif
