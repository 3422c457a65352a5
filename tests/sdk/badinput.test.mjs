// badinput.test.mjs: every bad input tried gets a clear error (error_code
// not Success, a non-zero code, a non-empty reason; the specific code where
// Milvus defines one) and the server keeps answering CheckHealth. Schemas the
// SDK would refuse on the client side are sent raw, through the SDK's own
// channel and protobuf types (harness rawCreateCollection). Unserved methods
// (Insert, Search, ...) and undecodable messages must not crash the server.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import {
  startServer, serverTest, ok, fails, uniq, E, basicFields, raw, rawCreateCollection, call,
  DataType, assertHealthy, within,
} from './harness.mjs';

const require = createRequire(import.meta.url);
const grpc = require('@grpc/grpc-js');

let srv;
const existing = uniq('exists'); // a collection with an index, for the "missing database" rows
before(async () => {
  srv = await startServer();
  ok(await srv.client.createCollection({ collection_name: existing, fields: basicFields() }), 'create the existing collection');
  ok(await srv.client.createIndex({ collection_name: existing, field_name: 'vector', index_type: 'FLAT', metric_type: 'L2' }));
});
after(async () => { await srv?.finish(); });
const t = (name, fn, opts) => serverTest(() => srv, name, fn, opts);

// ---- schema builders (protobufjs camelCase, as the SDK encodes) ----------
const tp = obj => Object.entries(obj).map(([key, value]) => ({ key, value: String(value) }));
const pk = (extra = {}) => ({ name: 'id', dataType: DataType.Int64, isPrimaryKey: true, ...extra });
const vec = (extra = {}, dim = 8) => ({ name: 'v', dataType: DataType.FloatVector, typeParams: tp({ dim }), ...extra });
const fld = (name, dataType, params = {}, extra = {}) => ({ name, dataType, typeParams: tp(params), ...extra });

