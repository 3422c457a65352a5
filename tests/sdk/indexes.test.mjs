// indexes.test.mjs: index definitions (no data yet): every index type with
// valid parameters is recorded and described as given; invalid parameters,
// unknown types and metrics that do not fit the field type are refused with
// IllegalArgument (code 1100); AUTOINDEX resolves to a concrete type;
// duplicate definitions; DescribeIndex / GetIndexState /
// GetIndexBuildProgress / DropIndex.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, serverTest, ok, fails, uniq, E, raw, DataType, assertHealthy,
} from './harness.mjs';

let srv;
let coll;
before(async () => {
  srv = await startServer();
  coll = uniq('idx');
  ok(await srv.client.createCollection({
    collection_name: coll,
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'fv', data_type: DataType.FloatVector, dim: 16 },
      { name: 'bv', data_type: DataType.BinaryVector, dim: 64 },
      { name: 'sv', data_type: DataType.SparseFloatVector },
      { name: 'hv', data_type: DataType.Float16Vector, dim: 16 },
      { name: 'title', data_type: DataType.VarChar, max_length: 64 },
      { name: 'n', data_type: DataType.Int32 },
      { name: 'flag', data_type: DataType.Bool },
      { name: 'js', data_type: DataType.JSON },
    ],
  }), 'CreateCollection');
});
after(async () => { await srv?.finish(); });
const t = (name, fn, opts) => serverTest(() => srv, name, fn, opts);

const kv = list => Object.fromEntries((list || []).map(p => [p.key, p.value]));

/** Parameters of the only index on a field, as {index_type, metric_type, params: {...}}. */
async function described(field) {
  const r = ok(await srv.client.describeIndex({ collection_name: coll, field_name: field }), `DescribeIndex ${field}`);
  assert.equal(r.index_descriptions.length, 1, JSON.stringify(r.index_descriptions));
  const d = r.index_descriptions[0];
  const p = kv(d.params);
  let params = {};
  if (p.params) params = JSON.parse(p.params);
  return { d, p, params };
}

const VALID = [
  ['fv', 'FLAT', 'L2', {}],
  ['fv', 'FLAT', 'IP', {}],
  ['fv', 'HNSW', 'COSINE', { M: 16, efConstruction: 200 }],
  ['fv', 'HNSW', 'L2', { M: 4, efConstruction: 8 }],
  ['fv', 'IVF_FLAT', 'L2', { nlist: 128 }],
  ['fv', 'IVF_SQ8', 'IP', { nlist: 64 }],
  ['fv', 'IVF_PQ', 'L2', { nlist: 32, m: 4, nbits: 8 }],
  ['bv', 'BIN_FLAT', 'HAMMING', {}],
  ['bv', 'BIN_FLAT', 'JACCARD', {}],
  ['bv', 'BIN_IVF_FLAT', 'HAMMING', { nlist: 16 }],
  ['sv', 'SPARSE_INVERTED_INDEX', 'IP', { drop_ratio_build: 0.2 }],
  ['sv', 'SPARSE_WAND', 'IP', {}],
  ['hv', 'HNSW', 'L2', { M: 8, efConstruction: 64 }],
  ['hv', 'FLAT', 'COSINE', {}],
];

for (const [field, type, metric, params] of VALID) {
  t(`valid index ${type}/${metric} ${JSON.stringify(params)} on ${field} is recorded and described`, async () => {
    const c = srv.client;
    const name = `ix_${field}`;
    ok(await c.createIndex({ collection_name: coll, field_name: field, index_name: name, index_type: type, metric_type: metric, params }), 'CreateIndex');
    const { d, p, params: got } = await described(field);
    assert.equal(d.index_name, name);
    assert.equal(d.field_name, field);
    assert.notEqual(String(d.indexID), '0');
    assert.equal(p.index_type, type);
    assert.equal(p.metric_type, metric);
    for (const [k, v] of Object.entries(params)) assert.equal(String(got[k]), String(v), `param ${k}: ${JSON.stringify(got)}`);
    assert.equal(d.state, 'Finished');
    assert.equal(String(d.indexed_rows), '0');
    assert.equal(String(d.total_rows), '0');
    assert.equal(String(d.pending_index_rows), '0');
    // Describe by index name, without field_name.
    const byName = ok(await c.describeIndex({ collection_name: coll, index_name: name }));
    assert.equal(byName.index_descriptions.length, 1);
    assert.equal(byName.index_descriptions[0].field_name, field);
    // State and progress.
    const s = ok(await c.getIndexState({ collection_name: coll, field_name: field, index_name: name }), 'GetIndexState');
    assert.equal(s.state, 'Finished');
    const prog = ok(await c.getIndexBuildProgress({ collection_name: coll, field_name: field, index_name: name }), 'GetIndexBuildProgress');
    assert.equal(String(prog.indexed_rows), '0');
    assert.equal(String(prog.total_rows), '0');
    ok(await c.dropIndex({ collection_name: coll, field_name: field, index_name: name }), 'DropIndex');
    fails(await c.describeIndex({ collection_name: coll, field_name: field }), E.INDEX_NOT_FOUND, 'describe after drop');
  });
}

