// data-search.test.mjs: the read side of the data path through the official
// SDK against `cairn standalone`, every answer compared with an exact
// brute-force computation over the rows the test inserted (FLAT indexes, so
// the server must be exact: recall 1.0, scores within 1e-4).
//
// The shared collection `sv` holds 2000 seeded rows (16-d, L2, FLAT): half
// flushed (sealed) and half growing, spread over two partitions, with a
// VarChar `cat`, an Int64 `n` and a dynamic `color`. Covered: nq > 1, topk
// sizes, offset paging consistent with a larger topk, filters of several
// selectivities (including none and all), partition_names, range search
// (radius / range_filter), group_by_field, output_fields "*" and dynamic keys,
// consistency levels (Strong / Session read their writes, Bounded /
// Eventually within seconds), ignore_growing before and after a flush,
// metric mismatch, a 3-shard collection with a partition key;
// HybridSearch with the RRF and weighted rankers over two vector fields;
// Query (filter, limit/offset paging, output fields, count(*) with and
// without a filter, empty expression rules); search and query before load
// (code 101).
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, serverTest, ok, fails, uniq, E, DataType, call, sdk, sleep } from './harness.mjs';
import {
  mulberry32, randomVector, bruteForce, truthMap, assertExactTopK, assertOrdered, load, flushAndWait, count,
  queryAll, dyn, l2sq, cosine,
} from './datahelpers.mjs';

let srv;
const SV = 'sv_shared';
const DIM = 16;
const N = 2000;
const CATS = ['a', 'b', 'c', 'd'];
const COLORS = ['red', 'green', 'blue', 'black', 'white'];
let rows = []; // {id, vec, cat, n, color, part}
let queries = [];

before(async () => {
  srv = await startServer();
  const c = srv.client;
  const rand = mulberry32(2024);
  rows = Array.from({ length: N }, (_, i) => ({
    id: i, vec: randomVector(rand, DIM), cat: CATS[Math.floor(rand() * 4)], n: i, color: COLORS[i % 5], part: i % 2 ? 'p_odd' : 'p_even',
  }));
  queries = Array.from({ length: 8 }, () => randomVector(rand, DIM));
  ok(await call(c.createCollection({
    collection_name: SV,
    enable_dynamic_field: true,
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'vec', data_type: DataType.FloatVector, dim: DIM },
      { name: 'cat', data_type: DataType.VarChar, max_length: 8 },
      { name: 'n', data_type: DataType.Int64 },
    ],
  })), 'create sv');
  for (const p of ['p_even', 'p_odd']) ok(await c.createPartition({ collection_name: SV, partition_name: p }));
  ok(await c.createIndex({ collection_name: SV, field_name: 'vec', index_type: 'FLAT', metric_type: 'L2' }));
  const put = async (from, to) => {
    for (const p of ['p_even', 'p_odd']) {
      const data = rows.slice(from, to).filter(r => r.part === p).map(({ part, ...r }) => r);
      ok(await c.insert({ collection_name: SV, partition_name: p, data }), `insert ${from}..${to} ${p}`);
    }
  };
  await put(0, N / 2);
  await flushAndWait(c, SV);
  await put(N / 2, N);
  await load(c, SV);
});
after(async () => { await srv?.finish(); });
const t = (name, fn, opts) => serverTest(() => srv, name, fn, opts);

// No output fields unless a test asks: hits carry the pk and the score.
const search = (extra) => srv.client.search({ collection_name: SV, output_fields: [], ...extra });

/** One query, compared exactly with brute force over the rows passing keep. */
async function exact(q, k, keep, extra = {}, what = 'search', pool = rows) {
  const res = ok(await search({ data: q, limit: k, ...extra }), what);
  const exp = bruteForce(pool, q, k, 'L2', keep);
  assertExactTopK(res.results, exp, truthMap(pool, q, 'L2', keep), { what });
  assertOrdered(res.results, 'L2', what);
  return res.results;
}