/** [description, collection_name or null (= fresh valid name), fields, extra schema / request options] */
const SCHEMAS = [
  // collection names
  ['empty collection name', '', [pk(), vec()]],
  ['collection name of 256 chars', 'c'.repeat(256), [pk(), vec()]],
  ['collection name starting with a digit', '1abc', [pk(), vec()]],
  ['collection name with a dash', 'a-b', [pk(), vec()]],
  ['collection name with a space', 'a b', [pk(), vec()]],
  ['collection name with a dot', 'a.b', [pk(), vec()]],
  ['collection name with $', 'a$', [pk(), vec()]],
  ['collection name not ASCII', 'colección', [pk(), vec()]],
  // fields and keys
  ['no fields at all', null, []],
  ['duplicate field names', null, [pk(), vec(), fld('v', DataType.Int32)]],
  ['duplicate field names differing only by type', null, [pk(), vec(), fld('x', DataType.Int32), fld('x', DataType.Int64)]],
  ['no primary key', null, [fld('id', DataType.Int64), vec()]],
  ['two primary keys', null, [pk(), fld('id2', DataType.Int64, {}, { isPrimaryKey: true }), vec()]],
  ['Float primary key', null, [fld('id', DataType.Float, {}, { isPrimaryKey: true }), vec()]],
  ['Bool primary key', null, [fld('id', DataType.Bool, {}, { isPrimaryKey: true }), vec()]],
  ['VarChar primary key without max_length', null, [fld('id', DataType.VarChar, {}, { isPrimaryKey: true }), vec()]],
  ['nullable primary key', null, [pk({ nullable: true }), vec()]],
  ['primary key with a default value', null, [pk({ defaultValue: { longData: 5 } }), vec()]],
  ['autoID on a non-primary field', null, [pk(), vec(), fld('n', DataType.Int64, {}, { autoID: true })]],
  ['autoID on a Float field', null, [pk(), vec(), fld('f', DataType.Float, {}, { autoID: true })]],
  ['no vector field', null, [pk(), fld('n', DataType.Int32)]],
  ['five vector fields (max 4)', null, [pk(), vec(), fld('v2', DataType.FloatVector, { dim: 8 }), fld('v3', DataType.BinaryVector, { dim: 8 }), fld('v4', DataType.Float16Vector, { dim: 8 }), fld('v5', DataType.BFloat16Vector, { dim: 8 })]],
  ['too many fields (70)', null, [pk(), vec(), ...Array.from({ length: 68 }, (_, i) => fld(`f${i}`, DataType.Int32))]],
  // vector dims
  ['dim 0', null, [pk(), vec({}, 0)]],
  ['dim -1', null, [pk(), vec({}, -1)]],
  ['dim 40000', null, [pk(), vec({}, 40000)]],
  ['dim not a number', null, [pk(), vec({}, 'abc')]],
  ['dim 8.5', null, [pk(), vec({}, '8.5')]],
  ['dim missing', null, [pk(), fld('v', DataType.FloatVector)]],
  ['binary dim not a multiple of 8', null, [pk(), fld('v', DataType.BinaryVector, { dim: 12 })]],
  ['binary dim 0', null, [pk(), fld('v', DataType.BinaryVector, { dim: 0 })]],
  ['float16 dim 0', null, [pk(), fld('v', DataType.Float16Vector, { dim: 0 })]],
  ['bfloat16 dim 40000', null, [pk(), fld('v', DataType.BFloat16Vector, { dim: 40000 })]],
  ['sparse vector with a dim', null, [pk(), fld('v', DataType.SparseFloatVector, { dim: 8 })]],
  // VarChar / Array
  ['VarChar without max_length', null, [pk(), vec(), fld('s', DataType.VarChar)]],
  ['VarChar max_length 0', null, [pk(), vec(), fld('s', DataType.VarChar, { max_length: 0 })]],
  ['VarChar max_length 65536', null, [pk(), vec(), fld('s', DataType.VarChar, { max_length: 65536 })]],
  ['VarChar max_length not a number', null, [pk(), vec(), fld('s', DataType.VarChar, { max_length: 'long' })]],
  ['Array without element_type', null, [pk(), vec(), fld('a', DataType.Array, { max_capacity: 4 })]],
  ['Array without max_capacity', null, [pk(), vec(), fld('a', DataType.Array, {}, { elementType: DataType.Int32 })]],
  ['Array max_capacity 0', null, [pk(), vec(), fld('a', DataType.Array, { max_capacity: 0 }, { elementType: DataType.Int32 })]],
  ['Array max_capacity 5000', null, [pk(), vec(), fld('a', DataType.Array, { max_capacity: 5000 }, { elementType: DataType.Int32 })]],
  ['Array of Array', null, [pk(), vec(), fld('a', DataType.Array, { max_capacity: 4 }, { elementType: DataType.Array })]],
  ['Array of JSON', null, [pk(), vec(), fld('a', DataType.Array, { max_capacity: 4 }, { elementType: DataType.JSON })]],
  ['Array of FloatVector', null, [pk(), vec(), fld('a', DataType.Array, { max_capacity: 4, dim: 4 }, { elementType: DataType.FloatVector })]],
  ['Array of VarChar without max_length', null, [pk(), vec(), fld('a', DataType.Array, { max_capacity: 4 }, { elementType: DataType.VarChar })]],
  // types and names of fields
  ['unknown data type 999', null, [pk(), vec(), fld('x', 999)]],
  ['data type None', null, [pk(), vec(), fld('x', DataType.None)]],
  ['empty field name', null, [pk(), vec(), fld('', DataType.Int32)]],
  ['field name starting with a digit', null, [pk(), vec(), fld('1x', DataType.Int32)]],
  ['field name with a dash', null, [pk(), vec(), fld('x-y', DataType.Int32)]],
  ['field name of 256 chars', null, [pk(), vec(), fld('f'.repeat(256), DataType.Int32)]],
  ['field declared dynamic by the client', null, [pk(), vec(), fld('dyn', DataType.JSON, {}, { isDynamic: true })], { enableDynamicField: true }],
  ['field named $meta', null, [pk(), vec(), fld('$meta', DataType.JSON)], { enableDynamicField: true }],
  // partition keys
  ['two partition keys', null, [pk(), vec(), fld('p1', DataType.Int64, {}, { isPartitionKey: true }), fld('p2', DataType.Int64, {}, { isPartitionKey: true })]],
  ['partition key on a Float field', null, [pk(), vec(), fld('p', DataType.Float, {}, { isPartitionKey: true })]],
  ['partition key on the primary key', null, [pk({ isPartitionKey: true }), vec()]],
  ['nullable partition key', null, [pk(), vec(), fld('p', DataType.Int64, {}, { isPartitionKey: true, nullable: true })]],
  // default values
  ['default value of the wrong type (string for Int64)', null, [pk(), vec(), fld('n', DataType.Int64, {}, { defaultValue: { stringData: 'x' } })]],
  ['default value of the wrong type (bool for VarChar)', null, [pk(), vec(), fld('s', DataType.VarChar, { max_length: 8 }, { defaultValue: { boolData: true } })]],
  ['default VarChar longer than max_length', null, [pk(), vec(), fld('s', DataType.VarChar, { max_length: 3 }, { defaultValue: { stringData: 'toolong' } })]],
  ['Int8 default out of range (300)', null, [pk(), vec(), fld('n', DataType.Int8, {}, { defaultValue: { intData: 300 } })]],
  ['Int16 default out of range (70000)', null, [pk(), vec(), fld('n', DataType.Int16, {}, { defaultValue: { intData: 70000 } })]],
  ['default value on a vector field', null, [pk(), fld('v', DataType.FloatVector, { dim: 4 }, { defaultValue: { floatData: 1 } })]],
  // request options
  ['shards_num 1000', null, [pk(), vec()], {}, { shards_num: 1000 }],
  ['num_partitions 5000 with a partition key', null, [pk(), vec(), fld('p', DataType.Int64, {}, { isPartitionKey: true })], {}, { num_partitions: 5000 }],
  ['num_partitions without a partition key', null, [pk(), vec()], {}, { num_partitions: 16 }],
];

