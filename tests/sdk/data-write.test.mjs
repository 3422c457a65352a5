// data-write.test.mjs: the write side of the data path through the official
// SDK against `cairn standalone`: Insert (explicit and auto_id Int64 keys,
// VarChar keys, every field type, nullable and default values, dynamic keys,
// JSON, arrays, binary/float16/sparse vectors), the insert validation errors
// (each an IllegalArgument with a reason, and nothing of the batch stored),
// Upsert (row replaced, count unchanged; auto_id gets a fresh key), Delete by
// ids and by expression (rows vanish from query, search and count, on
// growing and on sealed segments), Flush + GetFlushState, and
// GetCollectionStatistics row_count. Values read back are compared with what
// was sent; searches with the exact brute-force answer (datahelpers.mjs).
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, serverTest, ok, fails, uniq, E, DataType, call, raw } from './harness.mjs';
import {
  mulberry32, randomVector, fullRow, fullFields, indexFull, load, flushAndWait, count, queryAll, dyn,
  bruteForce, truthMap, assertExactTopK, hamming, l2sq, sparseDot, dot, randomSparseVector, randomF16Vector,
} from './datahelpers.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.finish(); });
const t = (name, fn, opts) => serverTest(() => srv, name, fn, opts);

const DIM = 8;

/** id Int64 (pk), vec FloatVector(DIM), tag VarChar(16); FLAT L2; loaded. */
async function basic(name, { autoID = false, dynamic = false, extra = [] } = {}) {
  const c = srv.client;
  ok(await call(c.createCollection({
    collection_name: name,
    enable_dynamic_field: dynamic,
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID },
      { name: 'vec', data_type: DataType.FloatVector, dim: DIM },
      { name: 'tag', data_type: DataType.VarChar, max_length: 16 },
      ...extra,
    ],
  })), `create ${name}`);
  ok(await c.createIndex({ collection_name: name, field_name: 'vec', index_type: 'FLAT', metric_type: 'L2' }), 'index');
  await load(c, name);
}

function rowsFor(seed, ids, tag = i => `t${i % 4}`) {
  const rand = mulberry32(seed);
  return ids.map(id => ({ id, vec: randomVector(rand, DIM), tag: tag(id) }));
}

/** Top-1 of a search for vec. */
async function top1(c, collection_name, vec, extra = {}) {
  const r = ok(await c.search({ collection_name, data: vec, limit: 1, output_fields: [], ...extra }), 'search');
  return r.results[0];
}

/** Insert through the raw RPC with hand-built FieldData (what the SDK would refuse to send). */
async function rawInsert(c, collection_name, fields_data, num_rows) {
  return raw(c, 'Insert', { collection_name, fields_data, num_rows });
}

const col = {
  i64: (name, data) => ({ type: 'Int64', field_name: name, scalars: { long_data: { data } } }),
  str: (name, data) => ({ type: 'VarChar', field_name: name, scalars: { string_data: { data } } }),
  vec: (name, dim, data) => ({ type: 'FloatVector', field_name: name, vectors: { dim, float_vector: { data } } }),
  json: (name, data) => ({ type: 'JSON', field_name: name, scalars: { json_data: { data: data.map(s => Buffer.from(s)) } } }),
};

