// restart.test.mjs: crash safety of the catalogue. A catalogue (databases,
// collections of every field type, partitions, aliases, index definitions,
// load state, renames, alters and drops) is built, snapshotted through the
// SDK, the server is killed with SIGKILL and restarted on the same data dir
// (new ports, new client), and the snapshot must come back identical. After
// every restart a new AllocTimestamp is larger than every timestamp seen
// before and new IDs (collections, partitions, indexes, databases: one ID
// space, as in Milvus) are larger than every ID seen before. Also: kill -9
// right after a DDL call returns (the DDL must survive), kill -9 in the middle
// of a burst of DDL (what was acknowledged survives, the rest is all or
// nothing), and a graceful SIGTERM restart.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, serverTest, ok, fails, uniq, E, basicFields, raw, DataType, call, within, assertHealthy, sleep,
} from './harness.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.finish(); });
const t = (name, fn, opts) => serverTest(() => srv, name, fn, opts);

// Everything ever issued, to compare new values with.
const seen = { ts: 0n, id: 0n };
const noteTs = v => { const b = BigInt(v); if (b > seen.ts) seen.ts = b; };
const noteId = v => { const b = BigInt(v); if (b > seen.id) seen.id = b; };

async function allocTs(c) {
  const r = ok(await raw(c, 'AllocTimestamp', {}), 'AllocTimestamp');
  return BigInt(r.timestamp);
}

/**
 * The catalogue as the SDK sees it, in a canonical form, with every ID and
 * timestamp noted in `seen`.
 */
async function snapshot(c) {
  const out = {};
  const dbs = ok(await c.listDatabases(), 'ListDatabases').db_names.slice().sort();
  for (const db of dbs) {
    const dd = ok(await c.describeDatabase({ db_name: db }), `DescribeDatabase ${db}`);
    noteId(dd.dbID);
    if (BigInt(dd.created_timestamp) > 1n << 40n) noteTs(dd.created_timestamp);
    const entry = { dbID: dd.dbID, properties: sortKv(dd.properties), collections: {} };
    const sc = ok(await c.showCollections({ db_name: db }), `ShowCollections ${db}`);
    const aliasesAll = ok(await raw(c, 'ListAliases', { db_name: db }), 'ListAliases').aliases.slice().sort();
    entry.aliases = {};
    for (const al of aliasesAll) {
      entry.aliases[al] = ok(await c.describeAlias({ db_name: db, collection_name: 'x', alias: al }), `DescribeAlias ${al}`).collection;
    }
    for (const name of sc.collection_names.slice().sort()) {
      const d = ok(await c.describeCollection({ db_name: db, collection_name: name }), `DescribeCollection ${db}.${name}`);
      noteId(d.collectionID);
      noteTs(d.created_timestamp);
      if (d.update_timestamp && d.update_timestamp !== '0') noteTs(d.update_timestamp);
      for (const f of d.schema.fields) noteId(f.fieldID);
      const parts = ok(await c.listPartitions({ db_name: db, collection_name: name }), 'ShowPartitions');
      parts.partitionIDs.forEach(noteId);
      let indexes = [];
      const di = await c.describeIndex({ db_name: db, collection_name: name });
      if (di.status.error_code === 'Success') {
        indexes = di.index_descriptions.map(x => {
          noteId(x.indexID);
          return { name: x.index_name, id: x.indexID, field: x.field_name, params: sortKv(x.params), state: x.state };
        }).sort((a, b) => a.name.localeCompare(b.name));
      } else {
        fails(di, E.INDEX_NOT_FOUND, 'DescribeIndex');
      }
      // A loaded collection reloads in the background after a restart:
      // Loading is a passing state, so wait for it to settle.
      let ls = ok(await c.getLoadState({ db_name: db, collection_name: name }), 'GetLoadState');
      for (let i = 0; i < 100 && ls.state === 'LoadStateLoading'; i++) {
        await sleep(100);
        ls = ok(await c.getLoadState({ db_name: db, collection_name: name }), 'GetLoadState');
      }
      entry.collections[name] = {
        collectionID: d.collectionID,
        created_timestamp: d.created_timestamp,
        created_utc_timestamp: d.created_utc_timestamp,
        consistency_level: d.consistency_level,
        shards_num: d.shards_num,
        num_partitions: d.num_partitions,
        properties: sortKv(d.properties),
        aliases: d.aliases.slice().sort(),
        schema: {
          name: d.schema.name,
          description: d.schema.description,
          enable_dynamic_field: d.schema.enable_dynamic_field,
          fields: d.schema.fields.map(f => ({
            fieldID: f.fieldID, name: f.name, data_type: f.data_type, is_primary_key: f.is_primary_key,
            autoID: f.autoID, description: f.description, nullable: f.nullable, is_partition_key: f.is_partition_key,
            element_type: f.element_type, type_params: sortKv(f.type_params), default_value: f.default_value,
          })),
        },
        partitions: parts.partition_names.map((n, i) => [n, parts.partitionIDs[i]]),
        indexes,
        load: ls.state,
        stats: ok(await c.getCollectionStatistics({ db_name: db, collection_name: name })).data,
      };
    }
    out[db] = entry;
  }
  return out;
}