for (const [what, name, fields, schemaExtra = {}, reqExtra = {}] of SCHEMAS) {
  t(`CreateCollection refuses: ${what}`, async tc => {
    const c = srv.client;
    const collection_name = name === null ? uniq('bad') : name;
    const res = await rawCreateCollection(c, { collection_name, schema: { name: collection_name, fields, ...schemaExtra }, ...reqExtra });
    const st = fails(res, E.INVALID, what);
    tc.diagnostic(`reason: ${st.reason.slice(0, 200)}`);
    // Nothing was created.
    if (collection_name) {
      const h = await raw(c, 'HasCollection', { collection_name });
      if (h.status.error_code === 'Success') assert.equal(h.value, false, `${what}: collection exists after a refused create`);
    }
    await assertHealthy(srv);
  });
}

t('CreateCollection refuses undecodable schema bytes and an empty schema', async () => {
  const c = srv.client;
  fails(await raw(c, 'CreateCollection', { collection_name: uniq('bad'), schema: Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]) }), E.INVALID, 'garbage schema bytes');
  fails(await raw(c, 'CreateCollection', { collection_name: uniq('bad'), schema: Buffer.alloc(0) }), E.INVALID, 'empty schema bytes');
  fails(await raw(c, 'CreateCollection', { collection_name: uniq('bad') }), E.INVALID, 'no schema');
  await assertHealthy(srv);
});

