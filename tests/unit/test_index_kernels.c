/* test_index_kernels.c — every SIMD kernel table agrees with the portable
 * path (float kernels within relative tolerance, integer ones exactly), on
 * seeded random data over dimensions that exercise every tail length. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "distance.h"

static uint64_t rng = 42;
static uint32_t next_u32(void) {
  rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
  return (uint32_t)(rng >> 33);
}
static float next_f(void) { return (float)next_u32() / 2147483648.0f - 1.0f; }

static void assert_close(float got, float want, const char *what, size_t d) {
  float tol = 1e-4f * fmaxf(1.0f, fabsf(want));
  if (fabsf(got - want) > tol) {
    print_error("%s d=%zu: got %.8g want %.8g\n", what, d, got, want);
    fail();
  }
}

static const size_t dims[] = {1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 100, 128, 784, 1000};
#define NDIMS (sizeof dims / sizeof dims[0])

static void check_table(const cairn_kernels *k) {
  const cairn_kernels *p = cairn_kernels_portable();
  for (size_t t = 0; t < NDIMS; t++) {
    size_t d = dims[t];
    float *a = malloc(d * 4 * sizeof(float)), *b = a + d;
    uint16_t *ha = malloc(d * 4 * sizeof(uint16_t)), *hb = ha + d;
    uint16_t *ba = ha + 2 * d, *bb = ha + 3 * d;
    int8_t *ia = malloc(d * 2), *ib = ia + d;
    uint8_t *ua = malloc(d * 2), *ub = ua + d;
    for (size_t i = 0; i < d; i++) {
      a[i] = next_f();
      b[i] = next_f();
      ha[i] = cairn_f32_to_f16(a[i]);
      hb[i] = cairn_f32_to_f16(b[i]);
      ba[i] = cairn_f32_to_bf16(a[i]);
      bb[i] = cairn_f32_to_bf16(b[i]);
      ia[i] = (int8_t)(next_u32() & 0xff);
      ib[i] = (int8_t)(next_u32() & 0xff);
      ua[i] = (uint8_t)next_u32();
      ub[i] = (uint8_t)next_u32();
    }
    assert_close(k->l2_f32(a, b, d), p->l2_f32(a, b, d), "l2_f32", d);
    assert_close(k->ip_f32(a, b, d), p->ip_f32(a, b, d), "ip_f32", d);
    assert_close(k->l2_f16(ha, hb, d), p->l2_f16(ha, hb, d), "l2_f16", d);
    assert_close(k->ip_f16(ha, hb, d), p->ip_f16(ha, hb, d), "ip_f16", d);
    assert_close(k->l2_bf16(ba, bb, d), p->l2_bf16(ba, bb, d), "l2_bf16", d);
    assert_close(k->ip_bf16(ba, bb, d), p->ip_bf16(ba, bb, d), "ip_bf16", d);
    assert_int_equal((int64_t)k->l2_i8(ia, ib, d), (int64_t)p->l2_i8(ia, ib, d));
    assert_int_equal((int64_t)k->ip_i8(ia, ib, d), (int64_t)p->ip_i8(ia, ib, d));
    assert_int_equal(k->hamming(ua, ub, d), p->hamming(ua, ub, d));
    assert_int_equal((int64_t)k->l2_u8(ua, ub, d), (int64_t)p->l2_u8(ua, ub, d));
    assert_int_equal((int64_t)k->ip_u8(ua, ub, d), (int64_t)p->ip_u8(ua, ub, d));
    assert_close(k->jaccard(ua, ub, d), p->jaccard(ua, ub, d), "jaccard", d);
    /* batched forms: 5 rows laid out from a (a and b are contiguous) */
    float outk[4], outp[4];
    size_t rows = (2 * d) / d;
    k->l2_f32_batch(a, a, rows, d, outk);
    p->l2_f32_batch(a, a, rows, d, outp);
    for (size_t r = 0; r < rows; r++)
      assert_close(outk[r], outp[r], "l2_batch", d);
    k->ip_f32_batch(b, a, rows, d, outk);
    p->ip_f32_batch(b, a, rows, d, outp);
    for (size_t r = 0; r < rows; r++)
      assert_close(outk[r], outp[r], "ip_batch", d);
    k->hamming_batch(ua, ua, 2, d / 2 ? d / 2 : 1, outk);
    p->hamming_batch(ua, ua, 2, d / 2 ? d / 2 : 1, outp);
    assert_close(outk[1], outp[1], "hamming_batch", d);
    {
      float da[2], db[2], pa[2], pb[2];
      size_t dd = d / 2 ? d / 2 : 1;
      k->l2_f32_dual(b, a, a + dd, 1, dd, da, db);
      p->l2_f32_dual(b, a, a + dd, 1, dd, pa, pb);
      assert_close(da[0], pa[0], "l2_dual a", d);
      assert_close(db[0], pb[0], "l2_dual b", d);
      k->ip_f32_dual(b, a, a + dd, 1, dd, da, db);
      p->ip_f32_dual(b, a, a + dd, 1, dd, pa, pb);
      assert_close(da[0], pa[0], "ip_dual a", d);
      assert_close(db[0], pb[0], "ip_dual b", d);
    }
    const float *qs[4] = {a, b, b, a};
    k->ip_f32_4q(qs, b, d, outk);
    p->ip_f32_4q(qs, b, d, outp);
    for (int j = 0; j < 4; j++)
      assert_close(outk[j], outp[j], "ip_4q", d);
    {
      float *w = malloc(d * sizeof(float) * 2), *qp = w + d;
      for (size_t i = 0; i < d; i++) {
        w[i] = next_f() + 1.0f;
        qp[i] = next_f() * 255.0f;
      }
      assert_close(k->sq8_l2(qp, w, ua, d), p->sq8_l2(qp, w, ua, d), "sq8_l2", d);
      assert_close(k->sq8_ip(qp, ua, d), p->sq8_ip(qp, ua, d), "sq8_ip", d);
      assert_close(k->l2_f32_u8(qp, ua, d), p->l2_f32_u8(qp, ua, d), "l2_f32_u8", d);
      assert_close(k->ip_f32_u8(qp, ua, d), p->ip_f32_u8(qp, ua, d), "ip_f32_u8", d);
      free(w);
    }
    free(a);
    free(ha);
    free(ia);
    free(ua);
  }
}

