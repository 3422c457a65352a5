// ann_bench.cpp — Cairn's indexes against hnswlib and FAISS on one dataset,
// in one run, with the same compiler flags (bench/CMakeLists.txt builds the
// Cairn index sources, this file and the header-only hnswlib with the same
// -O3 -march=native; FAISS is Debian's prebuilt libfaiss, see docs/index.md).
//
// Usage: ann_bench DATASET_PREFIX   (e.g. ../shared/datasets/glove-100-angular)
// Reads PREFIX_base.{fvecs,bvecs}, PREFIX_query.*, PREFIX_groundtruth.ivecs.
// "angular" in the name selects COSINE (peers get L2-normalised vectors and
// inner product), otherwise squared L2. uint8 .bvecs are widened to float32.
//
// For every index and its peer it prints one line
//   ann dataset=NAME index=X peer=Y recall=R qps=Q peer_recall=.. peer_qps=..
//       ratio=qps/peer_qps build_s=.. peer_build_s=.. mem_mb=.. peer_mem_mb=..
// where for graph/IVF indexes both sides are taken at their lowest search
// setting (ef / nprobe from a fixed sweep) reaching recall@10 >= 0.95, and
// QPS is single-threaded, one query per call. A table follows.
//
// Memory is the growth of resident memory (/proc/self/statm) across the
// build, the same measure for both sides. Fixed seeds everywhere.
//
// Environment: CAIRN_BENCH_QUERIES (queries per sweep point, default 5000),
// CAIRN_BENCH_SKIP (comma list of: flat,hnsw,faiss-hnsw,ivf,filter).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <malloc.h>
#include <unistd.h>

#include <omp.h>

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexScalarQuantizer.h>
#include <hnswlib/hnswlib.h>

extern "C" {
#include "distance.h"
#include "index.h"
}

using clk = std::chrono::steady_clock;
using fidx = faiss::Index::idx_t;
static double secs(clk::time_point a) {
  return std::chrono::duration<double>(clk::now() - a).count();
}

static double rss_mb() {
  malloc_trim(0); // hand freed memory back so RSS growth means new memory
  long pages = 0, res = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &res) != 2)
      res = 0;
    fclose(f);
  }
  return (double)res * (double)sysconf(_SC_PAGESIZE) / 1048576.0;
}

struct Mat {
  size_t n = 0, d = 0;
  std::vector<float> f;
  std::vector<int32_t> i;
};

static bool load_vecs(const std::string &path, int kind, Mat &m) {
  // kind 0: fvecs, 1: bvecs (widened), 2: ivecs
  FILE *fp = fopen(path.c_str(), "rb");
  if (!fp)
    return false;
  int32_t d;
  std::vector<uint8_t> row;
  while (fread(&d, 4, 1, fp) == 1) {
    size_t esz = kind == 1 ? 1 : 4;
    row.resize((size_t)d * esz);
    if (fread(row.data(), esz, (size_t)d, fp) != (size_t)d)
      break;
    m.d = (size_t)d;
    for (int j = 0; j < d; j++) {
      if (kind == 0) {
        float v;
        memcpy(&v, &row[j * 4], 4);
        m.f.push_back(v);
      } else if (kind == 1) {
        m.f.push_back((float)row[j]);
      } else {
        int32_t v;
        memcpy(&v, &row[j * 4], 4);
        m.i.push_back(v);
      }
    }
    m.n++;
  }
  fclose(fp);
  return m.n > 0;
}

static bool load_any(const std::string &prefix, const char *part, Mat &m) {
  return load_vecs(prefix + "_" + part + ".fvecs", 0, m) ||
         load_vecs(prefix + "_" + part + ".bvecs", 1, m);
}

static bool skipped(const char *what) {
  const char *s = getenv("CAIRN_BENCH_SKIP");
  if (!s)
    return false;
  std::string list = std::string(",") + s + ",";
  return list.find(std::string(",") + what + ",") != std::string::npos;
}