t('SDK-level bad input: the SDK refuses some schemas itself, the rest reach the server', async () => {
  const c = srv.client;
  // The SDK throws before sending (documented here so a change of SDK behaviour shows up).
  await assert.rejects(c.createCollection({ collection_name: uniq('x'), fields: [{ name: 'v', data_type: DataType.FloatVector, dim: 8 }] }), /primary/i);
  await assert.rejects(c.createCollection({ collection_name: uniq('x'), fields: [basicFields()[0], { name: 'v', data_type: DataType.BinaryVector, dim: 12 }] }), /8/);
  // createCollection with fields throws the Status object on a server error.
  const st = await call(c.createCollection({ collection_name: '1bad', fields: basicFields() }));
  fails(st, E.INVALID, 'SDK createCollection with invalid name');
  // The quick form raises Error(reason).
  await assert.rejects(within(c.createCollection({ collection_name: uniq('q'), dimension: 0 }), 10000, 'quick dim 0'), /./);
  await assert.rejects(within(c.createCollection({ collection_name: uniq('q'), dimension: 40000 }), 10000, 'quick dim 40000'), /./);
  await assertHealthy(srv);
});

// ---- every call naming something that does not exist --------------------

/** [call, (client, names) => reply, expected for a missing collection] */
const CALLS = [
  ['DescribeCollection', (c, n) => raw(c, 'DescribeCollection', { db_name: n.db, collection_name: n.coll })],
  ['CreatePartition', (c, n) => raw(c, 'CreatePartition', { db_name: n.db, collection_name: n.coll, partition_name: 'p' })],
  ['HasPartition', (c, n) => raw(c, 'HasPartition', { db_name: n.db, collection_name: n.coll, partition_name: 'p' })],
  ['ShowPartitions', (c, n) => raw(c, 'ShowPartitions', { db_name: n.db, collection_name: n.coll })],
  ['DropPartition', (c, n) => raw(c, 'DropPartition', { db_name: n.db, collection_name: n.coll, partition_name: 'p' })],
  ['GetCollectionStatistics', (c, n) => raw(c, 'GetCollectionStatistics', { db_name: n.db, collection_name: n.coll })],
  ['GetPartitionStatistics', (c, n) => raw(c, 'GetPartitionStatistics', { db_name: n.db, collection_name: n.coll, partition_name: '_default' })],
  ['AlterCollection', (c, n) => raw(c, 'AlterCollection', { db_name: n.db, collection_name: n.coll, properties: [{ key: 'a', value: 'b' }] })],
  ['RenameCollection', (c, n) => raw(c, 'RenameCollection', { db_name: n.db, oldName: n.coll, newName: uniq('r') })],
  ['CreateIndex', (c, n) => raw(c, 'CreateIndex', { db_name: n.db, collection_name: n.coll, field_name: 'vector', extra_params: [{ key: 'index_type', value: 'FLAT' }, { key: 'metric_type', value: 'L2' }] })],
  ['DescribeIndex', (c, n) => raw(c, 'DescribeIndex', { db_name: n.db, collection_name: n.coll, field_name: 'vector' })],
  ['GetIndexState', (c, n) => raw(c, 'GetIndexState', { db_name: n.db, collection_name: n.coll, field_name: 'vector' })],
  ['GetIndexBuildProgress', (c, n) => raw(c, 'GetIndexBuildProgress', { db_name: n.db, collection_name: n.coll, field_name: 'vector' })],
  ['DropIndex', (c, n) => raw(c, 'DropIndex', { db_name: n.db, collection_name: n.coll, field_name: 'vector', index_name: 'x' })],
  ['LoadCollection', (c, n) => raw(c, 'LoadCollection', { db_name: n.db, collection_name: n.coll })],
  ['ReleaseCollection', (c, n) => raw(c, 'ReleaseCollection', { db_name: n.db, collection_name: n.coll })],
  ['LoadPartitions', (c, n) => raw(c, 'LoadPartitions', { db_name: n.db, collection_name: n.coll, partition_names: ['_default'] })],
  ['ReleasePartitions', (c, n) => raw(c, 'ReleasePartitions', { db_name: n.db, collection_name: n.coll, partition_names: ['_default'] })],
  ['GetLoadingProgress', (c, n) => raw(c, 'GetLoadingProgress', { db_name: n.db, collection_name: n.coll })],
  ['GetLoadState', (c, n) => raw(c, 'GetLoadState', { db_name: n.db, collection_name: n.coll })],
  ['CreateAlias', (c, n) => raw(c, 'CreateAlias', { db_name: n.db, collection_name: n.coll, alias: uniq('al') })],
  ['ListAliases', (c, n) => raw(c, 'ListAliases', { db_name: n.db, collection_name: n.coll })],
];