t('insert with explicit Int64 keys: IDs echoed, count(*), get by ids, flush, GetFlushState, statistics row_count', async () => {
  const c = srv.client;
  const name = uniq('ins');
  await basic(name);
  const ids = Array.from({ length: 200 }, (_, i) => 1000 + i);
  const rows = rowsFor(1, ids);
  const r = ok(await c.insert({ collection_name: name, data: rows }), 'insert');
  assert.equal(Number(r.insert_cnt), 200);
  assert.deepEqual(r.IDs.int_id.data.map(Number), ids);
  assert.ok(BigInt(r.timestamp) > 0n, 'MutationResult.timestamp set');
  assert.equal(await count(c, name), 200);
  const got = await c.get({ collection_name: name, ids: [1000, 1005, 1199], output_fields: ['tag', 'vec'] });
  ok(got, 'get');
  assert.equal(got.data.length, 3);
  for (const g of got.data) {
    const want = rows.find(x => x.id === Number(g.id));
    assert.ok(want, `get returned unknown id ${g.id}`);
    assert.equal(g.tag, want.tag);
    assert.deepEqual(g.vec, want.vec);
  }
  // get of ids that do not exist: empty, not an error.
  const none = ok(await c.get({ collection_name: name, ids: [1, 2, 3] }), 'get missing');
  assert.equal(none.data.length, 0);
  // Flush: the reply names the collection's segments; GetFlushState reports them flushed.
  const fr = ok(await c.flush({ collection_names: [name] }), 'flush');
  assert.ok(fr.coll_segIDs && name in fr.coll_segIDs, `coll_segIDs has ${name}: ${JSON.stringify(fr.coll_segIDs)}`);
  const fs = await flushAndWait(c, name);
  assert.ok(fs.segIDs.length >= 1, 'the flushed data is in at least one segment');
  const st = ok(await c.getCollectionStatistics({ collection_name: name }), 'statistics');
  assert.equal(st.data.row_count, '200');
  // A flush of an empty collection succeeds and reports flushed.
  const empty = uniq('empty');
  await basic(empty);
  await flushAndWait(c, empty);
  assert.equal(ok(await c.getCollectionStatistics({ collection_name: empty })).data.row_count, '0');
  // Reads after the flush: the same rows.
  assert.equal(await count(c, name), 200);
  assert.equal((await queryAll(c, name, 'id >= 1100', ['tag'])).length, 100);
  ok(await c.dropCollection({ collection_name: name }));
  ok(await c.dropCollection({ collection_name: empty }));
});

t('insert with auto_id: fresh unique keys, rows found by them', async () => {
  const c = srv.client;
  const name = uniq('auto');
  await basic(name, { autoID: true });
  const rand = mulberry32(2);
  const all = new Set();
  for (let b = 0; b < 3; b++) {
    const rows = Array.from({ length: 100 }, (_, i) => ({ vec: randomVector(rand, DIM), tag: `b${b}` }));
    const r = ok(await c.insert({ collection_name: name, data: rows }), `insert batch ${b}`);
    const ids = r.IDs.int_id.data.map(String);
    assert.equal(ids.length, 100);
    for (const id of ids) {
      assert.ok(!all.has(id), `auto id ${id} issued twice`);
      all.add(id);
    }
    // The row with the k-th returned id is the k-th row sent.
    const got = ok(await c.get({ collection_name: name, ids: [ids[0], ids[57]], output_fields: ['vec', 'tag'] }));
    const byId = Object.fromEntries(got.data.map(g => [String(g.id), g]));
    assert.deepEqual(byId[ids[0]].vec, rows[0].vec);
    assert.deepEqual(byId[ids[57]].vec, rows[57].vec);
    assert.equal(byId[ids[57]].tag, `b${b}`);
  }
  assert.equal(await count(c, name), 300);
  ok(await c.dropCollection({ collection_name: name }));
});

t('VarChar primary key: insert, get, search returns string keys, delete by ids', async () => {
  const c = srv.client;
  const name = uniq('vpk');
  ok(await call(c.createCollection({
    collection_name: name,
    fields: [
      { name: 'pk', data_type: DataType.VarChar, is_primary_key: true, max_length: 32 },
      { name: 'vec', data_type: DataType.FloatVector, dim: DIM },
    ],
  })));
  ok(await c.createIndex({ collection_name: name, field_name: 'vec', index_type: 'FLAT', metric_type: 'IP' }));
  await load(c, name);
  const rand = mulberry32(3);
  const rows = Array.from({ length: 100 }, (_, i) => ({ pk: `key-${i}`, vec: randomVector(rand, DIM) }));
  const r = ok(await c.insert({ collection_name: name, data: rows }));
  assert.deepEqual(r.IDs.str_id.data, rows.map(x => x.pk));
  const g = ok(await c.get({ collection_name: name, ids: ['key-3', 'key-99'], output_fields: ['vec'] }));
  assert.deepEqual(g.data.map(x => x.pk).sort(), ['key-3', 'key-99']);
  const q = rows[42].vec;
  const s = ok(await c.search({ collection_name: name, data: q, limit: 5, output_fields: [] }));
  const vrows = rows.map(x => ({ id: x.pk, vec: x.vec }));
  assertExactTopK(s.results.map(h => ({ id: h.pk, score: h.score })), bruteForce(vrows, q, 5, 'IP'), truthMap(vrows, q, 'IP'));
  assert.equal(typeof s.results[0].pk, 'string');
  ok(await c.delete({ collection_name: name, ids: ['key-42', 'key-7'] }), 'delete by ids');
  assert.equal(await count(c, name), 98);
  const after = ok(await c.search({ collection_name: name, data: q, limit: 100, output_fields: [] }));
  assert.ok(!after.results.some(h => h.pk === 'key-42' || h.pk === 'key-7'), 'deleted keys not found by search');
  assert.equal(after.results.length, 98);
  ok(await c.dropCollection({ collection_name: name }));
});