// ---- measurement helpers --------------------------------------------------

struct Ctx {
  std::string name;
  Mat base, query, gt;
  bool cosine = false;
  std::vector<float> base_n, query_n; // normalised copies for peers (cosine)
  size_t nq_sweep = 5000;
  const float *peer_base() const { return cosine ? base_n.data() : base.f.data(); }
  const float *peer_query() const { return cosine ? query_n.data() : query.f.data(); }
};

using SearchFn = std::function<void(size_t q, int param, int64_t *out)>;

struct Point {
  int param = 0;
  double recall = 0, qps = 0;
};

static double recall_of(const Ctx &c, const std::vector<int64_t> &res, size_t nq,
                        const std::vector<int64_t> *truth = nullptr) {
  size_t hit = 0;
  for (size_t q = 0; q < nq; q++)
    for (int a = 0; a < 10; a++) {
      int64_t want = truth ? (*truth)[q * 10 + a] : c.gt.i[q * c.gt.d + a];
      for (int b = 0; b < 10; b++)
        if (res[q * 10 + b] == want) {
          hit++;
          break;
        }
    }
  return (double)hit / (double)(nq * 10);
}

// One sweep point: all nq queries, one per call, on `threads` threads.
static Point run_point(const Ctx &c, const SearchFn &fn, int param, size_t nq,
                       int threads, const std::vector<int64_t> *truth = nullptr) {
  std::vector<int64_t> res(nq * 10, -1);
  for (size_t q = 0; q < std::min<size_t>(nq, 300); q++) // warm-up, untimed
    fn(q, param, &res[q * 10]);
  auto t0 = clk::now();
  if (threads <= 1) {
    for (size_t q = 0; q < nq; q++)
      fn(q, param, &res[q * 10]);
  } else {
    std::atomic<size_t> next{0};
    std::vector<std::thread> th;
    for (int t = 0; t < threads; t++)
      th.emplace_back([&] {
        for (size_t q; (q = next.fetch_add(1)) < nq;)
          fn(q, param, &res[q * 10]);
      });
    for (auto &t : th)
      t.join();
  }
  double s = secs(t0);
  return Point{param, recall_of(c, res, nq, truth), (double)nq / s};
}

// Lowest param of the sweep reaching recall >= 0.95 (or the best one).
static Point sweep(const Ctx &c, const SearchFn &fn, const std::vector<int> &params,
                   const char *label) {
  Point best;
  for (int p : params) {
    Point pt = run_point(c, fn, p, c.nq_sweep, 1);
    printf("  sweep %-22s param=%-5d recall=%.4f qps=%.0f\n", label, p, pt.recall, pt.qps);
    fflush(stdout);
    best = pt;
    if (pt.recall >= 0.95)
      break;
  }
  return best;
}

struct Row {
  std::string index, peer;
  Point ours, theirs;
  double build = 0, peer_build = 0, mem = 0, peer_mem = 0;
  double qps_all = 0, peer_qps_all = 0;
  std::string note;
};

static std::vector<Row> rows;

static void emit(const Ctx &c, const Row &r) {
  printf("ann dataset=%s index=%s peer=%s recall=%.3f qps=%.0f peer_recall=%.3f "
         "peer_qps=%.0f ratio=%.2f build_s=%.2f peer_build_s=%.2f mem_mb=%.1f "
         "peer_mem_mb=%.1f qps_all_cores=%.0f peer_qps_all_cores=%.0f param=%d "
         "peer_param=%d%s%s\n",
         c.name.c_str(), r.index.c_str(), r.peer.c_str(), r.ours.recall, r.ours.qps,
         r.theirs.recall, r.theirs.qps, r.theirs.qps > 0 ? r.ours.qps / r.theirs.qps : 0.0,
         r.build, r.peer_build, r.mem, r.peer_mem, r.qps_all, r.peer_qps_all,
         r.ours.param, r.theirs.param, r.note.empty() ? "" : " ", r.note.c_str());
  fflush(stdout);
  rows.push_back(r);
}