for (const [method, run] of CALLS) {
  t(`${method} on a missing collection -> collection not found (100)`, async () => {
    const res = await within(run(srv.client, { db: 'default', coll: 'no_such_collection' }), 10000, method);
    fails(res, E.COLLECTION_NOT_FOUND, method);
    await assertHealthy(srv);
  });
  t(`${method} in a missing database -> database not found (800)`, async () => {
    const res = await within(run(srv.client, { db: 'no_such_db', coll: existing }), 10000, method);
    fails(res, E.DATABASE_NOT_FOUND, method);
    await assertHealthy(srv);
  });
}

t('calls in a missing database: ShowCollections, CreateCollection, DescribeAlias, DropAlias', async () => {
  const c = srv.client;
  const db = 'no_such_db';
  fails(await raw(c, 'ShowCollections', { db_name: db }), E.DATABASE_NOT_FOUND, 'ShowCollections');
  fails(await rawCreateCollection(c, { db_name: db, collection_name: 'x', schema: { name: 'x', fields: [pk(), vec()] } }), E.DATABASE_NOT_FOUND, 'CreateCollection');
  fails(await raw(c, 'DescribeAlias', { db_name: db, alias: 'a' }), E.DATABASE_NOT_FOUND, 'DescribeAlias');
  fails(await raw(c, 'DescribeDatabase', { db_name: db }), E.DATABASE_NOT_FOUND, 'DescribeDatabase');
  fails(await raw(c, 'AlterDatabase', { db_name: db, properties: [{ key: 'a', value: 'b' }] }), E.DATABASE_NOT_FOUND, 'AlterDatabase');
  await assertHealthy(srv);
});

t('missing partitions -> partition not found (200)', async () => {
  const c = srv.client;
  fails(await raw(c, 'GetPartitionStatistics', { collection_name: existing, partition_name: 'zz' }), E.PARTITION_NOT_FOUND, 'GetPartitionStatistics');
  fails(await raw(c, 'LoadPartitions', { collection_name: existing, partition_names: ['zz'] }), E.PARTITION_NOT_FOUND, 'LoadPartitions');
  fails(await raw(c, 'ReleasePartitions', { collection_name: existing, partition_names: ['zz'] }), E.PARTITION_NOT_FOUND, 'ReleasePartitions');
  fails(await raw(c, 'GetLoadState', { collection_name: existing, partition_names: ['zz'] }), E.PARTITION_NOT_FOUND, 'GetLoadState');
  fails(await raw(c, 'GetLoadingProgress', { collection_name: existing, partition_names: ['zz'] }), E.PARTITION_NOT_FOUND, 'GetLoadingProgress');
  await assertHealthy(srv);
});

t('empty names in requests are refused, not treated as a lookup', async () => {
  const c = srv.client;
  for (const m of ['DescribeCollection', 'DropCollection', 'ShowPartitions', 'LoadCollection', 'ReleaseCollection', 'GetCollectionStatistics', 'DescribeIndex']) {
    const res = await raw(c, m, { collection_name: '' });
    fails(res, {}, `${m} with an empty collection name`);
  }
  // An empty db_name means "default" (pymilvus sends ""), so these act on default.
  const dd = ok(await raw(c, 'DescribeDatabase', { db_name: '' }), 'DescribeDatabase ""');
  assert.equal(dd.db_name, 'default');
  fails(await raw(c, 'DropDatabase', { db_name: '' }), {}, 'DropDatabase "" (= default)');
  assert.ok(ok(await c.listDatabases()).db_names.includes('default'));
  fails(await raw(c, 'CreateIndex', { collection_name: existing, field_name: '' }), {}, 'CreateIndex with no field');
  await assertHealthy(srv);
});