t('every field type: values read back by query and search output equal what was inserted; vector searches on binary and float16 fields are exact', async () => {
  const c = srv.client;
  const name = uniq('full');
  ok(await call(c.createCollection({ collection_name: name, fields: fullFields(DataType) })), 'create');
  await indexFull(c, name, 'L2');
  await load(c, name);
  const rand = mulberry32(4);
  const rows = Array.from({ length: 60 }, (_, i) => fullRow(rand, i));
  ok(await c.insert({ collection_name: name, data: rows.slice(0, 30) }), 'insert 1');
  await flushAndWait(c, name);
  ok(await c.insert({ collection_name: name, data: rows.slice(30) }), 'insert 2 (growing)');
  const got = await queryAll(c, name, 'id >= 0', ['*']);
  assert.equal(got.length, 60);
  const check = (g, want, what) => {
    assert.equal(g.bool, want.bool, `${what} bool`);
    assert.equal(g.i8, want.i8, `${what} i8`);
    assert.equal(g.i16, want.i16, `${what} i16`);
    assert.equal(g.i32, want.i32, `${what} i32`);
    assert.equal(String(g.i64), want.i64, `${what} i64`);
    assert.equal(g.f, want.f, `${what} f`);
    assert.equal(g.d, want.d, `${what} d`);
    assert.equal(g.s, want.s, `${what} s`);
    assert.deepEqual(g.j, want.j, `${what} j`);
    assert.deepEqual(g.arr_i, want.arr_i, `${what} arr_i`);
    assert.deepEqual(g.arr_s, want.arr_s, `${what} arr_s`);
    assert.deepEqual(g.vec, want.vec, `${what} vec`);
    assert.deepEqual(Array.from(g.bin), want.bin, `${what} bin`);
    assert.deepEqual(Array.from(g.f16), want.f16, `${what} f16`);
    const sp = Object.fromEntries(Object.entries(g.sparse).map(([k, v]) => [String(k), Number(v)]));
    assert.deepEqual(sp, Object.fromEntries(Object.entries(want.sparse).map(([k, v]) => [String(k), v])), `${what} sparse`);
  };
  for (const g of got) check(g, rows[Number(g.id)], `row ${g.id}`);
  // Search with output "*": the same values on the hits.
  const s = ok(await c.search({ collection_name: name, anns_field: 'vec', data: rows[5].vec, limit: 3, output_fields: ['*'] }));
  assert.equal(String(s.results[0].id), '5');
  for (const h of s.results) check(h, rows[Number(h.id)], `hit ${h.id}`);
  // Filters on the scalar, JSON and array columns, against the rows.
  const filters = [
    ['i8 < 0', r => r.i8 < 0],
    ['bool == true', r => r.bool],
    ['s like "str_1%"', r => r.s.startsWith('str_1')],
    ['j["tag"] == "b"', r => r.j.tag === 'b'],
    ['j["n"] >= 50', r => r.j.n >= 50],
    ['array_contains(arr_i, 10)', r => r.arr_i.includes(10)],
    ['d > 5.0 and f < 12', r => r.d > 5 && r.f < 12],
  ];
  for (const [expr, fn] of filters) {
    const q = await queryAll(c, name, expr, ['id']);
    assert.deepEqual(q.map(x => Number(x.id)).sort((a, b) => a - b), rows.filter(fn).map(r => r.id), `filter ${expr}`);
  }
  // Exact searches on the other vector types (FLAT/BIN_FLAT/SPARSE_INVERTED_INDEX are exhaustive).
  const bq = rows[11].bin;
  const bs = ok(await c.search({ collection_name: name, anns_field: 'bin', data: bq, limit: 5, output_fields: [] }), 'binary search');
  const bexp = bruteForce(rows.map(r => ({ id: r.id, vec: r.bin })), bq, 5, 'HAMMING', null, hamming);
  assert.deepEqual(bs.results.map(h => Number(h.score)), bexp.map(e => e.score), 'hamming distances');
  assert.equal(String(bs.results[0].id), '11');
  const fq = rows[22].f16;
  const fsr = ok(await c.search({ collection_name: name, anns_field: 'f16', data: fq, limit: 5, output_fields: [] }), 'float16 search');
  const frows = rows.map(r => ({ id: r.id, vec: r.f16 }));
  assertExactTopK(fsr.results, bruteForce(frows, fq, 5, 'L2', null, l2sq), truthMap(frows, fq, 'L2', null, l2sq), { tol: 1e-3, what: 'float16' });
  ok(await c.dropCollection({ collection_name: name }));
});