static int ncores() {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : (int)n;
}

// ---- Cairn ------------------------------------------------------------------

static cairn_index *cairn_build(const Ctx &c, const char *type, const char *params,
                                double *build_s, double *mem_mb) {
  cairn_index *ix = nullptr;
  cairn_error err{};
  const char *metric = c.cosine ? "COSINE" : "L2";
  double m0 = rss_mb();
  auto t0 = clk::now();
  if (cairn_index_new(type, metric, CAIRN_TYPE_FLOAT_VECTOR, (int64_t)c.base.d, params,
                      &ix, &err) != CAIRN_OK ||
      cairn_index_add(ix, c.base.n, c.base.f.data(), nullptr, &err) != CAIRN_OK) {
    fprintf(stderr, "cairn %s: %s\n", type, err.message);
    exit(1);
  }
  *build_s = secs(t0);
  *mem_mb = rss_mb() - m0;
  return ix;
}

static SearchFn cairn_fn(const Ctx &c, cairn_index *ix, bool ivf,
                         const cairn_bitset *filter = nullptr) {
  return [&c, ix, ivf, filter](size_t q, int param, int64_t *out) {
    cairn_search_params sp{};
    if (ivf)
      sp.nprobe = param;
    else
      sp.ef = param;
    float sc[10];
    cairn_error err;
    cairn_index_search(ix, 1, &c.query.f[q * c.query.d], 10, &sp, filter, out, sc, &err);
  };
}

// ---- memory bandwidth ---------------------------------------------------------

static double measure_bandwidth_gbs() {
  size_t n = (size_t)256 << 20; // 1 GiB of floats
  std::vector<float> a(n / 2 + 16, 1.0f);
  std::vector<float> b(n / 2 + 16, 1.0f);
  const cairn_kernels *k = cairn_kernels_get();
  double best = 0;
  volatile float sink = 0;
  for (int r = 0; r < 3; r++) {
    auto t0 = clk::now();
    sink = sink + k->ip_f32(a.data(), b.data(), n / 2);
    double s = secs(t0);
    best = std::max(best, (double)n * 4 / s / 1e9);
  }
  return best;
}

// ---- the runs -------------------------------------------------------------------

