// datahelpers.mjs: deterministic data and exact answers for the data-path
// tests (data-*.test.mjs, crash.test.mjs).
//
// What it holds:
//   - mulberry32(seed): a seeded PRNG (uint32 state, returns [0,1)); every
//     random choice of the data tests goes through one, so a failure
//     reproduces with the same seed.
//   - Vectors as plain arrays of float32-representable numbers (fround), so
//     the values the server stores are exactly the values the test computes
//     with. Binary vectors are arrays of dim/8 bytes (the SDK's form), sparse
//     vectors objects {index: value}, float16 vectors float32 arrays whose
//     values are exactly representable in float16 (the SDK converts them).
//   - Brute force: exact top-k for L2 (squared distance, ascending), IP (dot
//     product, descending) and COSINE (similarity, descending), computed in
//     float64 over the float32 inputs; recall@k; a checker that accepts a
//     server top-k when it is a correct one up to ties within a tolerance.
//   - Row builders for every field type, used by the insert tests.
//
// Nothing here talks to the server, except the few small wrappers at the end
// (waitLoaded, waitIndexed, flushAndWait, queryAll) that poll through the SDK.
import assert from 'node:assert/strict';
import { ok, sleep, within, raw } from './harness.mjs';

/** Seeded PRNG: mulberry32. Returns a function giving floats in [0, 1). */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return function rand() {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [lo, hi) from rand. */
export function randInt(rand, lo, hi) {
  return lo + Math.floor(rand() * (hi - lo));
}

/** One element of arr, chosen by rand. */
export function pick(rand, arr) {
  return arr[Math.floor(rand() * arr.length)];
}

/** A standard normal sample (Box-Muller). */
export function gauss(rand) {
  let u = 0;
  while (u === 0) u = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/** A float vector of dim components in [-1, 1), float32-exact. */
export function randomVector(rand, dim) {
  const v = new Array(dim);
  for (let i = 0; i < dim; i++) v[i] = Math.fround(rand() * 2 - 1);
  return v;
}

/** n random float vectors. */
export function randomVectors(rand, n, dim) {
  return Array.from({ length: n }, () => randomVector(rand, dim));
}

/**
 * n vectors drawn around `clusters` random centres (gaussian noise of
 * `spread`): data with structure, closer to real embeddings than uniform
 * noise (on which no ANN index does well in high dimensions).
 */
export function clusteredVectors(rand, n, dim, { clusters = 32, spread = 0.35 } = {}) {
  const centres = randomVectors(rand, clusters, dim);
  return Array.from({ length: n }, () => {
    const c = centres[Math.floor(rand() * clusters)];
    return c.map(x => Math.fround(x + gauss(rand) * spread));
  });
}

/** A float vector whose components are exactly representable in float16 and bfloat16 (multiples of 1/64 in [-1, 1]). */
export function randomF16Vector(rand, dim) {
  return Array.from({ length: dim }, () => randInt(rand, -64, 65) / 64);
}

/** A binary vector of dim bits, as dim/8 bytes (0..255): the SDK's input form. */
export function randomBinaryVector(rand, dim) {
  return Array.from({ length: dim / 8 }, () => randInt(rand, 0, 256));
}

/** A sparse vector {index: value} with nnz distinct indices below maxIndex and positive values. */
export function randomSparseVector(rand, nnz = 6, maxIndex = 1000) {
  const out = {};
  while (Object.keys(out).length < nnz) out[randInt(rand, 0, maxIndex)] = Math.fround(rand() + 0.01);
  return out;
}

// ---- metrics ----

export function dot(a, b) {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function l2sq(a, b) {
  let s = 0;
  for (let i = 0; i < a.length; i++) { const d = a[i] - b[i]; s += d * d; }
  return s;
}

export function cosine(a, b) {
  const na = Math.sqrt(dot(a, a));
  const nb = Math.sqrt(dot(b, b));
  if (na === 0 || nb === 0) return 0;
  return dot(a, b) / (na * nb);
}

/** Sparse inner product of two {index: value} objects. */
export function sparseDot(a, b) {
  let s = 0;
  for (const k of Object.keys(a)) if (k in b) s += a[k] * b[k];
  return s;
}

/** Hamming distance between two byte arrays. */
export function hamming(a, b) {
  let s = 0;
  for (let i = 0; i < a.length; i++) { let x = (a[i] ^ b[i]) & 0xff; while (x) { s += x & 1; x >>= 1; } }
  return s;
}

/** score(metric, a, b) as Milvus reports it. */
export function score(metric, a, b) {
  switch (metric) {
    case 'L2': return l2sq(a, b);
    case 'IP': return dot(a, b);
    case 'COSINE': return cosine(a, b);
    default: throw new Error(`unknown metric ${metric}`);
  }
}

/** True when a smaller score is better (L2 and the binary distances). */
export function ascending(metric) {
  return metric === 'L2' || metric === 'HAMMING' || metric === 'JACCARD';
}

/**
 * Exact top-k: rows is [{id, vec, ...}], keep(row) an optional filter.
 * Returns [{id, score}] best first (ties broken by id, as a stable order).
 */
export function bruteForce(rows, query, k, metric, keep = null, scoreFn = null) {
  const f = scoreFn || ((a, b) => score(metric, a, b));
  const all = [];
  for (const r of rows) {
    if (keep && !keep(r)) continue;
    all.push({ id: r.id, score: f(query, r.vec) });
  }
  const asc = ascending(metric);
  all.sort((x, y) => (asc ? x.score - y.score : y.score - x.score) || (String(x.id) < String(y.id) ? -1 : 1));
  return k === Infinity ? all : all.slice(0, k);
}

/** Fraction of the expected ids found in got (both arrays of ids or of {id}). */
export function recallAtK(got, expected) {
  const ids = x => (x && typeof x === 'object' ? String(x.id) : String(x));
  const g = new Set(got.map(ids));
  if (expected.length === 0) return 1;
  let hit = 0;
  for (const e of expected) if (g.has(ids(e))) hit++;
  return hit / expected.length;
}

/** |a - b| within tol, relative to the magnitude for large values. */
export function close(a, b, tol = 1e-4) {
  return Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b));
}

/**
 * Asserts that hits (the SDK's [{id, score}], best first) are a correct exact
 * top-k against expected (bruteForce's answer), up to ties: same length, the
 * i-th score equals the i-th expected score within tol, every id is distinct,
 * and every returned id's true score (from truth: Map id -> score) equals the
 * score the server reported. When no two expected scores are within tol of
 * each other, this is the same as comparing ids in order.
 */
export function assertExactTopK(hits, expected, truth, { tol = 1e-4, what = 'search' } = {}) {
  assert.equal(hits.length, expected.length, `${what}: ${hits.length} hits, expected ${expected.length}`);
  const seen = new Set();
  for (let i = 0; i < hits.length; i++) {
    const h = hits[i];
    const id = String(h.id);
    assert.ok(!seen.has(id), `${what}: id ${id} returned twice`);
    seen.add(id);
    assert.ok(close(Number(h.score), expected[i].score, tol),
      `${what}: hit ${i} score ${h.score}, expected ${expected[i].score} (id ${expected[i].id}, got id ${id})`);
    assert.ok(truth.has(id), `${what}: hit ${i} id ${id} is not a row that qualifies`);
    assert.ok(close(Number(h.score), truth.get(id), tol),
      `${what}: hit ${i} id ${id} reported score ${h.score}, its true score is ${truth.get(id)}`);
  }
}

/** Map id (string) -> true score of every row that passes keep. */
export function truthMap(rows, query, metric, keep = null, scoreFn = null) {
  const f = scoreFn || ((a, b) => score(metric, a, b));
  const m = new Map();
  for (const r of rows) if (!keep || keep(r)) m.set(String(r.id), f(query, r.vec));
  return m;
}

/** Asserts scores are ordered best first for the metric. */
export function assertOrdered(hits, metric, what = 'search') {
  for (let i = 1; i < hits.length; i++) {
    const a = Number(hits[i - 1].score);
    const b = Number(hits[i].score);
    const okOrder = ascending(metric) ? a <= b + 1e-6 : a >= b - 1e-6;
    assert.ok(okOrder, `${what}: scores out of order at ${i}: ${a} then ${b} (${metric})`);
  }
}

// ---- row builders ----

export const CATEGORIES = ['tech', 'science', 'sports', 'art'];

/**
 * Rows for a collection with every scalar type. i is the row number; the
 * values are a function of (rand, i) so a test can recompute them.
 */
export function fullRow(rand, i, { dim = 8, binDim = 32, f16Dim = 8, withPk = true } = {}) {
  const row = {
    bool: i % 3 === 0,
    i8: (i % 200) - 100,
    i16: (i * 7) % 30000 - 15000,
    i32: i * 1000 - 7,
    i64: String(BigInt(i) * 10000000000n + 3n),
    f: Math.fround(i / 4),
    d: i / 3,
    s: `str_${i}_${'x'.repeat(i % 5)}`,
    j: { n: i, tag: pick(rand, ['a', 'b', 'c']), nested: { ok: i % 2 === 0, list: [i, i + 1] } },
    arr_i: Array.from({ length: i % 4 }, (_, k) => i + k),
    arr_s: Array.from({ length: (i % 3) + 1 }, (_, k) => `e${i}_${k}`),
    vec: randomVector(rand, dim),
    bin: randomBinaryVector(rand, binDim),
    f16: randomF16Vector(rand, f16Dim),
    sparse: randomSparseVector(rand, 4, 500),
  };
  if (withPk) row.id = i;
  return row;
}

/** The schema matching fullRow. */
export function fullFields(DataType, { dim = 8, binDim = 32, f16Dim = 8, autoID = false } = {}) {
  return [
    { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID },
    { name: 'bool', data_type: DataType.Bool },
    { name: 'i8', data_type: DataType.Int8 },
    { name: 'i16', data_type: DataType.Int16 },
    { name: 'i32', data_type: DataType.Int32 },
    { name: 'i64', data_type: DataType.Int64 },
    { name: 'f', data_type: DataType.Float },
    { name: 'd', data_type: DataType.Double },
    { name: 's', data_type: DataType.VarChar, max_length: 64 },
    { name: 'j', data_type: DataType.JSON },
    { name: 'arr_i', data_type: DataType.Array, element_type: DataType.Int32, max_capacity: 8 },
    { name: 'arr_s', data_type: DataType.Array, element_type: DataType.VarChar, max_capacity: 8, max_length: 32 },
    { name: 'vec', data_type: DataType.FloatVector, dim },
    { name: 'bin', data_type: DataType.BinaryVector, dim: binDim },
    { name: 'f16', data_type: DataType.Float16Vector, dim: f16Dim },
    { name: 'sparse', data_type: DataType.SparseFloatVector },
  ];
}

/** Indexes that let a fullFields collection load (one per vector field). */
export async function indexFull(c, collection_name, metric = 'L2') {
  ok(await c.createIndex({ collection_name, field_name: 'vec', index_type: 'FLAT', metric_type: metric }), 'index vec');
  ok(await c.createIndex({ collection_name, field_name: 'bin', index_type: 'BIN_FLAT', metric_type: 'HAMMING' }), 'index bin');
  ok(await c.createIndex({ collection_name, field_name: 'f16', index_type: 'FLAT', metric_type: 'L2' }), 'index f16');
  ok(await c.createIndex({ collection_name, field_name: 'sparse', index_type: 'SPARSE_INVERTED_INDEX', metric_type: 'IP' }), 'index sparse');
}

// ---- server-side waits ----

/** Polls GetLoadState until Loaded (the server reloads by itself after a restart). */
export async function waitLoaded(c, collection_name, ms = 30000, extra = {}) {
  const t0 = Date.now();
  let last;
  while (Date.now() - t0 < ms) {
    last = await c.getLoadState({ collection_name, ...extra });
    if (last.status?.error_code === 'Success' && last.state === 'LoadStateLoaded') return Date.now() - t0;
    await sleep(50);
  }
  throw new Error(`${collection_name} not Loaded within ${ms} ms: ${JSON.stringify(last)}`);
}

/** loadCollection with a bound (the SDK's polls forever). */
export async function load(c, collection_name, ms = 60000) {
  ok(await within(c.loadCollection({ collection_name }), ms, `load ${collection_name}`), `load ${collection_name}`);
}

/** Flush and poll GetFlushState until flushed (the SDK's flushSync, bounded). */
export async function flushAndWait(c, collection_name, ms = 60000) {
  const r = ok(await c.flush({ collection_names: [collection_name] }), `flush ${collection_name}`);
  const segIDs = Object.values(r.coll_segIDs || {}).flatMap(v => v.data || []);
  const t0 = Date.now();
  let st;
  while (Date.now() - t0 < ms) {
    st = ok(await c.getFlushState({ segmentIDs: segIDs }), 'GetFlushState');
    if (st.flushed) return { segIDs, reply: r, ms: Date.now() - t0 };
    await sleep(50);
  }
  throw new Error(`flush of ${collection_name} not done within ${ms} ms: ${JSON.stringify(st)}`);
}

/** Polls DescribeIndex until indexed_rows == total_rows and state Finished for every index of the collection. */
export async function waitIndexed(c, collection_name, ms = 90000, minRows = 0) {
  const t0 = Date.now();
  let last;
  while (Date.now() - t0 < ms) {
    last = await c.describeIndex({ collection_name });
    if (last.status?.error_code === 'Success' && last.index_descriptions.every(d =>
      d.state === 'Finished' && Number(d.indexed_rows) === Number(d.total_rows) && Number(d.total_rows) >= minRows)) {
      return Date.now() - t0;
    }
    await sleep(100);
  }
  throw new Error(`indexes of ${collection_name} not built within ${ms} ms: ${JSON.stringify(last)}`);
}

/** count(*) through the SDK, with an optional filter. */
export async function count(c, collection_name, filter = '', extra = {}) {
  const r = await c.count({ collection_name, filter, ...extra });
  ok(r, `count ${collection_name} ${filter}`);
  return r.data;
}

/** Query every row matching filter, paging by pk order is not assumed: one call with a big limit. */
export async function queryAll(c, collection_name, filter, output_fields, extra = {}) {
  const r = await c.query({ collection_name, filter, output_fields, limit: 16384, ...extra });
  ok(r, `query ${collection_name} ${filter}`);
  return r.data;
}

/** A dynamic key of a query row: Node puts requested dynamic keys under $meta. */
export function dyn(row, key) {
  if (key in row) return row[key];
  if (row.$meta && typeof row.$meta === 'object') return row.$meta[key];
  return undefined;
}

export { raw };

/**
 * SIGKILL the server at once, without closing the client first (so a call
 * in flight is cut by the kill, not by the client), then wait for the exit
 * and close the client. srv.spawn() starts it again on the same data dir.
 */
export async function killNow(srv) {
  if (srv.running) {
    srv.expectExit = true;
    srv.proc.kill('SIGKILL');
    await srv.exitPromise;
  }
  await srv.closeClient();
}