for (const [field, type] of [['title', 'INVERTED'], ['title', 'Trie'], ['n', 'STL_SORT'], ['n', 'INVERTED'], ['flag', 'BITMAP'], ['n', 'BITMAP']]) {
  t(`scalar index ${type} on ${field}`, async () => {
    const c = srv.client;
    ok(await c.createIndex({ collection_name: coll, field_name: field, index_name: `s_${field}`, index_type: type }), 'CreateIndex');
    const { p } = await described(field);
    assert.equal(p.index_type, type);
    ok(await c.dropIndex({ collection_name: coll, field_name: field, index_name: `s_${field}` }));
  });
}

t('AUTOINDEX resolves to a concrete type for each vector type', async () => {
  const c = srv.client;
  const concrete = {
    fv: ['HNSW', 'IVF_FLAT', 'IVF_SQ8', 'IVF_PQ', 'FLAT'],
    hv: ['HNSW', 'IVF_FLAT', 'IVF_SQ8', 'IVF_PQ', 'FLAT'],
    bv: ['BIN_FLAT', 'BIN_IVF_FLAT'],
    sv: ['SPARSE_INVERTED_INDEX', 'SPARSE_WAND'],
  };
  const metric = { fv: 'L2', hv: 'IP', bv: 'HAMMING', sv: 'IP' };
  for (const f of Object.keys(concrete)) {
    ok(await c.createIndex({ collection_name: coll, field_name: f, index_type: 'AUTOINDEX', metric_type: metric[f] }), `AUTOINDEX ${f}`);
    const { d, p } = await described(f);
    assert.ok(concrete[f].includes(p.index_type), `AUTOINDEX on ${f} resolved to ${p.index_type}`);
    assert.equal(p.metric_type, metric[f]);
    assert.ok(d.index_name, 'a default index name is given');
    ok(await c.dropIndex({ collection_name: coll, field_name: f, index_name: d.index_name }));
  }
  // No index_type at all (what the SDK's quick setup sends): AUTOINDEX too.
  ok(await c.createIndex({ collection_name: coll, field_name: 'fv', metric_type: 'COSINE' }), 'no index_type');
  const { d, p } = await described('fv');
  assert.ok(concrete.fv.includes(p.index_type), p.index_type);
  assert.equal(p.metric_type, 'COSINE');
  ok(await c.dropIndex({ collection_name: coll, field_name: 'fv', index_name: d.index_name }));
  // AUTOINDEX on a scalar field.
  ok(await c.createIndex({ collection_name: coll, field_name: 'n', index_type: 'AUTOINDEX' }), 'AUTOINDEX scalar');
  const s = await described('n');
  assert.notEqual(s.p.index_type, 'AUTOINDEX');
  ok(await c.dropIndex({ collection_name: coll, field_name: 'n', index_name: s.d.index_name }));
});

const INVALID = [
  ['HNSW M=0', 'fv', 'HNSW', 'L2', { M: 0, efConstruction: 100 }],
  ['HNSW M=100000', 'fv', 'HNSW', 'L2', { M: 100000, efConstruction: 100 }],
  ['HNSW efConstruction=0', 'fv', 'HNSW', 'L2', { M: 16, efConstruction: 0 }],
  ['HNSW M=-1', 'fv', 'HNSW', 'L2', { M: -1, efConstruction: 100 }],
  ['HNSW M not a number', 'fv', 'HNSW', 'L2', { M: 'abc', efConstruction: 100 }],
  ['IVF_FLAT nlist=0', 'fv', 'IVF_FLAT', 'L2', { nlist: 0 }],
  ['IVF_FLAT nlist=1e6', 'fv', 'IVF_FLAT', 'L2', { nlist: 1000000 }],
  ['IVF_SQ8 nlist=-5', 'fv', 'IVF_SQ8', 'L2', { nlist: -5 }],
  ['IVF_PQ m does not divide dim', 'fv', 'IVF_PQ', 'L2', { nlist: 16, m: 5, nbits: 8 }],
  ['IVF_PQ nbits=0', 'fv', 'IVF_PQ', 'L2', { nlist: 16, m: 4, nbits: 0 }],
  ['BIN_IVF_FLAT nlist=0', 'bv', 'BIN_IVF_FLAT', 'HAMMING', { nlist: 0 }],
  ['SPARSE drop_ratio_build=1.5', 'sv', 'SPARSE_INVERTED_INDEX', 'IP', { drop_ratio_build: 1.5 }],
  ['unknown index type', 'fv', 'NO_SUCH_INDEX', 'L2', {}],
  ['unknown metric', 'fv', 'HNSW', 'NOPE', { M: 16, efConstruction: 100 }],
  ['HAMMING on a float vector', 'fv', 'HNSW', 'HAMMING', { M: 16, efConstruction: 100 }],
  ['JACCARD on a float vector', 'fv', 'FLAT', 'JACCARD', {}],
  ['L2 on a binary vector', 'bv', 'BIN_FLAT', 'L2', {}],
  ['COSINE on a binary vector', 'bv', 'BIN_FLAT', 'COSINE', {}],
  ['L2 on a sparse vector', 'sv', 'SPARSE_INVERTED_INDEX', 'L2', {}],
  ['float index type on a binary vector', 'bv', 'HNSW', 'HAMMING', { M: 16, efConstruction: 100 }],
  ['binary index type on a float vector', 'fv', 'BIN_FLAT', 'L2', {}],
  ['sparse index type on a float vector', 'fv', 'SPARSE_INVERTED_INDEX', 'IP', {}],
  ['vector index type on a scalar field', 'n', 'HNSW', 'L2', { M: 16, efConstruction: 100 }],
  ['scalar index type on a vector field', 'fv', 'INVERTED', 'L2', {}],
  ['Trie on Int32', 'n', 'Trie', undefined, {}],
];