t('bfloat16 vectors: values read back exactly, IP search over growing and sealed rows is exact', async () => {
  const c = srv.client;
  const name = uniq('bf16');
  ok(await call(c.createCollection({ collection_name: name, fields: [
    { name: 'id', data_type: DataType.Int64, is_primary_key: true },
    { name: 'bf', data_type: DataType.BFloat16Vector, dim: 16 },
  ] })));
  ok(await c.createIndex({ collection_name: name, field_name: 'bf', index_type: 'FLAT', metric_type: 'IP' }));
  await load(c, name);
  const rand = mulberry32(14);
  // Multiples of 1/64 in [-1, 1]: exact in bfloat16, so the SDK's conversion loses nothing.
  const rows = Array.from({ length: 300 }, (_, i) => ({ id: i, vec: randomF16Vector(rand, 16) }));
  ok(await c.insert({ collection_name: name, data: rows.slice(0, 150).map(r => ({ id: r.id, bf: r.vec })) }));
  await flushAndWait(c, name);
  ok(await c.insert({ collection_name: name, data: rows.slice(150).map(r => ({ id: r.id, bf: r.vec })) }));
  const got = await queryAll(c, name, 'id in [0, 149, 150, 299]', ['bf']);
  assert.equal(got.length, 4);
  for (const g of got) assert.deepEqual(Array.from(g.bf), rows[Number(g.id)].vec, `bf of ${g.id}`);
  for (const qi of [5, 200]) {
    const q = rows[qi].vec;
    const r = ok(await c.search({ collection_name: name, data: q, limit: 10, output_fields: [] }), 'bf16 search');
    assertExactTopK(r.results, bruteForce(rows, q, 10, 'IP', null, dot), truthMap(rows, q, 'IP', null, dot), { tol: 1e-3, what: `bf16 query ${qi}` });
  }
  ok(await c.dropCollection({ collection_name: name }));
});

t('sparse vectors: IP search over growing and sealed rows is exact (only rows sharing a dimension with the query)', async () => {
  const c = srv.client;
  const name = uniq('sparse');
  ok(await call(c.createCollection({ collection_name: name, fields: [
    { name: 'id', data_type: DataType.Int64, is_primary_key: true },
    { name: 'sp', data_type: DataType.SparseFloatVector },
  ] })));
  ok(await c.createIndex({ collection_name: name, field_name: 'sp', index_type: 'SPARSE_INVERTED_INDEX', metric_type: 'IP' }));
  await load(c, name);
  const rand = mulberry32(13);
  // Few shared dimensions (4 of 5000 per row), so most rows score 0 against a query.
  const rows = Array.from({ length: 200 }, (_, i) => ({ id: i, sp: randomSparseVector(rand, 4, 5000) }));
  ok(await c.insert({ collection_name: name, data: rows.slice(0, 100) }));
  await flushAndWait(c, name);
  ok(await c.insert({ collection_name: name, data: rows.slice(100) }));
  const srows = rows.map(r => ({ id: r.id, vec: r.sp }));
  for (const qi of [3, 150, 77, 199]) {
    const q = rows[qi].sp;
    const r = ok(await c.search({ collection_name: name, data: q, limit: 10, output_fields: [] }), 'sparse search');
    const exp = bruteForce(srows, q, Infinity, 'IP', null, sparseDot).filter(e => e.score > 0).slice(0, 10);
    assertExactTopK(r.results, exp, truthMap(srows, q, 'IP', null, sparseDot), { what: `sparse query ${qi}` });
  }
  ok(await c.dropCollection({ collection_name: name }));
});