t('nq > 1 and several topk: every query exact', async () => {
  const res = ok(await search({ data: queries.slice(0, 4), limit: 10 }), 'nq=4');
  assert.equal(res.results.length, 4, 'one result list per query');
  for (let i = 0; i < 4; i++) {
    const exp = bruteForce(rows, queries[i], 10, 'L2');
    assertExactTopK(res.results[i], exp, truthMap(rows, queries[i], 'L2'), { what: `nq=4 query ${i}` });
  }
  for (const k of [1, 7, 100, 1000]) await exact(queries[4], k, null, {}, `topk ${k}`);
  // topk above the number of rows: every row, once.
  const all = ok(await search({ data: queries[5], limit: 3000, output_fields: [] }));
  assert.equal(all.results.length, N);
  assert.equal(new Set(all.results.map(h => String(h.id))).size, N);
});

t('offset paging agrees with a larger topk', async () => {
  for (const q of queries.slice(0, 3)) {
    const full = ok(await search({ data: q, limit: 30 })).results;
    for (const [offset, limit] of [[0, 10], [10, 10], [20, 10], [5, 7], [29, 1]]) {
      const page = ok(await search({ data: q, limit, offset })).results;
      assert.deepEqual(page.map(h => String(h.id)), full.slice(offset, offset + limit).map(h => String(h.id)), `offset ${offset} limit ${limit}`);
    }
    const past = ok(await search({ data: q, limit: 10, offset: N - 3 })).results;
    assert.equal(past.length, 3, 'a page past the end holds what is left');
  }
});

t('filters of several selectivities are exact', async () => {
  const filters = [
    ['n < 20', r => r.n < 20],
    ['n >= 500 and n < 1500', r => r.n >= 500 && r.n < 1500],
    ['cat in ["a", "b"]', r => r.cat === 'a' || r.cat === 'b'],
    ['cat != "a"', r => r.cat !== 'a'],
    ['not (cat == "c") and n % 7 == 0', r => r.cat !== 'c' && r.n % 7 === 0],
    ['color == "red"', r => r.color === 'red'],
    ['n > 1990', r => r.n > 1990],
    ['n >= 0', null],
  ];
  for (const [expr, keep] of filters) {
    for (const q of queries.slice(0, 3)) {
      const hits = await exact(q, 10, keep, { filter: expr }, `filter ${expr}`);
      const fn = keep || (() => true);
      for (const h of hits) assert.ok(fn(rows[Number(h.id)]), `${expr}: hit ${h.id} does not qualify`);
    }
  }
  // Fewer matches than topk: all of them. None: an empty list.
  const few = ok(await search({ data: queries[0], limit: 10, filter: 'n in [3, 1500, 1999]' })).results;
  assert.deepEqual(few.map(h => Number(h.id)).sort((a, b) => a - b), [3, 1500, 1999]);
  const none = ok(await search({ data: queries[0], limit: 10, filter: 'n < 0' }));
  assert.deepEqual(none.results, []);
  // A template value filter (expr_template_values).
  await exact(queries[1], 10, r => r.n < 300, { filter: 'n < {lim}', exprValues: { lim: 300 } }, 'template filter');
  // A bad filter is IllegalArgument.
  fails(await search({ data: queries[0], limit: 10, filter: 'n <<< 3' }), E.INVALID, 'bad filter');
  fails(await search({ data: queries[0], limit: 10, filter: 'nosuchfield_x > 3 and n < ' }), E.INVALID, 'bad filter 2');
});

t('partition_names restricts the search to those partitions', async () => {
  for (const q of queries.slice(0, 3)) {
    await exact(q, 10, r => r.part === 'p_even', { partition_names: ['p_even'] }, 'p_even');
    await exact(q, 10, r => r.part === 'p_odd' && r.cat === 'b', { partition_names: ['p_odd'], filter: 'cat == "b"' }, 'p_odd + filter');
    await exact(q, 10, null, { partition_names: ['p_even', 'p_odd'] }, 'both');
  }
  const empty = ok(await search({ data: queries[0], limit: 10, partition_names: ['_default'] }));
  assert.deepEqual(empty.results, [], '_default holds no rows');
  fails(await search({ data: queries[0], limit: 10, partition_names: ['nope'] }), E.PARTITION_NOT_FOUND, 'missing partition');
});