static void test_avx2(void **state) {
  (void)state;
  const cairn_kernels *k = cairn_kernels_avx2();
  if (k == NULL)
    skip();
  check_table(k);
}

static void test_avx512(void **state) {
  (void)state;
  const cairn_kernels *k = cairn_kernels_avx512();
  if (k == NULL)
    skip();
  check_table(k);
}

static void test_dispatch_and_known_values(void **state) {
  (void)state;
  const cairn_kernels *k = cairn_kernels_get();
  assert_non_null(k);
  float a[3] = {1, 2, 3}, b[3] = {4, 6, 3};
  assert_close(k->l2_f32(a, b, 3), 25.0f, "l2 known", 3);
  assert_close(k->ip_f32(a, b, 3), 25.0f, "ip known", 3);
  assert_close(cairn_cosine_f32(a, a, 3), 1.0f, "cos self", 3);
  uint8_t x[2] = {0xff, 0x0f}, y[2] = {0x0f, 0x0f};
  assert_int_equal(k->hamming(x, y, 2), 4);
  assert_close(k->jaccard(x, y, 2), 1.0f - 8.0f / 12.0f, "jaccard", 2);
  uint32_t ia[3] = {1, 5, 9}, ib[2] = {5, 9};
  float va[3] = {1, 2, 3}, vb[2] = {10, 100};
  assert_close(cairn_sparse_dot(3, ia, va, 2, ib, vb), 320.0f, "sparse", 3);
}

static void test_conversions(void **state) {
  (void)state;
  /* every finite half converts exactly and back */
  for (uint32_t h = 0; h < 0x10000; h++) {
    if ((h & 0x7c00) == 0x7c00)
      continue;
    float f = cairn_f16_to_f32((uint16_t)h);
    assert_int_equal(cairn_f32_to_f16(f), h);
  }
  assert_true(cairn_f16_to_f32(0x3c00) == 1.0f);
  assert_true(cairn_bf16_to_f32(cairn_f32_to_bf16(1.5f)) == 1.5f);
  assert_int_equal(cairn_f32_to_f16(1e6f), 0x7c00);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_avx2),
      cmocka_unit_test(test_avx512),
      cmocka_unit_test(test_dispatch_and_known_values),
      cmocka_unit_test(test_conversions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
