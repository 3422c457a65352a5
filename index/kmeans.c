/*
 * kmeans.c — k-means for IVF coarse quantisers and PQ codebooks.
 *
 * Phases of cairn_kmeans:
 *   1. sample: at most KMEANS_MAX_PER_CENTROID * k rows, drawn without
 *      replacement by a seeded partial Fisher-Yates shuffle;
 *   2. k-means++ initialisation (Arthur & Vassilvitskii 2007) on the first
 *      min(sample, KMEANS_INIT_PER_CENTROID * k) sampled rows — D^2
 *      sampling, so centroids start spread out;
 *   3. Lloyd iterations on the whole sample: assign (parallel over rows,
 *      |c|^2 - 2 x.c through the batched kernel), recompute means, and
 *      re-seed empty clusters by splitting the largest one (as FAISS does);
 *   4. spherical k-means (COSINE / IP) normalises centroids each round.
 *
 * Threading: assignment runs on all cores; everything else is serial.
 * Deterministic for a given seed and thread count (assignment is a pure
 * per-row function, so also for any thread count).
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "index_impl.h"

#define KMEANS_MAX_PER_CENTROID 256
#define KMEANS_INIT_PER_CENTROID 16

typedef struct assign_job {
  const cairn_kernels *kt;
  const float *x, *c, *cn;
  size_t n, d, k;
  bool ip;
  uint32_t *assign;
  size_t begin, end;
} assign_job;

static void assign_range(const assign_job *j) {
  float *buf = malloc(j->k * sizeof(float));
  if (buf == NULL)
    return;
  for (size_t i = j->begin; i < j->end; i++) {
    const float *xi = j->x + i * j->d;
    j->kt->ip_f32_batch(xi, j->c, j->k, j->d, buf);
    size_t best = 0;
    float bd = FLT_MAX;
    for (size_t c = 0; c < j->k; c++) {
      float dd = j->ip ? -buf[c] : j->cn[c] - 2 * buf[c];
      if (dd < bd) {
        bd = dd;
        best = c;
      }
    }
    j->assign[i] = (uint32_t)best;
  }
  free(buf);
}

static void *assign_thread(void *arg) {
  assign_range(arg);
  return NULL;
}

void cairn_kmeans_assign(const cairn_kernels *kt, const float *x, size_t n,
                         size_t d, const float *centroids, size_t k, bool ip,
                         uint32_t *assign) {
  float *cn = malloc(k * sizeof(float));
  if (cn == NULL)
    return;
  for (size_t c = 0; c < k; c++)
    cn[c] = kt->ip_f32(centroids + c * d, centroids + c * d, d);
  int nt = cairn_index_threads();
  if (nt > 64)
    nt = 64;
  if ((size_t)nt > n / 64 + 1)
    nt = (int)(n / 64 + 1);
  assign_job jobs[64];
  pthread_t th[64];
  int started = 0;
  for (int t = 0; t < nt; t++) {
    jobs[t] = (assign_job){kt, x, centroids, cn, n, d, k, ip, assign,
                           n * (size_t)t / (size_t)nt, n * (size_t)(t + 1) / (size_t)nt};
  }
  for (int t = 1; t < nt; t++)
    if (pthread_create(&th[started], NULL, assign_thread, &jobs[t]) == 0)
      started++;
    else
      assign_range(&jobs[t]);
  assign_range(&jobs[0]);
  for (int t = 0; t < started; t++)
    pthread_join(th[t], NULL);
  free(cn);
}

/* k-means++ seeding on rows x[0..m). */
static void kmeanspp(const cairn_kernels *kt, const float *x, size_t m,
                     size_t d, size_t k, uint64_t *rng, float *cent) {
  double *best = malloc(m * sizeof(double));
  size_t first = cairn_rand_next(rng) % m;
  memcpy(cent, x + first * d, d * sizeof(float));
  for (size_t i = 0; i < m; i++)
    best[i] = kt->l2_f32(x + i * d, cent, d);
  for (size_t c = 1; c < k; c++) {
    double tot = 0;
    for (size_t i = 0; i < m; i++)
      tot += best[i];
    double r = (double)(cairn_rand_next(rng) >> 11) / 9007199254740992.0 * tot;
    size_t pick = m - 1;
    for (size_t i = 0; i < m; i++) {
      r -= best[i];
      if (r <= 0) {
        pick = i;
        break;
      }
    }
    memcpy(cent + c * d, x + pick * d, d * sizeof(float));
    for (size_t i = 0; i < m; i++) {
      double dd = kt->l2_f32(x + i * d, cent + c * d, d);
      if (dd < best[i])
        best[i] = dd;
    }
  }
  free(best);
}