t('nullable and default values: null and missing values read back as null or as the default', async () => {
  const c = srv.client;
  const name = uniq('nulls');
  ok(await call(c.createCollection({
    collection_name: name,
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'vec', data_type: DataType.FloatVector, dim: DIM },
      { name: 'n', data_type: DataType.Int32, nullable: true },
      { name: 's', data_type: DataType.VarChar, max_length: 16, default_value: 'dflt' },
      { name: 'f', data_type: DataType.Float, default_value: 1.5 },
      { name: 'js', data_type: DataType.JSON, nullable: true },
    ],
  })), 'create');
  ok(await c.createIndex({ collection_name: name, field_name: 'vec', index_type: 'FLAT', metric_type: 'L2' }));
  await load(c, name);
  const rand = mulberry32(5);
  // Batches are uniform (all given, all null, all missing): the SDK packs a mix of null and missing inconsistently.
  ok(await c.insert({ collection_name: name, data: [0, 1].map(id => ({ id, vec: randomVector(rand, DIM), n: 7 + id, s: `s${id}`, f: 2.5, js: { a: id } })) }), 'given');
  ok(await c.insert({ collection_name: name, data: [2, 3].map(id => ({ id, vec: randomVector(rand, DIM), n: null, s: null, f: null, js: null })) }), 'nulls');
  ok(await c.insert({ collection_name: name, data: [4, 5].map(id => ({ id, vec: randomVector(rand, DIM) })) }), 'missing');
  const got = Object.fromEntries((await queryAll(c, name, 'id >= 0', ['n', 's', 'f', 'js'])).map(g => [Number(g.id), g]));
  assert.deepEqual(Object.keys(got).map(Number).sort(), [0, 1, 2, 3, 4, 5]);
  for (const id of [0, 1]) {
    assert.equal(got[id].n, 7 + id);
    assert.equal(got[id].s, `s${id}`);
    assert.equal(got[id].f, 2.5);
    assert.deepEqual(got[id].js, { a: id });
  }
  for (const id of [2, 3, 4, 5]) {
    assert.equal(got[id].n, null, `row ${id} n is null`);
    assert.equal(got[id].s, 'dflt', `row ${id} s takes the default`);
    assert.equal(got[id].f, 1.5, `row ${id} f takes the default`);
    assert.equal(got[id].js, null, `row ${id} js is null`);
  }
  // Filters see the defaults and the nulls.
  assert.deepEqual((await queryAll(c, name, 's == "dflt"', ['id'])).map(g => Number(g.id)).sort(), [2, 3, 4, 5]);
  assert.deepEqual((await queryAll(c, name, 'n is null', ['id'])).map(g => Number(g.id)).sort(), [2, 3, 4, 5]);
  assert.deepEqual((await queryAll(c, name, 'n > 7', ['id'])).map(g => Number(g.id)), [1]);
  ok(await c.dropCollection({ collection_name: name }));
});