function sortKv(list) {
  return (list || []).map(p => [p.key, p.value]).sort((a, b) => a[0].localeCompare(b[0]));
}

/** Restarts after kill -9 and checks that the snapshot is unchanged and that new IDs/timestamps are larger. */
async function crashAndCheck(before, label) {
  await srv.restart();
  const c = srv.client;
  await assertHealthy(srv);
  const afterSnap = await snapshot(c);
  assert.deepEqual(afterSnap, before, `${label}: catalogue differs after restart`);
  await checkNewValuesLarger(c, label);
  return afterSnap;
}

async function checkNewValuesLarger(c, label) {
  const ts = await allocTs(c);
  assert.ok(ts > seen.ts, `${label}: new timestamp ${ts} not above ${seen.ts}`);
  noteTs(ts);
  // A new collection (and its fields and partition) gets IDs above everything seen.
  const probe = uniq('probe');
  ok(await c.createCollection({ collection_name: probe, fields: basicFields() }), 'probe create');
  const d = ok(await c.describeCollection({ collection_name: probe }));
  assert.ok(BigInt(d.collectionID) > seen.id, `${label}: new collection id ${d.collectionID} not above ${seen.id}`);
  assert.ok(BigInt(d.created_timestamp) > ts - 1n, `${label}: created_timestamp ${d.created_timestamp} below a timestamp allocated before (${ts})`);
  noteId(d.collectionID);
  ok(await c.createPartition({ collection_name: probe, partition_name: 'pp' }));
  const parts = ok(await c.listPartitions({ collection_name: probe }));
  const pid = BigInt(parts.partitionIDs[parts.partition_names.indexOf('pp')]);
  assert.ok(pid > seen.id, `${label}: new partition id ${pid} not above ${seen.id}`);
  noteId(pid);
  ok(await c.dropCollection({ collection_name: probe }));
}