for (const [what, field, type, metric, params] of INVALID) {
  t(`invalid index: ${what} -> IllegalArgument`, async () => {
    const c = srv.client;
    const req = { collection_name: coll, field_name: field, index_type: type, params };
    if (metric) req.metric_type = metric;
    fails(await c.createIndex(req), E.INVALID, what);
    // Nothing was recorded.
    fails(await c.describeIndex({ collection_name: coll, field_name: field }), E.INDEX_NOT_FOUND, `no index after ${what}`);
  });
}

t('params that are not a JSON object, unknown field, missing collection', async () => {
  const c = srv.client;
  fails(await raw(c, 'CreateIndex', {
    collection_name: coll, field_name: 'fv',
    extra_params: [{ key: 'index_type', value: 'HNSW' }, { key: 'metric_type', value: 'L2' }, { key: 'params', value: '{not json' }],
  }), E.INVALID, 'params not JSON');
  fails(await raw(c, 'CreateIndex', {
    collection_name: coll, field_name: 'fv',
    extra_params: [{ key: 'index_type', value: 'HNSW' }, { key: 'metric_type', value: 'L2' }, { key: 'params', value: '[1,2]' }],
  }), E.INVALID, 'params a JSON array');
  fails(await c.createIndex({ collection_name: coll, field_name: 'no_such_field', index_type: 'FLAT', metric_type: 'L2' }), {}, 'unknown field');
  fails(await c.createIndex({ collection_name: 'nope_nope', field_name: 'fv', index_type: 'FLAT', metric_type: 'L2' }), E.COLLECTION_NOT_FOUND, 'missing collection');
  fails(await c.describeIndex({ collection_name: 'nope_nope' }), E.COLLECTION_NOT_FOUND, 'describe missing collection');
  fails(await c.getIndexState({ collection_name: coll, field_name: 'fv' }), E.INDEX_NOT_FOUND, 'state of missing index');
  fails(await c.getIndexBuildProgress({ collection_name: coll, field_name: 'fv' }), E.INDEX_NOT_FOUND, 'progress of missing index');
  await assertHealthy(srv);
});

t('flattened legacy parameters (keys beside index_type) are accepted', async () => {
  const c = srv.client;
  ok(await raw(c, 'CreateIndex', {
    collection_name: coll, field_name: 'fv', index_name: 'legacy',
    extra_params: [{ key: 'index_type', value: 'HNSW' }, { key: 'metric_type', value: 'IP' }, { key: 'M', value: '12' }, { key: 'efConstruction', value: '50' }],
  }), 'legacy CreateIndex');
  const { p, params } = await described('fv');
  assert.equal(p.index_type, 'HNSW');
  assert.equal(String(params.M), '12');
  assert.equal(String(params.efConstruction), '50');
  ok(await c.dropIndex({ collection_name: coll, field_name: 'fv', index_name: 'legacy' }));
});