t('dynamic fields: keys stored, filtered, returned by name and with "*"', async () => {
  const c = srv.client;
  const name = uniq('dyn');
  await basic(name, { dynamic: true });
  const rand = mulberry32(6);
  const colors = ['red', 'green', 'blue'];
  const rows = Array.from({ length: 90 }, (_, i) => {
    const r = { id: i, vec: randomVector(rand, DIM), tag: 'x', color: colors[i % 3], size: i % 10 };
    if (i % 5 === 0) r.extra = { deep: [i, 'v'] };
    return r;
  });
  ok(await c.insert({ collection_name: name, data: rows }));
  const expr = 'color == "red" and size > 3';
  const want = rows.filter(r => r.color === 'red' && r.size > 3).map(r => r.id);
  const q = await queryAll(c, name, expr, ['color', 'size']);
  assert.deepEqual(q.map(g => Number(g.id)).sort((a, b) => a - b), want);
  for (const g of q) {
    assert.equal(dyn(g, 'color'), 'red');
    assert.equal(dyn(g, 'size'), rows[Number(g.id)].size);
  }
  const star = await queryAll(c, name, 'id in [0, 1]', ['*']);
  for (const g of star) {
    const r = rows[Number(g.id)];
    assert.equal(dyn(g, 'color'), r.color);
    assert.equal(dyn(g, 'size'), r.size);
    if (r.extra) assert.deepEqual(dyn(g, 'extra'), r.extra);
    assert.deepEqual(g.vec, r.vec);
  }
  assert.deepEqual((await queryAll(c, name, 'extra["deep"][0] >= 50', ['id'])).map(g => Number(g.id)).sort((a, b) => a - b),
    rows.filter(r => r.extra && r.extra.deep[0] >= 50).map(r => r.id));
  // Search output by dynamic key name: the SDK reads it from the $meta column.
  const s = ok(await c.search({ collection_name: name, data: rows[10].vec, limit: 5, filter: 'color == "green"', output_fields: ['color', 'size'] }));
  assert.equal(s.results.length, 5);
  for (const h of s.results) {
    assert.equal(h.color, 'green');
    assert.equal(h.size, rows[Number(h.id)].size);
  }
  ok(await c.dropCollection({ collection_name: name }));
});

t('insert validation: wrong dim, missing field, NaN, too-long VarChar, bad JSON, duplicate key, key under auto_id, unknown field are IllegalArgument with a reason; nothing stored', async () => {
  const c = srv.client;
  const name = uniq('bad');
  await basic(name, { extra: [{ name: 'meta', data_type: DataType.JSON }, { name: 'x', data_type: DataType.Float }] });
  const rand = mulberry32(7);
  const good = id => ({ id, vec: randomVector(rand, DIM), tag: 'ok', meta: { a: 1 }, x: 1.5 });
  const cases = [
    ['wrong dim', [{ ...good(1), vec: randomVector(rand, DIM - 1) }, good(2)]],
    ['missing field', [good(1), (() => { const r = good(2); delete r.tag; return r; })()]],
    ['missing field in every row', [1, 2].map(id => { const r = good(id); delete r.x; return r; })],
    ['NaN in a vector', [{ ...good(1), vec: [NaN, ...randomVector(rand, DIM - 1)] }]],
    ['Infinity in a vector', [{ ...good(1), vec: [Infinity, ...randomVector(rand, DIM - 1)] }]],
    ['NaN in a float field', [{ ...good(1), x: NaN }]],
    ['too-long VarChar', [{ ...good(1), tag: 'x'.repeat(17) }]],
    ['duplicate key in one batch', [good(5), good(6), good(5)]],
  ];
  for (const [what, rows] of cases) {
    const r = await c.insert({ collection_name: name, data: rows });
    fails(r, E.INVALID, what);
  }
  // What the SDK cannot produce: raw FieldData.
  const v = n => Array.from({ length: n * DIM }, () => Math.fround(rand()));
  const base = n => [col.i64('id', Array.from({ length: n }, (_, i) => i + 1)), col.vec('vec', DIM, v(n)), col.str('tag', Array(n).fill('a')),
    { type: 'Float', field_name: 'x', scalars: { float_data: { data: Array(n).fill(1) } } }];
  fails(await rawInsert(c, name, [...base(2), col.json('meta', ['{"a":1}', '{bad'])], 2), E.INVALID, 'bad JSON');
  fails(await rawInsert(c, name, [...base(2), col.json('meta', ['{"a":1}', '[1,2'])], 2), E.INVALID, 'truncated JSON');
  fails(await rawInsert(c, name, [...base(2), col.json('meta', ['{}', '{}']), col.str('nope', ['a', 'b'])], 2), E.INVALID, 'unknown field');
  fails(await rawInsert(c, name, [...base(2), col.json('meta', ['{}', '{}'])], 3), E.INVALID, 'num_rows does not match the columns');
  fails(await rawInsert(c, name, [...base(2), col.json('meta', ['{}', '{}']), col.json('meta', ['{}', '{}'])], 2), E.INVALID, 'a column twice');
  assert.equal(await count(c, name), 0, 'nothing of any rejected batch was stored');
  // A well-formed raw insert works (so the failures above are about the defect each has).
  ok(await rawInsert(c, name, [...base(2), col.json('meta', ['{"a":1}', '{"b":[1,2]}'])], 2), 'good raw insert');
  assert.equal(await count(c, name), 2);
  // Key given under auto_id.
  const auto = uniq('bad_auto');
  await basic(auto, { autoID: true });
  fails(await rawInsert(c, auto, [col.i64('id', [1, 2]), col.vec('vec', DIM, v(2)), col.str('tag', ['a', 'b'])], 2), E.INVALID, 'key under auto_id');
  assert.equal(await count(c, auto), 0);
  ok(await c.dropCollection({ collection_name: name }));
  ok(await c.dropCollection({ collection_name: auto }));
});