static void run_flat(Ctx &c, double bw) {
  size_t nq1 = std::min<size_t>(c.query.n, 200), nqb = std::min<size_t>(c.query.n, 1000);
  Row r{"FLAT", "faiss-IndexFlat"};
  cairn_index *ix = cairn_build(c, "FLAT", nullptr, &r.build, &r.mem);
  omp_set_num_threads(1);
  double m0 = rss_mb();
  auto t0 = clk::now();
  faiss::IndexFlat flat((fidx)c.base.d, c.cosine ? faiss::METRIC_INNER_PRODUCT
                                                         : faiss::METRIC_L2);
  flat.add((fidx)c.base.n, c.peer_base());
  r.peer_build = secs(t0);
  r.peer_mem = rss_mb() - m0;
  auto ffn = [&](size_t q, int, int64_t *out) {
    float D[10];
    fidx I[10];
    flat.search(1, c.peer_query() + q * c.query.d, 10, D, I);
    for (int j = 0; j < 10; j++)
      out[j] = I[j];
  };
  Ctx c1 = c;
  r.ours = run_point(c, cairn_fn(c, ix, false), 0, nq1, 1);
  r.theirs = run_point(c, ffn, 0, nq1, 1);
  // Scan rate against bandwidth, both as best-of-N (the bandwidth figure is
  // the best of 3 runs): the fastest of 20 one-query scans, with the
  // machine's bandwidth measured again right next to them.
  auto one = cairn_fn(c, ix, false);
  double best_s = 1e9;
  int64_t tmp[10];
  for (int rep = 0; rep < 20; rep++) {
    auto t1 = clk::now();
    one((size_t)rep, 0, tmp);
    best_s = std::min(best_s, secs(t1));
  }
  bw = std::max(bw, measure_bandwidth_gbs());
  double gbs = (double)c.base.n * (double)c.base.d * 4 / best_s / 1e9;
  double avg_gbs = r.ours.qps * (double)c.base.n * (double)c.base.d * 4 / 1e9;
  char note[200];
  snprintf(note, sizeof note, "scan_gbs=%.2f machine_gbs=%.2f scan_frac=%.2f avg_scan_gbs=%.2f",
           gbs, bw, gbs / bw, avg_gbs);
  r.note = note;
  emit(c, r);
  // batches: all nqb queries in one call
  Row b{"FLAT-batch", "faiss-IndexFlat-batch"};
  b.build = r.build;
  b.peer_build = r.peer_build;
  b.mem = r.mem;
  b.peer_mem = r.peer_mem;
  std::vector<int64_t> ids(nqb * 10);
  std::vector<float> sc(nqb * 10);
  cairn_error err;
  t0 = clk::now();
  cairn_index_search(ix, nqb, c.query.f.data(), 10, nullptr, nullptr, ids.data(), sc.data(), &err);
  b.ours = Point{0, recall_of(c, ids, nqb), nqb / secs(t0)};
  std::vector<fidx> fi(nqb * 10);
  t0 = clk::now();
  flat.search((fidx)nqb, c.peer_query(), 10, sc.data(), fi.data());
  double fs = secs(t0);
  for (size_t i = 0; i < nqb * 10; i++)
    ids[i] = fi[i];
  b.theirs = Point{0, recall_of(c, ids, nqb), nqb / fs};
  emit(c, b);
  cairn_index_free(ix);
}

static const std::vector<int> ef_sweep = {10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96,
                                          128, 160, 200, 256, 320, 400, 512};
static const std::vector<int> np_sweep = {1, 2, 3, 4, 6, 8, 10, 12, 16, 20, 24, 32,
                                          40, 48, 64, 96, 128};

static const int HNSW_M = 16, HNSW_EFC = 100;

