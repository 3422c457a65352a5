// load.test.mjs: LoadCollection / ReleaseCollection / LoadPartitions /
// ReleasePartitions / GetLoadState / GetLoadingProgress. Loading needs an
// index on every vector field; with no data path yet a load completes at once.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, serverTest, ok, fails, uniq, E, DataType, within, assertHealthy, raw,
} from './harness.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.finish(); });
const t = (name, fn, opts) => serverTest(() => srv, name, fn, opts);

const FIELDS = [
  { name: 'id', data_type: DataType.Int64, is_primary_key: true },
  { name: 'v', data_type: DataType.FloatVector, dim: 8 },
  { name: 'b', data_type: DataType.BinaryVector, dim: 16 },
];

async function indexed(name, fields = ['v', 'b']) {
  const c = srv.client;
  ok(await c.createCollection({ collection_name: name, fields: FIELDS }), 'CreateCollection');
  if (fields.includes('v')) ok(await c.createIndex({ collection_name: name, field_name: 'v', index_type: 'HNSW', metric_type: 'L2', params: { M: 8, efConstruction: 32 } }));
  if (fields.includes('b')) ok(await c.createIndex({ collection_name: name, field_name: 'b', index_type: 'BIN_FLAT', metric_type: 'HAMMING' }));
}

t('load without an index fails with IndexNotExist (700)', async () => {
  const c = srv.client;
  const name = uniq('noidx');
  await indexed(name, []);
  fails(await c.loadCollectionAsync({ collection_name: name }), E.INDEX_NOT_FOUND, 'LoadCollection without index');
  // The SDK's synchronous form raises "ErrorCode: IndexNotExist. Reason: ...".
  await assert.rejects(within(c.loadCollection({ collection_name: name }), 10000, 'loadCollection'), /IndexNotExist/);
  // One vector field indexed out of two is not enough.
  ok(await c.createIndex({ collection_name: name, field_name: 'v', index_type: 'FLAT', metric_type: 'L2' }));
  fails(await c.loadCollectionAsync({ collection_name: name }), E.INDEX_NOT_FOUND, 'LoadCollection with one of two indexes');
  assert.equal(ok(await c.getLoadState({ collection_name: name })).state, 'LoadStateNotLoad');
  ok(await c.dropCollection({ collection_name: name }));
});

t('loadCollection completes; GetLoadState Loaded; progress 100; release -> NotLoad', async () => {
  const c = srv.client;
  const name = uniq('ld');
  await indexed(name);
  assert.equal(ok(await c.getLoadState({ collection_name: name }), 'GetLoadState').state, 'LoadStateNotLoad');
  ok(await within(c.loadCollection({ collection_name: name }), 10000, 'loadCollection'), 'loadCollection');
  assert.equal(ok(await c.getLoadState({ collection_name: name })).state, 'LoadStateLoaded');
  const p = ok(await c.getLoadingProgress({ collection_name: name }), 'GetLoadingProgress');
  assert.equal(String(p.progress), '100');
  // ShowCollections reports it in memory.
  const l = ok(await c.showCollections());
  const i = l.collection_names.indexOf(name);
  if (l.inMemory_percentages.length) assert.equal(String(l.inMemory_percentages[i]), '100');
  // Loading again is a no-op success.
  ok(await c.loadCollectionAsync({ collection_name: name }), 'load twice');
  ok(await c.releaseCollection({ collection_name: name }), 'ReleaseCollection');
  assert.equal(ok(await c.getLoadState({ collection_name: name })).state, 'LoadStateNotLoad');
  // Releasing again is a no-op success.
  ok(await c.releaseCollection({ collection_name: name }), 'release twice');
  ok(await c.dropCollection({ collection_name: name }));
});

t('getLoadingProgress on a collection that is not loaded returns an error, never hangs', async () => {
  const c = srv.client;
  const name = uniq('nl');
  await indexed(name);
  const p = await within(c.getLoadingProgress({ collection_name: name }), 5000, 'GetLoadingProgress');
  fails(p, {}, 'GetLoadingProgress of an unloaded collection');
  ok(await c.dropCollection({ collection_name: name }));
});