t('upsert replaces rows (growing and sealed), count unchanged; a new key is inserted; auto_id upsert gets a fresh key', async () => {
  const c = srv.client;
  const name = uniq('ups');
  await basic(name);
  const ids = Array.from({ length: 50 }, (_, i) => i);
  const rows = rowsFor(8, ids);
  ok(await c.insert({ collection_name: name, data: rows.slice(0, 25) }));
  await flushAndWait(c, name); // 0..24 sealed
  ok(await c.insert({ collection_name: name, data: rows.slice(25) })); // 25..49 growing
  const fresh = rowsFor(9, [3, 30, 100], () => 'new');
  const r = ok(await c.upsert({ collection_name: name, data: fresh }), 'upsert');
  assert.equal(Number(r.upsert_cnt), 3);
  assert.deepEqual(r.IDs.int_id.data.map(Number), [3, 30, 100]);
  assert.equal(await count(c, name), 51, 'two replaced, one new');
  const got = Object.fromEntries((await queryAll(c, name, 'id in [3, 30, 100]', ['vec', 'tag'])).map(g => [Number(g.id), g]));
  for (const f of fresh) {
    assert.equal(got[f.id].tag, 'new', `row ${f.id} replaced`);
    assert.deepEqual(got[f.id].vec, f.vec);
  }
  assert.equal((await queryAll(c, name, 'id == 3', ['tag'])).length, 1, 'exactly one row with key 3');
  for (const f of fresh) {
    const h = await top1(c, name, f.vec);
    assert.equal(Number(h.id), f.id);
    assert.ok(Math.abs(h.score) < 1e-6);
  }
  // The old vector of row 3 no longer matches exactly.
  const h = await top1(c, name, rows[3].vec);
  assert.ok(!(Number(h.id) === 3 && h.score < 1e-6), 'old version of row 3 not found');
  // After a flush, still one version of each.
  await flushAndWait(c, name);
  assert.equal(await count(c, name), 51);
  assert.equal((await queryAll(c, name, 'tag == "new"', ['id'])).length, 3);
  // auto_id: the row given with key k is replaced by a row with a new key.
  const auto = uniq('ups_auto');
  await basic(auto, { autoID: true });
  const ins = ok(await c.insert({ collection_name: auto, data: rowsFor(10, [0, 1]).map(({ id, ...rest }) => rest) }));
  const [k0] = ins.IDs.int_id.data.map(String);
  const up = ok(await c.upsert({ collection_name: auto, data: [{ id: k0, vec: randomVector(mulberry32(11), DIM), tag: 'up' }] }), 'auto_id upsert');
  const k2 = String(up.IDs.int_id.data[0]);
  assert.notEqual(k2, k0, 'auto_id upsert issues a fresh key');
  assert.equal(await count(c, auto), 2);
  assert.equal((await queryAll(c, auto, `id == ${k0}`, ['tag'])).length, 0, 'old key gone');
  assert.equal((await queryAll(c, auto, `id == ${k2}`, ['tag']))[0].tag, 'up');
  ok(await c.dropCollection({ collection_name: name }));
  ok(await c.dropCollection({ collection_name: auto }));
});