async function buildCatalogue(c) {
  const dbA = 'restart_db_a';
  ok(await c.createDatabase({ db_name: dbA, properties: { 'database.max.collections': '50' } }));
  ok(await c.createDatabase({ db_name: 'restart_db_empty' }));
  ok(await c.createCollection({
    collection_name: 'full',
    description: 'every type',
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID: true, description: 'pk' },
      { name: 'flag', data_type: DataType.Bool, nullable: true, default_value: false },
      { name: 'i8', data_type: DataType.Int8, default_value: 1 },
      { name: 'i16', data_type: DataType.Int16 },
      { name: 'i32', data_type: DataType.Int32, nullable: true },
      { name: 'tenant', data_type: DataType.VarChar, max_length: 32, is_partition_key: true },
      { name: 'f32', data_type: DataType.Float, default_value: 0.5 },
      { name: 'f64', data_type: DataType.Double },
      { name: 's', data_type: DataType.VarChar, max_length: 100, default_value: 'x' },
      { name: 'arr', data_type: DataType.Array, element_type: DataType.Int64, max_capacity: 10 },
      { name: 'js', data_type: DataType.JSON, nullable: true },
      { name: 'fv', data_type: DataType.FloatVector, dim: 16 },
      { name: 'bv', data_type: DataType.BinaryVector, dim: 32 },
      { name: 'sv', data_type: DataType.SparseFloatVector },
      { name: 'bf', data_type: DataType.BFloat16Vector, dim: 8 },
    ],
    enable_dynamic_field: true,
    consistency_level: 'Session',
    shards_num: 3,
    num_partitions: 4,
    properties: { 'collection.ttl.seconds': '86400' },
  }), 'create full');
  ok(await c.createIndex({ collection_name: 'full', field_name: 'fv', index_name: 'fv_hnsw', index_type: 'HNSW', metric_type: 'COSINE', params: { M: 24, efConstruction: 120 } }));
  ok(await c.createIndex({ collection_name: 'full', field_name: 'bv', index_name: 'bv_idx', index_type: 'BIN_IVF_FLAT', metric_type: 'JACCARD', params: { nlist: 8 } }));
  ok(await c.createIndex({ collection_name: 'full', field_name: 'sv', index_type: 'AUTOINDEX', metric_type: 'IP' }));
  ok(await c.createIndex({ collection_name: 'full', field_name: 'bf', index_name: 'bf_flat', index_type: 'FLAT', metric_type: 'L2' }));
  ok(await c.createIndex({ collection_name: 'full', field_name: 's', index_name: 's_inv', index_type: 'INVERTED' }));
  ok(await within(c.loadCollection({ collection_name: 'full' }), 10000, 'load full'));
  ok(await c.createAlias({ collection_name: 'full', alias: 'full_alias' }));

  ok(await c.createCollection({ db_name: dbA, collection_name: 'parts', fields: basicFields({ dim: 4 }) }));
  for (const p of ['p1', 'p2', 'p3']) ok(await c.createPartition({ db_name: dbA, collection_name: 'parts', partition_name: p }));
  ok(await c.dropPartition({ db_name: dbA, collection_name: 'parts', partition_name: 'p2' }));
  ok(await c.createIndex({ db_name: dbA, collection_name: 'parts', field_name: 'vector', index_type: 'IVF_FLAT', metric_type: 'L2', params: { nlist: 4 } }));
  // Not loadPartitionsSync: SDK 3.0.6 polls GetLoadingProgress without the
  // db_name, so in a non-default database it asks about the wrong collection.
  ok(await c.loadPartitions({ db_name: dbA, collection_name: 'parts', partition_names: ['p1'] }), 'load p1');
  ok(await c.createAlias({ db_name: dbA, collection_name: 'parts', alias: 'pa1' }));
  ok(await c.createAlias({ db_name: dbA, collection_name: 'parts', alias: 'pa2' }));
  ok(await c.dropAlias({ db_name: dbA, alias: 'pa2' }));

  ok(await c.createCollection({ collection_name: 'to_rename', fields: basicFields() }));
  ok(await c.renameCollection({ collection_name: 'to_rename', new_collection_name: 'renamed' }));
  ok(await c.alterCollectionProperties({ collection_name: 'renamed', properties: { 'mmap.enabled': 'true' } }));
  ok(await c.createCollection({ collection_name: 'to_drop', fields: basicFields() }));
  ok(await c.createIndex({ collection_name: 'to_drop', field_name: 'vector', index_type: 'FLAT', metric_type: 'IP' }));
  ok(await c.dropCollection({ collection_name: 'to_drop' }));
  ok(await c.createCollection({ collection_name: 'released', fields: basicFields() }));
  ok(await c.createIndex({ collection_name: 'released', field_name: 'vector', index_type: 'FLAT', metric_type: 'IP' }));
  ok(await within(c.loadCollection({ collection_name: 'released' }), 10000, 'load released'));
  ok(await c.releaseCollection({ collection_name: 'released' }));
  ok(await within(c.createCollection({ collection_name: 'quick', dimension: 8 }), 20000, 'quick'));
}