static void run_hnsw(Ctx &c) {
  Row r{"HNSW", "hnswlib"};
  char params[100];
  snprintf(params, sizeof params, "{\"M\": %d, \"efConstruction\": %d}", HNSW_M, HNSW_EFC);
  cairn_index *ix = cairn_build(c, "HNSW", params, &r.build, &r.mem);
  auto fn = cairn_fn(c, ix, false);
  r.ours = sweep(c, fn, ef_sweep, "cairn HNSW");
  r.qps_all = run_point(c, fn, r.ours.param, c.nq_sweep, ncores()).qps;

  hnswlib::SpaceInterface<float> *space =
      c.cosine ? (hnswlib::SpaceInterface<float> *)new hnswlib::InnerProductSpace(c.base.d)
               : (hnswlib::SpaceInterface<float> *)new hnswlib::L2Space(c.base.d);
  double m0 = rss_mb();
  auto t0 = clk::now();
  auto *alg = new hnswlib::HierarchicalNSW<float>(space, c.base.n, HNSW_M, HNSW_EFC, 100);
  {
    std::atomic<size_t> next{0};
    std::vector<std::thread> th;
    const float *x = c.peer_base();
    for (int t = 0; t < ncores(); t++)
      th.emplace_back([&] {
        for (size_t i; (i = next.fetch_add(1)) < c.base.n;)
          alg->addPoint(x + i * c.base.d, i);
      });
    for (auto &t : th)
      t.join();
  }
  r.peer_build = secs(t0);
  r.peer_mem = rss_mb() - m0;
  auto hfn = [&](size_t q, int ef, int64_t *out) {
    auto res = alg->searchKnn(c.peer_query() + q * c.query.d, 10);
    (void)ef;
    for (int j = 9; j >= 0 && !res.empty(); j--) {
      out[j] = (int64_t)res.top().second;
      res.pop();
    }
  };
  Point best;
  for (int ef : ef_sweep) {
    alg->setEf(ef);
    Point pt = run_point(c, hfn, ef, c.nq_sweep, 1);
    printf("  sweep %-22s param=%-5d recall=%.4f qps=%.0f\n", "hnswlib", ef, pt.recall, pt.qps);
    best = pt;
    if (pt.recall >= 0.95)
      break;
  }
  r.theirs = best;
  alg->setEf(best.param);
  r.peer_qps_all = run_point(c, hfn, best.param, c.nq_sweep, ncores()).qps;
  char note[100];
  snprintf(note, sizeof note, "M=%d efConstruction=%d cairn_index_memory_mb=%.1f", HNSW_M,
           HNSW_EFC, cairn_index_memory(ix) / 1048576.0);
  r.note = note;
  emit(c, r);
  delete alg;
  delete space;

  if (!skipped("filter")) {
    // filtered search at 1% selectivity, against exact filtered truth
    Row f{"HNSW-filter-1%", "none"};
    size_t n = c.base.n, nq = std::min<size_t>(c.query.n, 1000);
    std::vector<uint8_t> bits((n + 7) / 8, 0);
    uint64_t s = 12345;
    for (size_t i = 0; i < n; i++) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      if ((s >> 33) % 100 == 0)
        bits[i / 8] |= (uint8_t)(1u << (i % 8));
    }
    cairn_bitset bs{bits.data(), n};
    double b, m;
    cairn_index *flat = cairn_build(c, "FLAT", nullptr, &b, &m);
    std::vector<int64_t> truth(nq * 10);
    std::vector<float> sc(nq * 10);
    cairn_error err;
    cairn_index_search(flat, nq, c.query.f.data(), 10, nullptr, &bs, truth.data(), sc.data(), &err);
    cairn_index_free(flat);
    f.ours = run_point(c, cairn_fn(c, ix, false, &bs), r.ours.param, nq, 1, &truth);
    f.build = r.build;
    f.mem = r.mem;
    for (double sel : {0.1, 0.5}) {
      std::vector<uint8_t> b2((n + 7) / 8, 0);
      for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        if ((double)(s >> 33) / 2147483648.0 < sel)
          b2[i / 8] |= (uint8_t)(1u << (i % 8));
      }
      cairn_bitset bs2{b2.data(), n};
      cairn_index *fl = cairn_build(c, "FLAT", nullptr, &b, &m);
      cairn_index_search(fl, nq, c.query.f.data(), 10, nullptr, &bs2, truth.data(), sc.data(), &err);
      cairn_index_free(fl);
      Point p = run_point(c, cairn_fn(c, ix, false, &bs2), r.ours.param, nq, 1, &truth);
      char note[120];
      snprintf(note, sizeof note, "%srecall_at_%.0f%%=%.3f qps_at_%.0f%%=%.0f",
               f.note.empty() ? "" : " ", sel * 100, p.recall, sel * 100, p.qps);
      f.note += note;
    }
    emit(c, f);
  }
  cairn_index_free(ix);
}