t('delete by ids and by expression: rows vanish from query, search and count, on growing and sealed segments', async () => {
  const c = srv.client;
  const name = uniq('del');
  await basic(name);
  const ids = Array.from({ length: 300 }, (_, i) => i);
  const rows = rowsFor(12, ids);
  ok(await c.insert({ collection_name: name, data: rows.slice(0, 150) }));
  await flushAndWait(c, name);
  ok(await c.insert({ collection_name: name, data: rows.slice(150) }));
  const gone = new Set();
  ok(await c.delete({ collection_name: name, ids: [0, 1, 2, 150, 151] }), 'delete by ids');
  [0, 1, 2, 150, 151].forEach(i => gone.add(i));
  const d = ok(await c.delete({ collection_name: name, filter: 'tag == "t3"' }), 'delete by expression');
  const t3 = rows.filter(r => r.tag === 't3' && !gone.has(r.id)).map(r => r.id);
  assert.equal(Number(d.delete_cnt), t3.length, 'delete_cnt of an expression delete is the number of rows matched');
  t3.forEach(i => gone.add(i));
  ok(await c.delete({ collection_name: name, filter: 'id in [10, 160, 99999]' }), 'delete with a missing key');
  [10, 160].forEach(i => gone.add(i));
  const alive = rows.filter(r => !gone.has(r.id));
  const check = async label => {
    assert.equal(await count(c, name), alive.length, `${label}: count`);
    assert.equal(await count(c, name, 'tag == "t3"'), 0, `${label}: count with filter`);
    const q = await queryAll(c, name, 'id >= 0', ['id']);
    assert.deepEqual(q.map(g => Number(g.id)).sort((a, b) => a - b), alive.map(r => r.id), `${label}: query`);
    for (const id of [0, 150, 10, 160, 3, 155]) {
      const h = await top1(c, name, rows[id].vec);
      assert.ok(!gone.has(Number(h.id)), `${label}: search returned deleted ${h.id}`);
      const qv = rows[id].vec;
      const exp = bruteForce(alive, qv, 10, 'L2');
      const s = ok(await c.search({ collection_name: name, data: qv, limit: 10, output_fields: [] }));
      assertExactTopK(s.results, exp, truthMap(alive, qv, 'L2'), { what: `${label}: search near ${id}` });
    }
  };
  await check('before flush');
  await flushAndWait(c, name);
  await check('after flush');
  // Re-inserting a deleted key brings it back once.
  ok(await c.insert({ collection_name: name, data: [rows[0]] }));
  assert.equal((await queryAll(c, name, 'id == 0', ['id'])).length, 1);
  ok(await c.dropCollection({ collection_name: name }));
});

let partsName = null;
let partsRows = 0;

t('statistics and count after many small inserts; insert into a partition', async () => {
  const c = srv.client;
  const name = uniq('parts');
  await basic(name);
  ok(await c.createPartition({ collection_name: name, partition_name: 'p1' }));
  // Loading again picks up the new partition (Milvus needs it loaded before use).
  await load(c, name);
  let n = 0;
  for (let b = 0; b < 20; b++) {
    const rows = rowsFor(100 + b, [b * 10, b * 10 + 1, b * 10 + 2]);
    ok(await c.insert({ collection_name: name, data: rows, partition_name: b % 2 ? 'p1' : '_default' }), `insert ${b}`);
    n += rows.length;
  }
  assert.equal(await count(c, name), n);
  const inP1 = ok(await c.query({ collection_name: name, filter: 'id >= 0', output_fields: ['count(*)'], partition_names: ['p1'] }));
  assert.equal(Number(inP1.data[0]['count(*)']), n / 2);
  await flushAndWait(c, name);
  assert.equal(ok(await c.getCollectionStatistics({ collection_name: name })).data.row_count, String(n));
  fails(await c.insert({ collection_name: name, data: rowsFor(1, [999]), partition_name: 'nope' }), E.PARTITION_NOT_FOUND, 'insert into a missing partition');
  partsName = name;
  partsRows = n;
});

t('GetPartitionStatistics row_count counts the flushed rows of each partition', async () => {
  const c = srv.client;
  assert.ok(partsName, 'needs the collection of the previous test');
  for (const p of ['p1', '_default']) {
    const ps = ok(await c.getPartitionStatistics({ collection_name: partsName, partition_name: p }));
    assert.equal(ps.data.row_count, String(partsRows / 2), `partition ${p}`);
  }
  ok(await c.dropCollection({ collection_name: partsName }));
});