t('range search: radius and range_filter (L2: range_filter <= d < radius)', async () => {
  for (const q of queries.slice(0, 3)) {
    const ranked = bruteForce(rows, q, 40, 'L2');
    const radius = (ranked[30].score + ranked[31].score) / 2;
    const rangeFilter = (ranked[4].score + ranked[5].score) / 2;
    const res = ok(await search({ data: q, limit: 100, params: { radius, range_filter: rangeFilter } }), 'range');
    const want = ranked.filter(e => e.score >= rangeFilter && e.score < radius);
    assert.equal(want.length, 26);
    assert.deepEqual(res.results.map(h => String(h.id)), want.map(e => String(e.id)), 'range hits');
    for (const h of res.results) assert.ok(h.score >= rangeFilter - 1e-5 && h.score < radius + 1e-5);
    // radius only.
    const r2 = ok(await search({ data: q, limit: 100, params: { radius } })).results;
    assert.deepEqual(r2.map(h => String(h.id)), ranked.slice(0, 31).map(e => String(e.id)), 'radius only');
    // limit still applies.
    const r3 = ok(await search({ data: q, limit: 10, params: { radius } })).results;
    assert.deepEqual(r3.map(h => String(h.id)), ranked.slice(0, 10).map(e => String(e.id)), 'radius with a smaller limit');
  }
});

t('group_by_field: one best hit per group, groups ranked by their best hit', async () => {
  for (const q of queries.slice(0, 3)) {
    const ranked = bruteForce(rows, q, Infinity, 'L2');
    const byCat = new Map();
    for (const e of ranked) if (!byCat.has(rows[e.id].cat)) byCat.set(rows[e.id].cat, e);
    const want = [...byCat.values()].slice(0, 3);
    const res = ok(await search({ data: q, limit: 3, group_by_field: 'cat', output_fields: ['cat'] }), 'group by cat');
    assert.deepEqual(res.results.map(h => String(h.id)), want.map(e => String(e.id)), 'group leaders');
    assert.equal(new Set(res.results.map(h => h.cat)).size, 3, 'one hit per group');
  }
});

t('group_by_field with group_size 2: limit groups of group_size hits each', async () => {
  for (const q of queries.slice(0, 3)) {
    const ranked = bruteForce(rows, q, Infinity, 'L2');
    const res2 = ok(await search({ data: q, limit: 2, group_by_field: 'cat', group_size: 2, strict_group_size: true, output_fields: ['cat'] }), 'group_size 2');
    const perCat = {};
    for (const h of res2.results) perCat[h.cat] = (perCat[h.cat] || 0) + 1;
    assert.equal(res2.results.length, 4, `2 groups of 2: ${JSON.stringify(perCat)}`);
    for (const [cat, k] of Object.entries(perCat)) {
      assert.equal(k, 2, `group ${cat}`);
      const best2 = ranked.filter(e => rows[e.id].cat === cat).slice(0, 2).map(e => String(e.id)).sort();
      assert.deepEqual(res2.results.filter(h => h.cat === cat).map(h => String(h.id)).sort(), best2, `best two of ${cat}`);
    }
  }
});

t('output_fields: "*" returns every fixed field with its value, dynamic keys by name, pk always present', async () => {
  const q = rows[123].vec;
  const star = ok(await search({ data: q, limit: 3, output_fields: ['*'] })).results;
  assert.equal(String(star[0].id), '123');
  for (const h of star) {
    const r = rows[Number(h.id)];
    assert.deepEqual(h.vec, r.vec, '"*" includes the vector');
    assert.equal(h.cat, r.cat);
    assert.equal(String(h.n), String(r.n));
  }
  const named = ok(await search({ data: q, limit: 3, output_fields: ['color', 'cat'] })).results;
  for (const h of named) {
    assert.equal(h.color, rows[Number(h.id)].color);
    assert.equal(h.cat, rows[Number(h.id)].cat);
    assert.ok(!('vec' in h) && !('n' in h), 'only what was asked (and the pk)');
  }
  const bare = ok(await search({ data: q, limit: 3, output_fields: [] })).results;
  for (const h of bare) assert.ok('id' in h && 'score' in h, 'pk and score always');
});