t('a very long (1 MB) collection name is refused', async () => {
  const c = srv.client;
  const name = 'x'.repeat(1 << 20);
  fails(await raw(c, 'DescribeCollection', { collection_name: name }), {}, 'DescribeCollection 1MB name');
  fails(await rawCreateCollection(c, { collection_name: name, schema: { name, fields: [pk(), vec()] } }), E.INVALID, 'CreateCollection 1MB name');
  await assertHealthy(srv);
});

// ---- unserved methods and undecodable messages ---------------------------
t('unserved methods (insert, search, query, ...) do not crash the server', async () => {
  const c = srv.client;
  // Through the SDK: Insert / Search / Query / Delete answer UNIMPLEMENTED,
  // which the SDK's interceptor turns into an empty reply; whatever the SDK
  // makes of that, the server must stay up.
  const attempts = [
    () => c.insert({ collection_name: existing, data: [{ id: 1, vector: Array(8).fill(0.5) }] }),
    () => c.search({ collection_name: existing, data: [Array(8).fill(0.5)], limit: 3 }),
    () => c.query({ collection_name: existing, filter: 'id > 0', limit: 3 }),
    () => c.delete({ collection_name: existing, filter: 'id > 0' }),
    () => c.upsert({ collection_name: existing, data: [{ id: 1, vector: Array(8).fill(0.5) }] }),
    () => c.flush({ collection_names: [existing] }),
  ];
  for (const a of attempts) {
    try { await within(a(), 15000, 'unserved call'); } catch (e) {
      if (/did not finish/.test(e.message)) throw e;
    }
  }
  for (const m of ['Search', 'Query', 'Delete', 'Insert', 'Upsert', 'Flush', 'HybridSearch', 'GetFlushState',
    'ManualCompaction', 'GetMetrics', 'CreateCredential', 'ListCredUsers', 'CreateRole', 'GetReplicas',
    'CreateResourceGroup', 'ListResourceGroups', 'Import', 'GetPersistentSegmentInfo', 'GetQuerySegmentInfo']) {
    await raw(c, m, {}).catch(() => {});
  }
  await assertHealthy(srv);
  ok(await c.describeCollection({ collection_name: existing }), 'catalogue intact');
});

t('undecodable request bytes on served methods get a gRPC error, not a crash', async () => {
  // A bare gRPC client with identity serializers, so the bytes go out as given.
  const id = b => b;
  const Client = grpc.makeGenericClientConstructor({}, 'Raw');
  const rc = new Client(srv.address, grpc.credentials.createInsecure());
  const send = (method, bytes) => new Promise(resolve => {
    rc.makeUnaryRequest(`/milvus.proto.milvus.MilvusService/${method}`, id, id, bytes, new grpc.Metadata(), { deadline: Date.now() + 5000 },
      (err, res) => resolve({ err, res }));
  });
  try {
    const garbage = [Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.from([0x0a, 0x80]), Buffer.from([0x1a, 0x05, 0x61]), Buffer.alloc(64, 0xee)];
    for (const m of ['CreateCollection', 'DescribeCollection', 'CreateIndex', 'CreateDatabase', 'AllocTimestamp', 'Connect', 'LoadCollection', 'CreateAlias', 'NoSuchMethod']) {
      for (const g of garbage) {
        const { err, res } = await send(m, g);
        if (!err) {
          // A decoded-as-empty reply is acceptable only if it is not a silent success of a DDL.
          assert.ok(Buffer.isBuffer(res), `${m}: reply`);
        } else {
          assert.ok(typeof err.code === 'number', `${m}: gRPC error ${err}`);
          assert.notEqual(err.code, grpc.status.UNAVAILABLE, `${m}: server unavailable after garbage`);
        }
      }
    }
  } finally {
    rc.close();
  }
  await assertHealthy(srv);
});