t('load-state calls on missing collections and partitions', async () => {
  const c = srv.client;
  fails(await c.loadCollectionAsync({ collection_name: 'nope_nope' }), E.COLLECTION_NOT_FOUND, 'load missing');
  fails(await c.releaseCollection({ collection_name: 'nope_nope' }), E.COLLECTION_NOT_FOUND, 'release missing');
  fails(await within(c.getLoadingProgress({ collection_name: 'nope_nope' }), 5000, 'progress'), E.COLLECTION_NOT_FOUND, 'progress of missing');
  const st = await c.getLoadState({ collection_name: 'nope_nope' });
  // Milvus answers either an error status or LoadStateNotExist.
  if (st.status.error_code === 'Success') assert.equal(st.state, 'LoadStateNotExist');
  else fails(st, E.COLLECTION_NOT_FOUND, 'GetLoadState of missing');
  const name = uniq('lp');
  await indexed(name);
  fails(await c.loadPartitions({ collection_name: name, partition_names: ['zz'] }), E.PARTITION_NOT_FOUND, 'load missing partition');
  fails(await c.getLoadState({ collection_name: name, partition_names: ['zz'] }), E.PARTITION_NOT_FOUND, 'state of missing partition');
  ok(await c.dropCollection({ collection_name: name }));
  await assertHealthy(srv);
});

t('load and release partitions', async () => {
  const c = srv.client;
  const name = uniq('parts');
  await indexed(name);
  ok(await c.createPartition({ collection_name: name, partition_name: 'p1' }));
  ok(await c.createPartition({ collection_name: name, partition_name: 'p2' }));
  ok(await within(c.loadPartitionsSync({ collection_name: name, partition_names: ['p1'] }), 10000, 'loadPartitionsSync'), 'LoadPartitions');
  const s1 = ok(await c.getLoadState({ collection_name: name, partition_names: ['p1'] }));
  assert.equal(s1.state, 'LoadStateLoaded');
  const s2 = ok(await c.getLoadState({ collection_name: name, partition_names: ['p2'] }));
  assert.equal(s2.state, 'LoadStateNotLoad');
  const pr = ok(await c.getLoadingProgress({ collection_name: name, partition_names: ['p1'] }));
  assert.equal(String(pr.progress), '100');
  // A loaded partition cannot be dropped.
  fails(await c.dropPartition({ collection_name: name, partition_name: 'p1' }), {}, 'drop loaded partition');
  ok(await c.dropPartition({ collection_name: name, partition_name: 'p2' }), 'drop unloaded partition');
  ok(await c.releasePartitions({ collection_name: name, partition_names: ['p1'] }), 'ReleasePartitions');
  assert.equal(ok(await c.getLoadState({ collection_name: name, partition_names: ['p1'] })).state, 'LoadStateNotLoad');
  ok(await c.dropPartition({ collection_name: name, partition_name: 'p1' }), 'drop after release');
  // Whole-collection load covers partitions created later too.
  ok(await within(c.loadCollection({ collection_name: name }), 10000, 'loadCollection'));
  ok(await c.createPartition({ collection_name: name, partition_name: 'p3' }));
  assert.equal(ok(await c.getLoadState({ collection_name: name })).state, 'LoadStateLoaded');
  ok(await c.dropCollection({ collection_name: name }), 'drop a loaded collection');
  fails(await c.describeCollection({ collection_name: name }), E.COLLECTION_NOT_FOUND, 'gone');
});

t('the load state is per database', async () => {
  const c = srv.client;
  const db = uniq('db');
  ok(await c.createDatabase({ db_name: db }));
  const name = uniq('c');
  ok(await c.createCollection({ db_name: db, collection_name: name, fields: FIELDS.slice(0, 2) }));
  ok(await c.createIndex({ db_name: db, collection_name: name, field_name: 'v', index_type: 'FLAT', metric_type: 'IP' }));
  ok(await within(c.loadCollection({ db_name: db, collection_name: name }), 10000, 'loadCollection in db'));
  assert.equal(ok(await c.getLoadState({ db_name: db, collection_name: name })).state, 'LoadStateLoaded');
  ok(await c.releaseCollection({ db_name: db, collection_name: name }));
  ok(await c.dropCollection({ db_name: db, collection_name: name }));
  ok(await c.dropDatabase({ db_name: db }));
});

t('LoadCollection with replica_number and load_fields is accepted or clearly refused', async () => {
  const c = srv.client;
  const name = uniq('rep');
  await indexed(name);
  const r = await raw(c, 'LoadCollection', { collection_name: name, replica_number: 1 });
  ok(r, 'replica_number 1');
  ok(await c.releaseCollection({ collection_name: name }));
  const r2 = await raw(c, 'LoadCollection', { collection_name: name, replica_number: 5 });
  if (r2.error_code !== 'Success') fails(r2, {}, 'replica_number 5');
  ok(await c.dropCollection({ collection_name: name }));
});