t('output_fields "*" on a dynamic collection returns the dynamic keys too', async () => {
  const q = rows[321].vec;
  const star = ok(await search({ data: q, limit: 5, output_fields: ['*'] })).results;
  assert.equal(String(star[0].id), '321');
  for (const h of star) assert.equal(dyn(h, 'color'), rows[Number(h.id)].color, `hit ${h.id}: "*" includes the dynamic key color`);
});

t('consistency levels: Strong and Session read their writes at once; Bounded and Eventually within seconds', async () => {
  const c = srv.client;
  const rand = mulberry32(77);
  let id = 100000;
  for (const level of ['Strong', 'Session', 'Bounded', 'Eventually']) {
    const vec = randomVector(rand, DIM).map(x => Math.fround(x * 5)); // far from the other rows
    ok(await c.insert({ collection_name: SV, data: [{ id, vec, cat: 'z', n: id, color: 'new' }] }), `insert for ${level}`);
    const found = async () => {
      const r = ok(await c.search({ collection_name: SV, data: vec, limit: 1, consistency_level: level, output_fields: [] }), `search ${level}`);
      return r.results.length === 1 && Number(r.results[0].id) === id && r.results[0].score < 1e-5;
    };
    if (level === 'Eventually' || level === 'Bounded') {
      // Milvus promises these only within its staleness bound (Cairn's
      // Bounded happens to read its writes at once; not asserted).
      const t0 = Date.now();
      while (!(await found())) {
        assert.ok(Date.now() - t0 < 5000, `${level}: the write is visible within 5 s`);
        await sleep(50);
      }
    } else {
      assert.ok(await found(), `${level}: the row just inserted is found by the next search`);
      const q = ok(await c.query({ collection_name: SV, filter: `id == ${id}`, output_fields: ['cat'], consistency_level: level }));
      assert.equal(q.data.length, 1, `${level}: query finds it`);
    }
    ok(await c.delete({ collection_name: SV, ids: [id] }));
    const q2 = ok(await c.query({ collection_name: SV, filter: `id == ${id}`, output_fields: ['cat'], consistency_level: 'Strong' }));
    assert.equal(q2.data.length, 0, `${level}: delete visible to a Strong query`);
    id++;
  }
  assert.equal(await count(c, SV, '', {}), N);
});

t('metric mismatch is IllegalArgument; search and query on a collection that is not loaded are code 101', async () => {
  fails(await search({ data: queries[0], limit: 5, metric_type: 'IP' }), E.INVALID, 'metric IP on an L2 index');
  ok(await search({ data: queries[0], limit: 5, metric_type: 'L2' }), 'the index metric, named');
  fails(await search({ data: queries[0].slice(0, DIM - 1), limit: 5 }), E.INVALID, 'query vector of the wrong dim');
  const c = srv.client;
  const name = uniq('unloaded');
  ok(await call(c.createCollection({ collection_name: name, fields: [
    { name: 'id', data_type: DataType.Int64, is_primary_key: true }, { name: 'vec', data_type: DataType.FloatVector, dim: 4 }] })));
  ok(await c.createIndex({ collection_name: name, field_name: 'vec', index_type: 'FLAT', metric_type: 'L2' }));
  ok(await c.insert({ collection_name: name, data: [{ id: 1, vec: [1, 2, 3, 4] }] }));
  fails(await c.search({ collection_name: name, data: [1, 2, 3, 4], limit: 1 }), { code: 101 }, 'search before load');
  fails(await c.query({ collection_name: name, filter: 'id > 0' }).then(r => r, e => ({ status: { error_code: 'thrown', code: 101, reason: String(e) } })), { code: 101 }, 'query before load');
  await load(c, name);
  assert.equal(ok(await c.search({ collection_name: name, data: [1, 2, 3, 4], limit: 1, output_fields: [] })).results.length, 1);
  ok(await c.releaseCollection({ collection_name: name }));
  fails(await c.search({ collection_name: name, data: [1, 2, 3, 4], limit: 1 }), { code: 101 }, 'search after release');
  ok(await c.dropCollection({ collection_name: name }));
});