t('concurrent DDL: 20 racing creates of one name leave exactly one collection', async () => {
  const c = srv.client;
  const name = uniq('race');
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) =>
    call(c.createCollection({ collection_name: name, fields: basicFields({ dim: 8 + 8 * (i % 2) }) }))));
  const wins = results.filter(r => r.error_code === 'Success');
  assert.ok(wins.length >= 1, 'at least one create succeeded');
  for (const r of results) if (r.error_code !== 'Success') fails(r, {}, 'losing create');
  const l = ok(await c.showCollections());
  assert.equal(l.collection_names.filter(n => n === name).length, 1);
  // Racing distinct creates all land.
  const names = Array.from({ length: 20 }, () => uniq('par'));
  await Promise.all(names.map(n => c.createCollection({ collection_name: n, fields: basicFields() }).then(r => ok(r, n))));
  const l2 = ok(await c.showCollections());
  for (const n of names) assert.ok(l2.collection_names.includes(n), n);
  const ids = new Set(l2.collection_ids.map(String));
  assert.equal(ids.size, l2.collection_ids.length, 'collection ids are unique');
  await Promise.all([name, ...names].map(n => c.dropCollection({ collection_name: n })));
  await assertHealthy(srv);
});

const BAD_PROPS = [['collection.ttl.seconds', 'abc'], ['collection.ttl.seconds', '-5'], ['mmap.enabled', 'maybe']];

t('invalid collection property values are refused by AlterCollection', async () => {
  const c = srv.client;
  for (const [k, v] of BAD_PROPS) {
    fails(await c.alterCollectionProperties({ collection_name: existing, properties: { [k]: v } }), E.INVALID, `alter ${k}=${v}`);
  }
  const d = ok(await c.describeCollection({ collection_name: existing }));
  assert.deepEqual(d.properties, [], 'nothing was recorded');
  await assertHealthy(srv);
});

t('invalid collection property values are refused by CreateCollection', async () => {
  const c = srv.client;
  for (const [k, v] of BAD_PROPS) {
    const name = uniq('p');
    const res = await call(c.createCollection({ collection_name: name, fields: basicFields(), properties: { [k]: v } }));
    if (res.error_code === 'Success') await c.dropCollection({ collection_name: name });
    fails(res, E.INVALID, `create ${k}=${v}`);
  }
  await assertHealthy(srv);
});

t('invalid index names are refused', async () => {
  const c = srv.client;
  const name = uniq('ixn');
  ok(await c.createCollection({ collection_name: name, fields: basicFields() }));
  for (const bad of ['1idx', 'i-x', 'i x', 'i'.repeat(256)]) {
    fails(await c.createIndex({ collection_name: name, field_name: 'vector', index_name: bad, index_type: 'FLAT', metric_type: 'L2' }), E.INVALID, `index name ${bad.slice(0, 20)}`);
  }
  fails(await c.describeIndex({ collection_name: name }), E.INDEX_NOT_FOUND, 'nothing recorded');
  ok(await c.dropCollection({ collection_name: name }));
});

t('the number of databases is limited, with a clear error', async () => {
  const c = srv.client;
  const made = [];
  let refused = null;
  for (let i = 0; i < 80 && !refused; i++) {
    const db = `lim_db_${i}`;
    const r = await c.createDatabase({ db_name: db });
    if (r.error_code === 'Success') made.push(db); else refused = r;
  }
  try {
    assert.ok(refused, `80 databases created without a limit`);
    fails(refused, {}, 'database limit');
    assert.ok(made.length + 1 >= 16, `limit hit after only ${made.length} databases`);
  } finally {
    for (const db of made) ok(await c.dropDatabase({ db_name: db }), `drop ${db}`);
  }
  // Room again after dropping.
  ok(await c.createDatabase({ db_name: 'lim_after' }));
  ok(await c.dropDatabase({ db_name: 'lim_after' }));
});