/* Recomputes means; splits the largest cluster into empty ones. */
static void update(const float *x, size_t m, size_t d, size_t k,
                   const uint32_t *assign, float *cent, uint64_t *rng,
                   bool spherical) {
  size_t *cnt = calloc(k, sizeof(size_t));
  double *sum = calloc(k * d, sizeof(double));
  for (size_t i = 0; i < m; i++) {
    cnt[assign[i]]++;
    for (size_t j = 0; j < d; j++)
      sum[assign[i] * d + j] += x[i * d + j];
  }
  for (size_t c = 0; c < k; c++)
    if (cnt[c] > 0)
      for (size_t j = 0; j < d; j++)
        cent[c * d + j] = (float)(sum[c * d + j] / (double)cnt[c]);
  for (size_t c = 0; c < k; c++) {
    if (cnt[c] > 0)
      continue;
    size_t big = 0;
    for (size_t o = 1; o < k; o++)
      if (cnt[o] > cnt[big])
        big = o;
    for (size_t j = 0; j < d; j++) { /* symmetric perturbation */
      float eps = (cairn_rand_next(rng) & 1) ? 1.0f / 1024 : -1.0f / 1024;
      cent[c * d + j] = cent[big * d + j] * (1 + eps);
      cent[big * d + j] *= (1 - eps);
    }
    cnt[c] = cnt[big] / 2;
    cnt[big] -= cnt[c];
  }
  if (spherical)
    for (size_t c = 0; c < k; c++)
      cairn_normalize_f32(cent + c * d, d);
  free(cnt);
  free(sum);
}

cairn_status cairn_kmeans(const float *x, size_t n, size_t d, size_t k,
                          int iters, uint64_t seed, bool spherical,
                          float *centroids, cairn_error *err) {
  if (n == 0 || k == 0)
    return cairn_error_set(err, CAIRN_INVALID_ARGUMENT, "k-means needs rows");
  const cairn_kernels *kt = cairn_kernels_get();
  uint64_t rng = seed;
  /* phase 1: sample */
  size_t m = n < k * KMEANS_MAX_PER_CENTROID ? n : k * KMEANS_MAX_PER_CENTROID;
  float *s = malloc(m * d * sizeof(float));
  uint32_t *perm = malloc(n * sizeof(uint32_t));
  uint32_t *assign = malloc(m * sizeof(uint32_t));
  if (s == NULL || perm == NULL || assign == NULL) {
    free(s);
    free(perm);
    free(assign);
    return cairn_error_set(err, CAIRN_NOMEM, "out of memory in k-means");
  }
  for (size_t i = 0; i < n; i++)
    perm[i] = (uint32_t)i;
  for (size_t i = 0; i < m; i++) {
    size_t j = i + cairn_rand_next(&rng) % (n - i);
    uint32_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
    memcpy(s + i * d, x + (size_t)perm[i] * d, d * sizeof(float));
  }
  free(perm);
  /* phase 2: k-means++ (fewer rows than centroids: repeat rows) */
  if (m < k) {
    for (size_t c = 0; c < k; c++)
      memcpy(centroids + c * d, s + (c % m) * d, d * sizeof(float));
  } else {
    size_t mi = m < k * KMEANS_INIT_PER_CENTROID ? m : k * KMEANS_INIT_PER_CENTROID;
    kmeanspp(kt, s, mi, d, k, &rng, centroids);
  }
  if (spherical)
    for (size_t c = 0; c < k; c++)
      cairn_normalize_f32(centroids + c * d, d);
  /* phase 3: Lloyd */
  for (int it = 0; it < iters && m > k; it++) {
    cairn_kmeans_assign(kt, s, m, d, centroids, k, spherical, assign);
    update(s, m, d, k, assign, centroids, &rng, spherical);
  }
  free(s);
  free(assign);
  return CAIRN_OK;
}