t('query: filter, output fields, limit/offset paging, count(*) with and without a filter, get by ids', async () => {
  const c = srv.client;
  const got = await queryAll(c, SV, 'cat == "b" and n < 400', ['cat', 'n', 'color']);
  const want = rows.filter(r => r.cat === 'b' && r.n < 400);
  assert.deepEqual(got.map(g => Number(g.id)).sort((a, b) => a - b), want.map(r => r.id));
  for (const g of got) {
    const r = rows[Number(g.id)];
    assert.equal(g.cat, 'b');
    assert.equal(String(g.n), String(r.n));
    assert.equal(dyn(g, 'color'), r.color);
    assert.ok(!('vec' in g), 'vector not requested');
  }
  // Paging: pages of 150 over 'n < 1000' cover every row once.
  const seen = new Set();
  for (let off = 0; off < 1200; off += 150) {
    const page = ok(await c.query({ collection_name: SV, filter: 'n < 1000', output_fields: ['id'], limit: 150, offset: off })).data;
    assert.equal(page.length, Math.max(0, Math.min(150, 1000 - off)), `page at ${off}`);
    for (const g of page) {
      assert.ok(!seen.has(String(g.id)), `row ${g.id} on two pages`);
      seen.add(String(g.id));
    }
  }
  assert.equal(seen.size, 1000);
  // count(*).
  assert.equal(await count(c, SV), N);
  assert.equal(await count(c, SV, 'cat == "a"'), rows.filter(r => r.cat === 'a').length);
  assert.equal(await count(c, SV, 'color in ["red", "blue"] and n >= 1000'), rows.filter(r => (r.color === 'red' || r.color === 'blue') && r.n >= 1000).length);
  assert.equal(await count(c, SV, 'n < 0'), 0);
  // An empty expression needs a limit (or count(*)).
  const lim = ok(await c.query({ collection_name: SV, filter: '', limit: 5, output_fields: ['id'] }));
  assert.equal(lim.data.length, 5);
  const noLimit = await c.query({ collection_name: SV, filter: '', output_fields: ['id'] }).then(r => r, e => ({ status: { error_code: 'thrown', code: 1100, reason: String(e) } }));
  fails(noLimit, E.INVALID, 'query with neither expression nor limit');
  // get by ids, with output fields.
  const g = ok(await c.get({ collection_name: SV, ids: [5, 1500, 77777], output_fields: ['vec', 'cat'] }));
  assert.deepEqual(g.data.map(x => Number(x.id)).sort((a, b) => a - b), [5, 1500]);
  for (const x of g.data) assert.deepEqual(x.vec, rows[Number(x.id)].vec);
  // Query by partition.
  assert.equal(ok(await c.query({ collection_name: SV, filter: 'n < 100', partition_names: ['p_odd'], output_fields: ['id'] })).data.length, 50);
});

t('a collection with 3 shards and a partition key: counts, deletes and exact searches across shards and partitions', async () => {
  const c = srv.client;
  const name = uniq('shards');
  ok(await call(c.createCollection({
    collection_name: name,
    shards_num: 3,
    num_partitions: 8,
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'vec', data_type: DataType.FloatVector, dim: 8 },
      { name: 'cat', data_type: DataType.VarChar, max_length: 8, is_partition_key: true },
    ],
  })), 'create');
  ok(await c.createIndex({ collection_name: name, field_name: 'vec', index_type: 'FLAT', metric_type: 'IP' }));
  await load(c, name);
  const rand = mulberry32(808);
  const srows = Array.from({ length: 900 }, (_, i) => ({ id: i * 7 + 3, vec: randomVector(rand, 8), cat: CATS[i % 4] }));
  ok(await c.insert({ collection_name: name, data: srows.slice(0, 450) }));
  await flushAndWait(c, name);
  ok(await c.insert({ collection_name: name, data: srows.slice(450) }));
  assert.equal(await count(c, name), 900);
  assert.equal(await count(c, name, 'cat == "b"'), 225);
  const gone = new Set(srows.filter((r, i) => i % 10 === 0).map(r => r.id));
  ok(await c.delete({ collection_name: name, ids: [...gone] }));
  const alive = srows.filter(r => !gone.has(r.id));
  assert.equal(await count(c, name), alive.length);
  for (let qi = 0; qi < 4; qi++) {
    const q = randomVector(rand, 8);
    const s = ok(await c.search({ collection_name: name, data: q, limit: 15, output_fields: [] }), 'search');
    assertExactTopK(s.results, bruteForce(alive, q, 15, 'IP'), truthMap(alive, q, 'IP'), { what: `3 shards query ${qi}` });
    const keep = r => r.cat === 'c';
    const f = ok(await c.search({ collection_name: name, data: q, limit: 15, filter: 'cat == "c"', output_fields: [] }), 'search by key');
    assertExactTopK(f.results, bruteForce(alive, q, 15, 'IP', keep), truthMap(alive, q, 'IP', keep), { what: `partition key query ${qi}` });
  }
  ok(await c.dropCollection({ collection_name: name }));
});

