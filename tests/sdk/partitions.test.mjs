// partitions.test.mjs: CreatePartition / HasPartition / ShowPartitions /
// DropPartition / GetPartitionStatistics, and their errors.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, serverTest, ok, fails, uniq, E, basicFields, raw, DataType, assertHealthy,
} from './harness.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.finish(); });
const t = (name, fn, opts) => serverTest(() => srv, name, fn, opts);

/** ok() or a clear error (for calls Milvus treats as idempotent, such as dropping what is gone). */
function okOrClear(res, what) {
  const st = res.status ?? res;
  if (st.error_code === 'Success') return;
  fails(res, {}, what);
}

t('create, has, list, statistics, drop a partition', async () => {
  const c = srv.client;
  const coll = uniq('c');
  ok(await c.createCollection({ collection_name: coll, fields: basicFields() }));
  let l = ok(await c.listPartitions({ collection_name: coll }), 'ShowPartitions');
  assert.deepEqual(l.partition_names, ['_default']);

  ok(await c.createPartition({ collection_name: coll, partition_name: 'p1' }), 'CreatePartition');
  ok(await c.createPartition({ collection_name: coll, partition_name: 'p2' }), 'CreatePartition');
  assert.equal(ok(await c.hasPartition({ collection_name: coll, partition_name: 'p1' })).value, true);
  assert.equal(ok(await c.hasPartition({ collection_name: coll, partition_name: 'zz' })).value, false);

  l = ok(await c.listPartitions({ collection_name: coll }));
  assert.deepEqual(l.partition_names, ['_default', 'p1', 'p2'], 'creation order');
  assert.equal(l.partitionIDs.length, 3);
  assert.equal(new Set(l.partitionIDs.map(String)).size, 3, 'distinct ids');
  assert.equal(l.created_utc_timestamps.length, 3);
  for (const ts of l.created_utc_timestamps) assert.notEqual(String(ts), '0');
  assert.equal(l.data[1].name, 'p1');

  const s = ok(await c.getPartitionStatistics({ collection_name: coll, partition_name: 'p1' }), 'GetPartitionStatistics');
  assert.equal(String(s.data.row_count), '0');

  ok(await c.dropPartition({ collection_name: coll, partition_name: 'p1' }), 'DropPartition');
  assert.equal(ok(await c.hasPartition({ collection_name: coll, partition_name: 'p1' })).value, false);
  l = ok(await c.listPartitions({ collection_name: coll }));
  assert.deepEqual(l.partition_names, ['_default', 'p2']);
  // Re-creating a dropped name gives a new id.
  const oldIds = new Set(l.partitionIDs.map(String));
  ok(await c.createPartition({ collection_name: coll, partition_name: 'p1' }));
  l = ok(await c.listPartitions({ collection_name: coll }));
  const p1id = String(l.partitionIDs[l.partition_names.indexOf('p1')]);
  assert.ok(!oldIds.has(p1id));
  ok(await c.dropCollection({ collection_name: coll }));
});

t('partition errors are clear and typed', async () => {
  const c = srv.client;
  const coll = uniq('c');
  ok(await c.createCollection({ collection_name: coll, fields: basicFields() }));
  ok(await c.createPartition({ collection_name: coll, partition_name: 'p1' }));
  fails(await c.createPartition({ collection_name: coll, partition_name: 'p1' }), {}, 'duplicate partition');
  fails(await c.dropPartition({ collection_name: coll, partition_name: '_default' }), {}, 'drop _default');
  fails(await c.createPartition({ collection_name: 'nope_nope', partition_name: 'p' }), E.COLLECTION_NOT_FOUND, 'create in missing collection');
  fails(await c.hasPartition({ collection_name: 'nope_nope', partition_name: 'p' }), E.COLLECTION_NOT_FOUND, 'has in missing collection');
  fails(await c.listPartitions({ collection_name: 'nope_nope' }), E.COLLECTION_NOT_FOUND, 'list in missing collection');
  fails(await c.dropPartition({ collection_name: 'nope_nope', partition_name: 'p' }), E.COLLECTION_NOT_FOUND, 'drop in missing collection');
  fails(await c.getPartitionStatistics({ collection_name: coll, partition_name: 'zz' }), E.PARTITION_NOT_FOUND, 'stats of missing partition');
  fails(await c.getPartitionStatistics({ collection_name: 'nope_nope', partition_name: 'p' }), E.COLLECTION_NOT_FOUND, 'stats in missing collection');
  okOrClear(await c.dropPartition({ collection_name: coll, partition_name: 'zz' }), 'drop missing partition');
  for (const bad of ['1p', 'p-1', 'p 1', 'p'.repeat(256), '$p']) {
    fails(await c.createPartition({ collection_name: coll, partition_name: bad }), E.INVALID, `partition name ${bad.slice(0, 20)}`);
  }
  // Empty partition name (the SDK refuses it, so raw).
  fails(await raw(c, 'CreatePartition', { collection_name: coll, partition_name: '' }), E.INVALID, 'empty partition name');
  const l = ok(await c.listPartitions({ collection_name: coll }));
  assert.deepEqual(l.partition_names, ['_default', 'p1']);
  await assertHealthy(srv);
  ok(await c.dropCollection({ collection_name: coll }));
});