static void run_faiss_hnsw(Ctx &c) {
  Row r{"HNSW", "faiss-IndexHNSWFlat"};
  char params[100];
  snprintf(params, sizeof params, "{\"M\": %d, \"efConstruction\": %d}", HNSW_M, HNSW_EFC);
  // reuse ours from the hnswlib row
  for (auto &x : rows)
    if (x.index == "HNSW" && x.peer == "hnswlib") {
      r.ours = x.ours;
      r.build = x.build;
      r.mem = x.mem;
      r.qps_all = x.qps_all;
    }
  omp_set_num_threads(ncores());
  double m0 = rss_mb();
  auto t0 = clk::now();
  faiss::IndexHNSWFlat h((int)c.base.d, HNSW_M,
                         c.cosine ? faiss::METRIC_INNER_PRODUCT : faiss::METRIC_L2);
  h.hnsw.efConstruction = HNSW_EFC;
  h.add((fidx)c.base.n, c.peer_base());
  r.peer_build = secs(t0);
  r.peer_mem = rss_mb() - m0;
  omp_set_num_threads(1);
  auto fn = [&](size_t q, int ef, int64_t *out) {
    float D[10];
    fidx I[10];
    h.hnsw.efSearch = ef; // (1.7.3 ignores SearchParametersHNSW for IP)
    h.search(1, c.peer_query() + q * c.query.d, 10, D, I);
    for (int j = 0; j < 10; j++)
      out[j] = I[j];
  };
  r.theirs = sweep(c, fn, ef_sweep, "faiss HNSW");
  emit(c, r);
}