let base;

t('build a catalogue, kill -9, restart: everything describes identically; new ids and timestamps are larger', async () => {
  const c = srv.client;
  for (let i = 0; i < 5; i++) noteTs(await allocTs(c));
  await buildCatalogue(c);
  base = await snapshot(c);
  // Sanity of the snapshot itself.
  assert.deepEqual(Object.keys(base).sort(), ['default', 'restart_db_a', 'restart_db_empty']);
  assert.deepEqual(Object.keys(base.default.collections).sort(), ['full', 'quick', 'released', 'renamed']);
  assert.equal(base.default.collections.full.load, 'LoadStateLoaded');
  assert.equal(base.default.collections.released.load, 'LoadStateNotLoad');
  assert.equal(base.default.collections.full.indexes.length, 5);
  assert.deepEqual(base.restart_db_a.collections.parts.partitions.map(p => p[0]), ['_default', 'p1', 'p3']);
  assert.deepEqual(base.restart_db_a.aliases, { pa1: 'parts' });
  noteTs(await allocTs(c));
  base = await crashAndCheck(base, 'restart 1');
  // The loaded partition is still loaded, the other not.
  const c2 = srv.client;
  for (let i = 0; i < 100; i++) {
    const st = ok(await c2.getLoadState({ db_name: 'restart_db_a', collection_name: 'parts', partition_names: ['p1'] })).state;
    if (st !== 'LoadStateLoading') break;
    await sleep(100);
  }
  assert.equal(ok(await c2.getLoadState({ db_name: 'restart_db_a', collection_name: 'parts', partition_names: ['p1'] })).state, 'LoadStateLoaded');
  assert.equal(ok(await c2.getLoadState({ db_name: 'restart_db_a', collection_name: 'parts', partition_names: ['p3'] })).state, 'LoadStateNotLoad');
});

t('kill -9 right after each kind of DDL returns: the DDL survives', async () => {
  const steps = [
    ['CreateDatabase', c => c.createDatabase({ db_name: 'k9_db' })],
    ['CreateCollection', c => c.createCollection({ collection_name: 'k9_coll', fields: basicFields({ dim: 12 }), properties: { k: 'v' } })],
    ['CreatePartition', c => c.createPartition({ collection_name: 'k9_coll', partition_name: 'k9_p' })],
    ['CreateIndex', c => c.createIndex({ collection_name: 'k9_coll', field_name: 'vector', index_name: 'k9_i', index_type: 'HNSW', metric_type: 'IP', params: { M: 10, efConstruction: 40 } })],
    ['LoadCollection', c => c.loadCollectionAsync({ collection_name: 'k9_coll' })],
    ['CreateAlias', c => c.createAlias({ collection_name: 'k9_coll', alias: 'k9_alias' })],
    ['AlterCollection', c => c.alterCollectionProperties({ collection_name: 'k9_coll', properties: { k: 'v2' } })],
    ['ReleaseCollection', c => c.releaseCollection({ collection_name: 'k9_coll' })],
    ['DropIndex', c => c.dropIndex({ collection_name: 'k9_coll', field_name: 'vector', index_name: 'k9_i' })],
    ['AlterAlias', c => c.alterAlias({ collection_name: 'renamed', alias: 'k9_alias' })],
    ['RenameCollection', c => c.renameCollection({ collection_name: 'k9_coll', new_collection_name: 'k9_coll2' })],
    ['DropPartition', c => c.dropPartition({ collection_name: 'k9_coll2', partition_name: 'k9_p' })],
    ['DropAlias', c => c.dropAlias({ alias: 'k9_alias' })],
    ['DropCollection', c => c.dropCollection({ collection_name: 'k9_coll2' })],
    ['AlterDatabase', c => c.alterDatabase({ db_name: 'k9_db', properties: { 'database.replica.number': '1' } })],
    ['DropDatabase', c => c.dropDatabase({ db_name: 'k9_db' })],
  ];
  for (const [what, step] of steps) {
    const c = srv.client;
    ok(await step(c), what);
    // Snapshot what the DDL left, then crash (the next test crashes with no call in between).
    const expected = await snapshot(c);
    await crashAndCheck(expected, `kill -9 after ${what}`);
  }
});