// HybridSearch: one collection with two vector fields (v1 L2, v2 COSINE,
// FLAT), half sealed and half growing; the expected answer fuses the exact
// per-field top-SUB lists here.
const SUB = 20;
let hy = null;
async function hybridSetup() {
  if (hy) return hy;
  const c = srv.client;
  const name = uniq('hy');
  ok(await call(c.createCollection({ collection_name: name, fields: [
    { name: 'id', data_type: DataType.Int64, is_primary_key: true },
    { name: 'v1', data_type: DataType.FloatVector, dim: 8 },
    { name: 'v2', data_type: DataType.FloatVector, dim: 12 },
    { name: 'tag', data_type: DataType.VarChar, max_length: 8 },
  ] })));
  ok(await c.createIndex({ collection_name: name, field_name: 'v1', index_type: 'FLAT', metric_type: 'L2' }));
  ok(await c.createIndex({ collection_name: name, field_name: 'v2', index_type: 'FLAT', metric_type: 'COSINE' }));
  const rand = mulberry32(31);
  const hrows = Array.from({ length: 500 }, (_, i) => ({ id: i, v1: randomVector(rand, 8), v2: randomVector(rand, 12), tag: i % 3 ? 'x' : 'y' }));
  ok(await c.insert({ collection_name: name, data: hrows.slice(0, 250) }));
  await flushAndWait(c, name);
  ok(await c.insert({ collection_name: name, data: hrows.slice(250) }));
  await load(c, name);
  const lists = (q1, q2, keep) => [
    bruteForce(hrows.map(r => ({ ...r, vec: r.v1 })), q1, SUB, 'L2', keep),
    bruteForce(hrows.map(r => ({ ...r, vec: r.v2 })), q2, SUB, 'COSINE', keep),
  ];
  /** Map id -> fused score; add(list, rank0, score) is one list's contribution. */
  const fuse = (ls, add) => {
    const m = new Map();
    ls.forEach((l, li) => l.forEach((e, rank) => m.set(String(e.id), (m.get(String(e.id)) || 0) + add(li, rank, e.score))));
    return m;
  };
  const ranked = m => [...m.entries()].map(([id, score]) => ({ id, score })).sort((a, b) => b.score - a.score);
  const reqs = (q1, q2, filter) => [
    { data: q1, anns_field: 'v1', limit: SUB, ...(filter ? { expr: filter } : {}) },
    { data: q2, anns_field: 'v2', limit: SUB, ...(filter ? { expr: filter } : {}) },
  ];
  const rrfAdd = (li, rank) => 1 / (60 + rank + 1);
  hy = { name, hrows, rand, lists, fuse, ranked, reqs, rrfAdd };
  return hy;
}