t('duplicate index definitions: same params is idempotent, different params fail', async () => {
  const c = srv.client;
  const req = { collection_name: coll, field_name: 'fv', index_name: 'dup', index_type: 'HNSW', metric_type: 'L2', params: { M: 16, efConstruction: 100 } };
  ok(await c.createIndex({ ...req, params: { ...req.params } }), 'first');
  ok(await c.createIndex({ ...req, params: { ...req.params } }), 'same again');
  fails(await c.createIndex({ ...req, params: { M: 32, efConstruction: 100 } }), {}, 'different params');
  fails(await c.createIndex({ ...req, index_type: 'IVF_FLAT', params: { nlist: 16 } }), {}, 'different type');
  fails(await c.createIndex({ ...req, index_name: 'dup2', params: { M: 32, efConstruction: 100 } }), {}, 'second index on the field');
  const { params } = await described('fv');
  assert.equal(String(params.M), '16', 'first definition kept');
  // The same index name on another field is refused.
  fails(await c.createIndex({ collection_name: coll, field_name: 'hv', index_name: 'dup', index_type: 'FLAT', metric_type: 'L2' }), {}, 'name reused on another field');
  ok(await c.dropIndex({ collection_name: coll, field_name: 'fv', index_name: 'dup' }));
});

t('describeIndex without a field lists every index of the collection', async () => {
  const c = srv.client;
  ok(await c.createIndex({ collection_name: coll, field_name: 'fv', index_name: 'a_fv', index_type: 'FLAT', metric_type: 'L2' }));
  ok(await c.createIndex({ collection_name: coll, field_name: 'bv', index_name: 'a_bv', index_type: 'BIN_FLAT', metric_type: 'HAMMING' }));
  ok(await c.createIndex({ collection_name: coll, field_name: 'title', index_name: 'a_title', index_type: 'INVERTED' }));
  const r = ok(await c.describeIndex({ collection_name: coll }));
  assert.deepEqual(r.index_descriptions.map(d => d.index_name).sort(), ['a_bv', 'a_fv', 'a_title']);
  const li = ok(await c.listIndexes({ collection_name: coll }));
  assert.deepEqual(li.indexes.slice().sort(), ['a_bv', 'a_fv', 'a_title']);
  for (const [f, n] of [['fv', 'a_fv'], ['bv', 'a_bv'], ['title', 'a_title']]) {
    ok(await c.dropIndex({ collection_name: coll, field_name: f, index_name: n }));
  }
  fails(await c.describeIndex({ collection_name: coll }), E.INDEX_NOT_FOUND, 'no index left');
});

t('an index cannot be dropped while the collection is loaded', async () => {
  const c = srv.client;
  const name = uniq('ld');
  ok(await c.createCollection({
    collection_name: name,
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'v', data_type: DataType.FloatVector, dim: 4 },
    ],
  }));
  ok(await c.createIndex({ collection_name: name, field_name: 'v', index_name: 'iv', index_type: 'HNSW', metric_type: 'L2', params: { M: 8, efConstruction: 32 } }));
  ok(await c.loadCollectionAsync({ collection_name: name }), 'LoadCollection');
  fails(await c.dropIndex({ collection_name: name, field_name: 'v', index_name: 'iv' }), {}, 'drop index while loaded');
  const r = ok(await c.describeIndex({ collection_name: name }));
  assert.equal(r.index_descriptions.length, 1, 'index still there');
  ok(await c.releaseCollection({ collection_name: name }));
  ok(await c.dropIndex({ collection_name: name, field_name: 'v', index_name: 'iv' }), 'drop after release');
  ok(await c.dropCollection({ collection_name: name }));
});

t('indexes go away with their collection', async () => {
  const c = srv.client;
  const name = uniq('gone');
  ok(await c.createCollection({ collection_name: name, fields: [
    { name: 'id', data_type: DataType.Int64, is_primary_key: true },
    { name: 'v', data_type: DataType.FloatVector, dim: 4 },
  ] }));
  ok(await c.createIndex({ collection_name: name, field_name: 'v', index_type: 'FLAT', metric_type: 'L2' }));
  ok(await c.dropCollection({ collection_name: name }));
  ok(await c.createCollection({ collection_name: name, fields: [
    { name: 'id', data_type: DataType.Int64, is_primary_key: true },
    { name: 'v', data_type: DataType.FloatVector, dim: 4 },
  ] }));
  fails(await c.describeIndex({ collection_name: name }), E.INDEX_NOT_FOUND, 'new collection has no index');
  ok(await c.dropCollection({ collection_name: name }));
});

t('dropIndex by index name alone, describeIndex with a wrong name', async () => {
  const c = srv.client;
  ok(await c.createIndex({ collection_name: coll, field_name: 'fv', index_name: 'by_name', index_type: 'FLAT', metric_type: 'L2' }));
  fails(await c.describeIndex({ collection_name: coll, index_name: 'other_name' }), E.INDEX_NOT_FOUND, 'describe wrong name');
  fails(await c.describeIndex({ collection_name: coll, field_name: 'bv' }), E.INDEX_NOT_FOUND, 'describe field without index');
  ok(await c.dropIndex({ collection_name: coll, index_name: 'by_name' }), 'DropIndex by name');
  fails(await c.describeIndex({ collection_name: coll, field_name: 'fv' }), E.INDEX_NOT_FOUND, 'gone');
});