t('partition-key collections: partitions are managed by the server', async () => {
  const c = srv.client;
  const coll = uniq('pk');
  ok(await c.createCollection({
    collection_name: coll,
    fields: [...basicFields(), { name: 'tenant', data_type: DataType.VarChar, max_length: 64, is_partition_key: true }],
    num_partitions: 4,
  }));
  const d = ok(await c.describeCollection({ collection_name: coll }));
  assert.equal(String(d.num_partitions), '4');
  assert.equal(d.schema.fields.find(f => f.name === 'tenant').is_partition_key, true);
  const l = ok(await c.listPartitions({ collection_name: coll }));
  assert.equal(l.partition_names.length, 4);
  fails(await c.createPartition({ collection_name: coll, partition_name: 'manual' }), {}, 'manual partition on partition-key collection');
  fails(await c.dropPartition({ collection_name: coll, partition_name: l.partition_names[0] }), {}, 'drop partition on partition-key collection');
  ok(await c.dropCollection({ collection_name: coll }));
});

t('partition-key collection without num_partitions gets a default count', async () => {
  const c = srv.client;
  const coll = uniq('pk');
  ok(await c.createCollection({
    collection_name: coll,
    fields: [...basicFields(), { name: 'tenant', data_type: DataType.Int64, is_partition_key: true }],
  }));
  const d = ok(await c.describeCollection({ collection_name: coll }));
  const n = Number(d.num_partitions);
  assert.ok(n >= 1, `num_partitions ${d.num_partitions}`);
  const l = ok(await c.listPartitions({ collection_name: coll }));
  assert.equal(l.partition_names.length, n);
  ok(await c.dropCollection({ collection_name: coll }));
});

t('partitions are per collection and per database', async () => {
  const c = srv.client;
  const db = uniq('db');
  ok(await c.createDatabase({ db_name: db }));
  const coll = uniq('c');
  ok(await c.createCollection({ collection_name: coll, fields: basicFields() }));
  ok(await c.createCollection({ db_name: db, collection_name: coll, fields: basicFields() }));
  ok(await c.createPartition({ db_name: db, collection_name: coll, partition_name: 'only_in_db' }));
  assert.equal(ok(await c.hasPartition({ collection_name: coll, partition_name: 'only_in_db' })).value, false);
  assert.equal(ok(await c.hasPartition({ db_name: db, collection_name: coll, partition_name: 'only_in_db' })).value, true);
  ok(await c.dropCollection({ db_name: db, collection_name: coll }));
  ok(await c.dropCollection({ collection_name: coll }));
  ok(await c.dropDatabase({ db_name: db }));
});

t('many partitions: 200 created, listed in order, dropped', async () => {
  const c = srv.client;
  const coll = uniq('many');
  ok(await c.createCollection({ collection_name: coll, fields: basicFields() }));
  const names = Array.from({ length: 200 }, (_, i) => `part_${i}`);
  for (const p of names) ok(await c.createPartition({ collection_name: coll, partition_name: p }), p);
  const l = ok(await c.listPartitions({ collection_name: coll }));
  assert.deepEqual(l.partition_names, ['_default', ...names]);
  await Promise.all(names.slice(0, 100).map(p => c.dropPartition({ collection_name: coll, partition_name: p }).then(r => ok(r, `drop ${p}`))));
  const l2 = ok(await c.listPartitions({ collection_name: coll }));
  assert.deepEqual(l2.partition_names, ['_default', ...names.slice(100)]);
  ok(await c.dropCollection({ collection_name: coll }));
});

t('50 concurrent CreatePartition calls on one collection all land with distinct ids', async () => {
  const c = srv.client;
  const coll = uniq('conc');
  ok(await c.createCollection({ collection_name: coll, fields: basicFields() }));
  const names = Array.from({ length: 50 }, (_, i) => `cp_${i}`);
  const res = await Promise.all(names.map(p => c.createPartition({ collection_name: coll, partition_name: p })));
  res.forEach((r, i) => ok(r, names[i]));
  const l = ok(await c.listPartitions({ collection_name: coll }));
  assert.equal(l.partition_names.length, 51);
  assert.deepEqual(l.partition_names.slice().sort(), ['_default', ...names].sort());
  assert.equal(new Set(l.partitionIDs.map(String)).size, 51);
  // Racing creates of one name: one wins, the others fail clearly.
  const race = await Promise.all(Array.from({ length: 10 }, () => c.createPartition({ collection_name: coll, partition_name: 'same' })));
  assert.equal(race.filter(r => r.error_code === 'Success').length, 1, JSON.stringify(race.map(r => r.error_code)));
  for (const r of race) if (r.error_code !== 'Success') fails(r, {}, 'losing create');
  ok(await c.dropCollection({ collection_name: coll }));
});