t('hybridSearch over two vector fields: RRF and weighted rankers agree with the fusion computed here', async () => {
  const c = srv.client;
  const { name, hrows, rand, lists, fuse, ranked, reqs, rrfAdd } = await hybridSetup();
  for (let qi = 0; qi < 3; qi++) {
    const q1 = randomVector(rand, 8);
    const q2 = randomVector(rand, 12);
    // RRF, k = 60.
    const rrf = fuse(lists(q1, q2), rrfAdd);
    const r1 = ok(await c.hybridSearch({ collection_name: name, data: reqs(q1, q2), rerank: sdk.RRFRanker(60), limit: 10, output_fields: ['tag'] }), 'rrf');
    assertExactTopK(r1.results, ranked(rrf).slice(0, 10), rrf, { what: `rrf query ${qi}` });
    for (const h of r1.results) assert.equal(h.tag, hrows[Number(h.id)].tag, 'output field of a hybrid hit');
    // Weighted 0.7 / 0.3 with Milvus's normalisation (L2: 1 - 2 atan(d)/pi, COSINE: (1 + s)/2).
    const norm = [d => 1 - 2 * Math.atan(d) / Math.PI, s => (1 + s) / 2];
    const w = [0.7, 0.3];
    const wt = fuse(lists(q1, q2), (li, rank, s) => w[li] * norm[li](s));
    const r2 = ok(await c.hybridSearch({ collection_name: name, data: reqs(q1, q2), rerank: sdk.WeightedRanker(w), limit: 10, output_fields: ['tag'] }), 'weighted');
    assertExactTopK(r2.results, ranked(wt).slice(0, 10), wt, { what: `weighted query ${qi}` });
    // A filter inside each sub-request.
    const keep = r => r.tag === 'y';
    const rf = fuse(lists(q1, q2, keep), rrfAdd);
    const r4 = ok(await c.hybridSearch({ collection_name: name, data: reqs(q1, q2, 'tag == "y"'), rerank: sdk.RRFRanker(60), limit: 10, output_fields: ['tag'] }), 'rrf filtered');
    assertExactTopK(r4.results, ranked(rf).slice(0, 10), rf, { what: `rrf filtered query ${qi}` });
    for (const h of r4.results) assert.equal(h.tag, 'y');
  }
  // A weighted ranker with the wrong number of weights is IllegalArgument.
  fails(await c.hybridSearch({ collection_name: name, data: [{ data: randomVector(rand, 8), anns_field: 'v1', limit: 5 }, { data: randomVector(rand, 12), anns_field: 'v2', limit: 5 }],
    rerank: sdk.WeightedRanker([1]), limit: 5 }), E.INVALID, 'one weight for two requests');
});

t('hybridSearch offset pages the fused ranking (sub-request offsets are ignored, as in Milvus)', async () => {
  const c = srv.client;
  const { name, rand, lists, fuse, ranked, reqs, rrfAdd } = await hybridSetup();
  for (let qi = 0; qi < 3; qi++) {
    const q1 = randomVector(rand, 8);
    const q2 = randomVector(rand, 12);
    const rrf = fuse(lists(q1, q2), rrfAdd);
    // The Node SDK also copies offset into every sub-request's search_params.
    const r3 = ok(await c.hybridSearch({ collection_name: name, data: reqs(q1, q2), rerank: sdk.RRFRanker(60), limit: 5, offset: 5, output_fields: [] }), 'rrf offset');
    assertExactTopK(r3.results, ranked(rrf).slice(5, 10), rrf, { what: `rrf offset query ${qi}` });
  }
});

// Last: it flushes the shared collection (growing -> sealed).
t('ignore_growing skips unflushed rows; after a flush the same rows are found with it', async () => {
  const c = srv.client;
  // Rows 1000..1999 are growing (inserted after the only flush).
  const sealed = r => r.id < N / 2;
  for (const q of queries.slice(0, 3)) {
    const hits = await exact(q, 10, sealed, { ignore_growing: true }, 'ignore_growing before flush');
    for (const h of hits) assert.ok(Number(h.id) < N / 2, `growing row ${h.id} returned with ignore_growing`);
    await exact(q, 10, null, {}, 'growing + sealed');
  }
  await flushAndWait(c, SV);
  // The querynode picks the new segments up after the flush is recorded: allow a moment.
  const t0 = Date.now();
  for (;;) {
    const r = ok(await search({ data: queries[0], limit: 10, ignore_growing: true }));
    const exp = bruteForce(rows, queries[0], 10, 'L2');
    if (r.results.map(h => String(h.id)).join() === exp.map(e => String(e.id)).join()) break;
    assert.ok(Date.now() - t0 < 10000, 'flushed rows searchable with ignore_growing within 10 s of the flush');
    await sleep(100);
  }
  for (const q of queries.slice(0, 3)) await exact(q, 10, null, { ignore_growing: true }, 'ignore_growing after flush');
});