static void run_ivf(Ctx &c, const char *type, int nlist, int m) {
  Row r{type, ""};
  char params[120];
  snprintf(params, sizeof params, "{\"nlist\": %d, \"m\": %d, \"nbits\": 8}", nlist, m);
  cairn_index *ix = cairn_build(c, type, params, &r.build, &r.mem);
  auto fn = cairn_fn(c, ix, true);
  faiss::MetricType mt = c.cosine ? faiss::METRIC_INNER_PRODUCT : faiss::METRIC_L2;
  omp_set_num_threads(ncores());
  double m0 = rss_mb();
  auto t0 = clk::now();
  faiss::IndexFlat *quant = new faiss::IndexFlat((fidx)c.base.d, mt);
  faiss::IndexIVF *ivf;
  std::string t = type;
  if (t == "IVF_FLAT") {
    ivf = new faiss::IndexIVFFlat(quant, c.base.d, nlist, mt);
    r.peer = "faiss-IndexIVFFlat";
  } else if (t == "IVF_SQ8") {
    ivf = new faiss::IndexIVFScalarQuantizer(quant, c.base.d, nlist,
                                             faiss::ScalarQuantizer::QT_8bit, mt, false);
    r.peer = "faiss-IndexIVFScalarQuantizer-QT_8bit";
  } else {
    auto *pq = new faiss::IndexIVFPQ(quant, c.base.d, nlist, m, 8, mt);
    pq->pq.cp.niter = 10;
    pq->pq.cp.max_points_per_centroid = 128;
    ivf = pq;
    r.peer = "faiss-IndexIVFPQ";
  }
  ivf->own_fields = true;
  ivf->cp.niter = 10;
  // FAISS's k-means goes through BLAS (Debian's reference libblas here):
  // with its default 256 rows per centroid training alone takes minutes,
  // so it samples 64 per centroid (Cairn samples 256; see the report).
  ivf->cp.max_points_per_centroid = 64;
  ivf->train((fidx)c.base.n, c.peer_base());
  ivf->add((fidx)c.base.n, c.peer_base());
  r.peer_build = secs(t0);
  r.peer_mem = rss_mb() - m0;
  omp_set_num_threads(1);
  auto ffn = [&](size_t q, int np, int64_t *out) {
    float D[10];
    fidx I[10];
    faiss::SearchParametersIVF sp;
    sp.nprobe = (size_t)np;
    ivf->search(1, c.peer_query() + q * c.query.d, 10, D, I, &sp);
    for (int j = 0; j < 10; j++)
      out[j] = I[j];
  };
  if (t == "IVF_PQ") {
    // PQ does not reach 0.95: compare at equal nprobe
    int np = 32;
    r.ours = run_point(c, fn, np, c.nq_sweep, 1);
    r.theirs = run_point(c, ffn, np, c.nq_sweep, 1);
    r.note = "equal_nprobe m=" + std::to_string(m) + " nbits=8";
  } else {
    // equal nprobe: the lowest where ours reaches 0.95, same for the peer
    r.ours = sweep(c, fn, np_sweep, (std::string("cairn ") + type).c_str());
    r.theirs = run_point(c, ffn, r.ours.param, c.nq_sweep, 1);
    r.note = "equal_nprobe";
  }
  r.note += " nlist=" + std::to_string(nlist) +
            " cairn_index_memory_mb=" + std::to_string(cairn_index_memory(ix) / 1048576.0);
  r.qps_all = run_point(c, fn, r.ours.param, c.nq_sweep, ncores()).qps;
  emit(c, r);
  delete ivf;
  cairn_index_free(ix);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s DATASET_PREFIX\n", argv[0]);
    return 2;
  }
  Ctx c;
  std::string prefix = argv[1];
  c.name = prefix.substr(prefix.find_last_of('/') + 1);
  c.cosine = c.name.find("angular") != std::string::npos;
  if (!load_any(prefix, "base", c.base) || !load_any(prefix, "query", c.query) ||
      !load_vecs(prefix + "_groundtruth.ivecs", 2, c.gt)) {
    fprintf(stderr, "cannot load dataset %s\n", prefix.c_str());
    return 1;
  }
  if (const char *q = getenv("CAIRN_BENCH_QUERIES"))
    c.nq_sweep = (size_t)atol(q);
  c.nq_sweep = std::min(c.nq_sweep, c.query.n);
  if (c.cosine) {
    c.base_n = c.base.f;
    c.query_n = c.query.f;
    for (size_t i = 0; i < c.base.n; i++)
      cairn_normalize_f32(&c.base_n[i * c.base.d], c.base.d);
    for (size_t i = 0; i < c.query.n; i++)
      cairn_normalize_f32(&c.query_n[i * c.query.d], c.query.d);
  }
  double bw = measure_bandwidth_gbs();
  printf("dataset %s: base %zu x %zu, queries %zu, metric %s, kernels %s, cores %d, "
         "single-thread read bandwidth %.2f GB/s, sweep queries %zu\n",
         c.name.c_str(), c.base.n, c.base.d, c.query.n, c.cosine ? "COSINE" : "L2",
         cairn_kernels_get()->name, ncores(), bw, c.nq_sweep);
  fflush(stdout);
  size_t n = c.base.n;
  int nlist = n >= 200000 ? 1024 : 512;
  int m = c.base.d % 4 == 0 ? (int)c.base.d / 4 : (int)c.base.d / 2;
  if (c.base.d > 256)
    m = (int)c.base.d / 16; // fashion-mnist 784 -> 49 sub-quantisers of 16
  if (!skipped("flat"))
    run_flat(c, bw);
  if (!skipped("hnsw"))
    run_hnsw(c);
  if (!skipped("faiss-hnsw") && !skipped("hnsw"))
    run_faiss_hnsw(c);
  if (!skipped("ivf")) {
    run_ivf(c, "IVF_FLAT", nlist, m);
    run_ivf(c, "IVF_SQ8", nlist, m);
    run_ivf(c, "IVF_PQ", nlist, m);
  }
  printf("\n| index | peer | recall@10 | QPS (1 thr) | peer recall | peer QPS | ratio | "
         "QPS all cores | peer QPS all cores | build s | peer build s | mem MB | peer mem MB |\n");
  printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (auto &r : rows)
    printf("| %s | %s | %.3f | %.0f | %.3f | %.0f | %.2f | %.0f | %.0f | %.2f | %.2f | %.1f | %.1f |\n",
           r.index.c_str(), r.peer.c_str(), r.ours.recall, r.ours.qps, r.theirs.recall,
           r.theirs.qps, r.theirs.qps > 0 ? r.ours.qps / r.theirs.qps : 0.0, r.qps_all,
           r.peer_qps_all, r.build, r.peer_build, r.mem, r.peer_mem);
  return 0;
}