t('kill -9 immediately after the reply, with no call in between', async () => {
  // The snapshot is taken after the restart only: the collection acknowledged
  // just before the SIGKILL must be there with its full schema.
  for (let i = 0; i < 3; i++) {
    const name = uniq('instant');
    ok(await srv.client.createCollection({ collection_name: name, fields: basicFields({ dim: 8 + i }) }), 'create');
    await srv.kill9();
    await srv.spawn();
    const d = ok(await srv.client.describeCollection({ collection_name: name }), `describe ${name} after kill -9`);
    assert.equal(d.schema.fields[1].dim, String(8 + i));
    noteId(d.collectionID);
  }
  await checkNewValuesLarger(srv.client, 'instant');
});

t('kill -9 during a burst of DDL: acknowledged creates survive, the rest is all or nothing', async tc => {
  const c = srv.client;
  const names = Array.from({ length: 60 }, (_, i) => `burst_${i}`);
  const acked = new Set();
  const inflight = names.map(async (n, i) => {
    await sleep(i * 3);
    const r = await call(c.createCollection({ collection_name: n, fields: basicFields({ dim: 4 }), timeout: 3000 })).catch(e => ({ thrown: e }));
    if (r && r.error_code === 'Success') acked.add(n);
  });
  await sleep(60);
  const ackedAtKill = new Set(acked);
  await srv.kill9();
  await Promise.allSettled(inflight);
  await srv.spawn();
  const c2 = srv.client;
  const l = ok(await c2.showCollections());
  for (const n of ackedAtKill) assert.ok(l.collection_names.includes(n), `acknowledged ${n} lost`);
  for (const n of names) {
    const d = await c2.describeCollection({ collection_name: n });
    if (l.collection_names.includes(n)) {
      ok(d, `describe ${n}`);
      assert.deepEqual(d.schema.fields.map(f => f.name), ['id', 'vector'], `${n} complete`);
      assert.equal(d.schema.fields[1].dim, '4');
      const p = ok(await c2.listPartitions({ collection_name: n }));
      assert.deepEqual(p.partition_names, ['_default'], `${n} has its default partition`);
      noteId(d.collectionID);
    } else {
      fails(d, E.COLLECTION_NOT_FOUND, `describe ${n}`);
    }
  }
  tc.diagnostic(`acknowledged before the kill: ${ackedAtKill.size}, present after restart: ${names.filter(n => l.collection_names.includes(n)).length} of ${names.length}`);
  await checkNewValuesLarger(c2, 'burst');
  for (const n of names) if (l.collection_names.includes(n)) ok(await c2.dropCollection({ collection_name: n }));
});

t('several crashes in a row, then a graceful stop: the catalogue is unchanged throughout', async () => {
  const expected = await snapshot(srv.client);
  for (let i = 0; i < 3; i++) await crashAndCheck(expected, `crash ${i + 1} of 3`);
  const r = await srv.stop();
  assert.equal(r.code, 0);
  await srv.spawn();
  assert.deepEqual(await snapshot(srv.client), expected, 'after graceful restart');
  await checkNewValuesLarger(srv.client, 'graceful');
});

t('AllocTimestamp stays above earlier ones across rapid restarts', async () => {
  for (let i = 0; i < 5; i++) {
    const c = srv.client;
    let last = 0n;
    for (let j = 0; j < 20; j++) last = await allocTs(c);
    noteTs(last);
    await srv.restart();
    const first = await allocTs(srv.client);
    assert.ok(first > seen.ts, `restart ${i}: ${first} not above ${seen.ts}`);
    noteTs(first);
  }
});
