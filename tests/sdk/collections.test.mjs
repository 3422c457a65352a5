// collections.test.mjs: the quick one-call setup, a full-schema round trip
// (every field type and field option, DescribeCollection field by field),
// has/list/rename/alter/drop, statistics, describe by alias.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, serverTest, ok, fails, uniq, E, basicFields, call, raw, DataType, within, assertHealthy, statusOf,
} from './harness.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.finish(); });
const t = (name, fn, opts) => serverTest(() => srv, name, fn, opts);

const kv = list => Object.fromEntries((list || []).map(p => [p.key, p.value]));

/**
 * Compares a described field with the spec it was created from, attribute by
 * attribute (the SDK's own spellings). typeParams: expected type_params as an
 * object of strings.
 */
function assertField(got, spec, typeParams) {
  const where = `field ${spec.name}`;
  assert.equal(got.name, spec.name, where);
  assert.equal(got.data_type, DataType[spec.data_type], `${where}: data_type`);
  assert.equal(got.is_primary_key, !!spec.is_primary_key, `${where}: is_primary_key`);
  assert.equal(got.autoID, !!spec.autoID, `${where}: autoID`);
  assert.equal(got.description, spec.description || '', `${where}: description`);
  assert.equal(got.nullable, !!spec.nullable, `${where}: nullable`);
  assert.equal(got.is_partition_key, !!spec.is_partition_key, `${where}: is_partition_key`);
  assert.equal(got.is_dynamic, false, `${where}: is_dynamic`);
  assert.equal(got.is_function_output, false, `${where}: is_function_output`);
  if (spec.data_type === DataType.Array) {
    assert.equal(got.element_type, DataType[spec.element_type], `${where}: element_type`);
  }
  assert.deepEqual(kv(got.type_params), typeParams, `${where}: type_params`);
  if (spec.default_value === undefined) {
    assert.ok(got.default_value === undefined || got.default_value === null, `${where}: no default expected, got ${JSON.stringify(got.default_value)}`);
  } else {
    let want = spec.default_value;
    if (spec.data_type === DataType.Int64) want = String(want);
    if (spec.data_type === DataType.Float) assert.ok(Math.abs(got.default_value - want) < 1e-6, `${where}: default ${got.default_value}`);
    else assert.deepEqual(got.default_value, want, `${where}: default_value`);
  }
  assert.ok(BigInt(got.fieldID) >= 100n, `${where}: user field ids start at 100, got ${got.fieldID}`);
}

// Every scalar type, options, and four vector types (Milvus allows at most 4 vector fields).
const FULL = [
  { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID: true, description: 'the primary key' },
  { name: 'flag', data_type: DataType.Bool, nullable: true, default_value: true },
  { name: 'i8', data_type: DataType.Int8, default_value: -7 },
  { name: 'i16', data_type: DataType.Int16, nullable: true },
  { name: 'i32', data_type: DataType.Int32, default_value: 100000, description: 'int32 with default' },
  { name: 'tenant', data_type: DataType.Int64, is_partition_key: true },
  { name: 'i64', data_type: DataType.Int64, nullable: true, default_value: 1234567890123 },
  { name: 'f32', data_type: DataType.Float, default_value: 1.5 },
  { name: 'f64', data_type: DataType.Double, nullable: true, default_value: 2.25 },
  { name: 'title', data_type: DataType.VarChar, max_length: 512, default_value: 'untitled' },
  { name: 'note', data_type: DataType.VarChar, max_length: 16, nullable: true },
  { name: 'tags', data_type: DataType.Array, element_type: DataType.VarChar, max_capacity: 8, max_length: 32, nullable: true },
  { name: 'nums', data_type: DataType.Array, element_type: DataType.Int32, max_capacity: 100 },
  { name: 'meta', data_type: DataType.JSON, nullable: true },
  { name: 'fv', data_type: DataType.FloatVector, dim: 128, description: 'float vector' },
  { name: 'bv', data_type: DataType.BinaryVector, dim: 256 },
  { name: 'hv', data_type: DataType.Float16Vector, dim: 64 },
  { name: 'bfv', data_type: DataType.BFloat16Vector, dim: 32 },
];
const FULL_PARAMS = {
  tags: { max_capacity: '8', max_length: '32' },
  nums: { max_capacity: '100' },
  title: { max_length: '512' },
  note: { max_length: '16' },
  fv: { dim: '128' },
  bv: { dim: '256' },
  hv: { dim: '64' },
  bfv: { dim: '32' },
};

t('full schema round trip: DescribeCollection returns every field as created', async () => {
  const c = srv.client;
  const name = uniq('full');
  ok(await c.createCollection({
    collection_name: name,
    description: 'all field types',
    fields: FULL,
    enable_dynamic_field: true,
    consistency_level: 'Strong',
    shards_num: 2,
    num_partitions: 8,
    properties: { 'collection.ttl.seconds': '3600', 'mmap.enabled': 'false' },
  }), 'CreateCollection');
  const d = ok(await c.describeCollection({ collection_name: name }), 'DescribeCollection');
  assert.equal(d.collection_name, name);
  assert.equal(d.schema.name, name);
  assert.equal(d.schema.description, 'all field types');
  assert.equal(d.schema.enable_dynamic_field, true);
  assert.equal(d.consistency_level, 'Strong');
  assert.equal(d.shards_num, 2);
  assert.equal(String(d.num_partitions), '8');
  assert.equal(d.db_name, 'default');
  assert.notEqual(String(d.collectionID), '0');
  assert.notEqual(String(d.created_utc_timestamp), '0');
  assert.notEqual(String(d.created_timestamp), '0');
  const props = kv(d.properties);
  assert.equal(props['collection.ttl.seconds'], '3600');
  assert.equal(props['mmap.enabled'], 'false');
  // $meta and the system fields (ids 0 and 1) are hidden.
  const names = d.schema.fields.map(f => f.name);
  assert.deepEqual(names, FULL.map(f => f.name), 'same fields, same order, no $meta / RowID / Timestamp');
  for (let i = 0; i < FULL.length; i++) assertField(d.schema.fields[i], FULL[i], FULL_PARAMS[FULL[i].name] || {});
  // Field ids are distinct.
  const ids = new Set(d.schema.fields.map(f => String(f.fieldID)));
  assert.equal(ids.size, FULL.length);
  // Partition key collection: num_partitions partitions exist.
  const parts = ok(await c.listPartitions({ collection_name: name }), 'ShowPartitions');
  assert.equal(parts.partition_names.length, 8, JSON.stringify(parts.partition_names));
  // The SDK's derived views.
  assert.deepEqual(Object.keys(d.anns_fields).sort(), ['bfv', 'bv', 'fv', 'hv']);
  ok(await c.dropCollection({ collection_name: name }), 'DropCollection');
});

t('second schema: VarChar primary key, sparse vector, no dynamic field, defaults', async () => {
  const c = srv.client;
  const name = uniq('sparse');
  const fields = [
    { name: 'doc_id', data_type: DataType.VarChar, is_primary_key: true, max_length: 100 },
    { name: 'sv', data_type: DataType.SparseFloatVector },
    { name: 'bfv', data_type: DataType.BFloat16Vector, dim: 8 },
    { name: 'label', data_type: DataType.Int16, default_value: 3 },
    { name: 'flags', data_type: DataType.Array, element_type: DataType.Bool, max_capacity: 4 },
    { name: 'scores', data_type: DataType.Array, element_type: DataType.Double, max_capacity: 4 },
  ];
  ok(await c.createCollection({ collection_name: name, fields }), 'CreateCollection');
  const d = ok(await c.describeCollection({ collection_name: name }), 'DescribeCollection');
  assert.equal(d.schema.enable_dynamic_field, false);
  assert.equal(d.consistency_level, 'Bounded', 'the SDK sends Bounded by default');
  assert.equal(d.shards_num, 1, 'default shards_num');
  assert.deepEqual(d.schema.fields.map(f => f.name), fields.map(f => f.name));
  assertField(d.schema.fields[0], fields[0], { max_length: '100' });
  assertField(d.schema.fields[1], fields[1], {});
  assertField(d.schema.fields[2], fields[2], { dim: '8' });
  assertField(d.schema.fields[3], fields[3], {});
  assertField(d.schema.fields[4], fields[4], { max_capacity: '4' });
  assertField(d.schema.fields[5], fields[5], { max_capacity: '4' });
  // Not a partition-key collection: only _default.
  const parts = ok(await c.listPartitions({ collection_name: name }));
  assert.deepEqual(parts.partition_names, ['_default']);
  ok(await c.dropCollection({ collection_name: name }));
});

t('enable_dynamic_field: $meta is never shown and is_dynamic is false everywhere', async () => {
  const c = srv.client;
  const name = uniq('dyn');
  ok(await c.createCollection({ collection_name: name, fields: basicFields(), enable_dynamic_field: true }));
  const d = ok(await c.describeCollection({ collection_name: name }));
  assert.equal(d.schema.enable_dynamic_field, true);
  assert.ok(!d.schema.fields.some(f => f.name === '$meta' || f.is_dynamic), JSON.stringify(d.schema.fields.map(f => f.name)));
  assert.deepEqual(d.schema.fields.map(f => f.name), ['id', 'vector']);
  // A client may not declare $meta itself.
  fails(await call(c.createCollection({
    collection_name: uniq('dyn'),
    fields: [...basicFields(), { name: '$meta', data_type: DataType.JSON }],
    enable_dynamic_field: true,
  })), E.INVALID, 'declaring $meta');
  ok(await c.dropCollection({ collection_name: name }));
});

t('quick setup createCollection({collection_name, dimension}) completes with index and load', async () => {
  const c = srv.client;
  const name = uniq('quick');
  const r = await within(c.createCollection({ collection_name: name, dimension: 8 }), 20000, 'quick createCollection');
  ok(r, 'quick createCollection');
  const d = ok(await c.describeCollection({ collection_name: name }));
  assert.deepEqual(d.schema.fields.map(f => [f.name, f.data_type, f.is_primary_key, f.autoID]),
    [['id', 'Int64', true, false], ['vector', 'FloatVector', false, false]]);
  assert.equal(d.schema.fields[1].dim, '8');
  assert.equal(d.schema.enable_dynamic_field, true);
  assert.equal(d.consistency_level, 'Bounded');
  const idx = ok(await c.describeIndex({ collection_name: name }), 'DescribeIndex');
  assert.equal(idx.index_descriptions.length, 1);
  const p = kv(idx.index_descriptions[0].params);
  assert.equal(idx.index_descriptions[0].field_name, 'vector');
  assert.equal(p.metric_type, 'COSINE', JSON.stringify(p));
  const st = ok(await c.getLoadState({ collection_name: name }), 'GetLoadState');
  assert.equal(st.state, 'LoadStateLoaded');
  // Running it again on the existing collection also completes (DescribeIndex
  // path: IndexNotExist is not returned, so no second index). The SDK then
  // returns its placeholder status with error_code '' (not 'Success'), so only
  // "it resolves" is checked, plus the state afterwards.
  const again = await within(c.createCollection({ collection_name: name, dimension: 8 }), 20000, 'quick createCollection again');
  assert.notEqual(statusOf(again).error_code, undefined);
  const idx2 = ok(await c.describeIndex({ collection_name: name }), 'DescribeIndex');
  assert.equal(idx2.index_descriptions.length, 1, 'still one index');
  assert.equal(ok(await c.getLoadState({ collection_name: name })).state, 'LoadStateLoaded');
  ok(await c.dropCollection({ collection_name: name }));
});

t('quick setup with options: metric, auto_id, VarChar id', async () => {
  const c = srv.client;
  const name = uniq('quick');
  ok(await within(c.createCollection({
    collection_name: name, dimension: 16, metric_type: 'L2', auto_id: true,
    primary_field_name: 'pk', vector_field_name: 'emb',
  }), 20000, 'quick createCollection'));
  const d = ok(await c.describeCollection({ collection_name: name }));
  assert.deepEqual(d.schema.fields.map(f => f.name), ['pk', 'emb']);
  assert.equal(d.schema.fields[0].autoID, true);
  const idx = ok(await c.describeIndex({ collection_name: name, field_name: 'emb' }));
  assert.equal(kv(idx.index_descriptions[0].params).metric_type, 'L2');
  ok(await c.dropCollection({ collection_name: name }));
});

t('has/list/drop collections', async () => {
  const c = srv.client;
  const a = uniq('a');
  const b = uniq('b');
  ok(await c.createCollection({ collection_name: a, fields: basicFields() }));
  ok(await c.createCollection({ collection_name: b, fields: basicFields() }));
  assert.equal((await c.hasCollection({ collection_name: a })).value, true);
  assert.equal((await c.hasCollection({ collection_name: 'nope_nope' })).value, false);
  // The HasCollection RPC itself (the SDK uses DescribeCollection).
  const h1 = ok(await raw(c, 'HasCollection', { collection_name: a }));
  assert.equal(h1.value, true);
  const h2 = ok(await raw(c, 'HasCollection', { collection_name: 'nope_nope' }));
  assert.equal(h2.value, false);

  const l = ok(await c.showCollections(), 'ShowCollections');
  assert.ok(l.collection_names.includes(a) && l.collection_names.includes(b));
  assert.equal(l.collection_ids.length, l.collection_names.length);
  assert.equal(l.created_utc_timestamps.length, l.collection_names.length);
  const da = ok(await c.describeCollection({ collection_name: a }));
  const ia = l.collection_names.indexOf(a);
  assert.equal(String(l.collection_ids[ia]), String(da.collectionID));
  assert.equal(l.data[ia].name, a);
  // Listing by names.
  const l2 = ok(await c.showCollections({ collection_names: [b] }));
  assert.ok(l2.collection_names.includes(b));

  ok(await c.dropCollection({ collection_name: a }), 'DropCollection');
  fails(await c.describeCollection({ collection_name: a }), E.COLLECTION_NOT_FOUND, 'describe dropped');
  assert.equal((await c.hasCollection({ collection_name: a })).value, false);
  const l3 = ok(await c.showCollections());
  assert.ok(!l3.collection_names.includes(a));
  assert.ok(l3.collection_names.includes(b));
  // Recreate under the same name: a new, larger id.
  ok(await c.createCollection({ collection_name: a, fields: basicFields({ dim: 4 }) }));
  const da2 = ok(await c.describeCollection({ collection_name: a }));
  assert.ok(BigInt(da2.collectionID) > BigInt(da.collectionID));
  assert.equal(da2.schema.fields[1].dim, '4');
  ok(await c.dropCollection({ collection_name: a }));
  ok(await c.dropCollection({ collection_name: b }));
});

t('creating a collection that exists with a different schema fails', async () => {
  const c = srv.client;
  const a = uniq('dup');
  ok(await c.createCollection({ collection_name: a, fields: basicFields({ dim: 8 }) }));
  fails(await call(c.createCollection({ collection_name: a, fields: basicFields({ dim: 16 }) })), {}, 'create again, other dim');
  const d = ok(await c.describeCollection({ collection_name: a }));
  assert.equal(d.schema.fields[1].dim, '8', 'the original survives');
  ok(await c.dropCollection({ collection_name: a }));
});

t('rename collection', async () => {
  const c = srv.client;
  const a = uniq('ren');
  const b = uniq('ren');
  const other = uniq('ren');
  ok(await c.createCollection({ collection_name: a, fields: basicFields() }));
  ok(await c.createCollection({ collection_name: other, fields: basicFields() }));
  const id = ok(await c.describeCollection({ collection_name: a })).collectionID;
  ok(await c.renameCollection({ collection_name: a, new_collection_name: b }), 'RenameCollection');
  fails(await c.describeCollection({ collection_name: a }), E.COLLECTION_NOT_FOUND, 'old name');
  const d = ok(await c.describeCollection({ collection_name: b }));
  assert.equal(String(d.collectionID), String(id));
  assert.equal(d.collection_name, b);
  assert.equal(d.schema.name, b);
  const l = ok(await c.showCollections());
  assert.ok(l.collection_names.includes(b) && !l.collection_names.includes(a));
  // Onto an existing name, from a missing name, to an invalid name: errors.
  fails(await c.renameCollection({ collection_name: b, new_collection_name: other }), {}, 'rename onto existing');
  fails(await c.renameCollection({ collection_name: 'nope_nope', new_collection_name: uniq('x') }), E.COLLECTION_NOT_FOUND, 'rename missing');
  fails(await c.renameCollection({ collection_name: b, new_collection_name: '1bad-name' }), E.INVALID, 'rename invalid');
  // Into another database.
  const db = uniq('db');
  ok(await c.createDatabase({ db_name: db }));
  ok(await c.renameCollection({ collection_name: b, new_collection_name: b, new_db_name: db }), 'rename across db');
  fails(await c.describeCollection({ collection_name: b }), E.COLLECTION_NOT_FOUND, 'gone from default');
  const d2 = ok(await c.describeCollection({ collection_name: b, db_name: db }));
  assert.equal(String(d2.collectionID), String(id));
  ok(await c.dropCollection({ collection_name: b, db_name: db }));
  ok(await c.dropDatabase({ db_name: db }));
  ok(await c.dropCollection({ collection_name: other }));
});

t('alter collection properties, then delete a key', async () => {
  const c = srv.client;
  const a = uniq('alt');
  ok(await c.createCollection({ collection_name: a, fields: basicFields(), properties: { 'collection.ttl.seconds': '60' } }));
  ok(await c.alterCollectionProperties({ collection_name: a, properties: { 'collection.ttl.seconds': '120', 'mmap.enabled': 'true' } }), 'AlterCollection');
  let p = kv(ok(await c.describeCollection({ collection_name: a })).properties);
  assert.equal(p['collection.ttl.seconds'], '120');
  assert.equal(p['mmap.enabled'], 'true');
  ok(await c.dropCollectionProperties({ collection_name: a, properties: ['mmap.enabled'] }), 'AlterCollection delete_keys');
  p = kv(ok(await c.describeCollection({ collection_name: a })).properties);
  assert.equal(p['mmap.enabled'], undefined);
  assert.equal(p['collection.ttl.seconds'], '120');
  fails(await c.alterCollectionProperties({ collection_name: 'nope_nope', properties: { a: '1' } }), E.COLLECTION_NOT_FOUND, 'alter missing');
  ok(await c.dropCollection({ collection_name: a }));
});

t('statistics of an empty collection: row_count 0', async () => {
  const c = srv.client;
  const a = uniq('stat');
  ok(await c.createCollection({ collection_name: a, fields: basicFields() }));
  const s = ok(await c.getCollectionStatistics({ collection_name: a }), 'GetCollectionStatistics');
  assert.equal(String(s.data.row_count), '0');
  fails(await c.getCollectionStatistics({ collection_name: 'nope_nope' }), E.COLLECTION_NOT_FOUND, 'stats missing');
  ok(await c.dropCollection({ collection_name: a }));
});

t('describe by alias returns the collection and lists its aliases', async () => {
  const c = srv.client;
  const a = uniq('real');
  const al = uniq('al');
  ok(await c.createCollection({ collection_name: a, fields: basicFields() }));
  ok(await c.createAlias({ collection_name: a, alias: al }), 'CreateAlias');
  const byName = ok(await c.describeCollection({ collection_name: a }));
  const byAlias = ok(await c.describeCollection({ collection_name: al }), 'describe by alias');
  assert.equal(byAlias.collection_name, a);
  assert.equal(String(byAlias.collectionID), String(byName.collectionID));
  assert.deepEqual(byName.aliases, [al]);
  assert.equal((await c.hasCollection({ collection_name: al })).value, true);
  ok(await c.dropAlias({ alias: al }));
  ok(await c.dropCollection({ collection_name: a }));
});

t('schema name differing from collection_name is rejected', async () => {
  // The SDK always copies collection_name into the schema; send the mismatch raw.
  const { rawCreateCollection } = await import('./harness.mjs');
  const res = await rawCreateCollection(srv.client, {
    collection_name: uniq('one'),
    schema: {
      name: 'another_name',
      fields: [
        { name: 'id', dataType: DataType.Int64, isPrimaryKey: true },
        { name: 'v', dataType: DataType.FloatVector, typeParams: [{ key: 'dim', value: '4' }] },
      ],
    },
  });
  fails(res, E.INVALID, 'schema/collection name mismatch');
  await assertHealthy(srv);
});

t('rename keeps aliases, partitions, indexes and the load state', async () => {
  const c = srv.client;
  const a = uniq('rk');
  const b = uniq('rk');
  const al = uniq('al');
  ok(await c.createCollection({ collection_name: a, fields: basicFields() }));
  ok(await c.createPartition({ collection_name: a, partition_name: 'p1' }));
  ok(await c.createIndex({ collection_name: a, field_name: 'vector', index_name: 'vi', index_type: 'FLAT', metric_type: 'L2' }));
  ok(await within(c.loadCollection({ collection_name: a }), 10000, 'load'));
  ok(await c.createAlias({ collection_name: a, alias: al }));
  ok(await c.renameCollection({ collection_name: a, new_collection_name: b }), 'RenameCollection');
  const d = ok(await c.describeCollection({ collection_name: al }), 'alias still resolves');
  assert.equal(d.collection_name, b);
  assert.equal(ok(await c.describeAlias({ collection_name: b, alias: al })).collection, b);
  assert.deepEqual(ok(await c.listPartitions({ collection_name: b })).partition_names, ['_default', 'p1']);
  const idx = ok(await c.describeIndex({ collection_name: b }));
  assert.equal(idx.index_descriptions[0].index_name, 'vi');
  assert.equal(ok(await c.getLoadState({ collection_name: b })).state, 'LoadStateLoaded');
  ok(await c.releaseCollection({ collection_name: b }));
  ok(await c.dropAlias({ alias: al }));
  ok(await c.dropCollection({ collection_name: b }));
});

t('quick setup in a non-default database', async () => {
  const c = srv.client;
  const db = uniq('db');
  const name = uniq('q');
  ok(await c.createDatabase({ db_name: db }));
  ok(await within(c.createCollection({ db_name: db, collection_name: name, dimension: 4 }), 20000, 'quick in db'));
  assert.equal(ok(await c.getLoadState({ db_name: db, collection_name: name })).state, 'LoadStateLoaded');
  assert.equal((await c.hasCollection({ collection_name: name })).value, false, 'not in default');
  ok(await c.dropCollection({ db_name: db, collection_name: name }));
  ok(await c.dropDatabase({ db_name: db }));
});

t('ShowCollections type InMemory lists only loaded collections', async () => {
  const c = srv.client;
  const a = uniq('mem');
  const b = uniq('mem');
  for (const n of [a, b]) {
    ok(await c.createCollection({ collection_name: n, fields: basicFields() }));
    ok(await c.createIndex({ collection_name: n, field_name: 'vector', index_type: 'FLAT', metric_type: 'L2' }));
  }
  ok(await within(c.loadCollection({ collection_name: a }), 10000, 'load'));
  const l = ok(await c.showCollections({ type: 1 }), 'ShowCollections InMemory');
  assert.ok(l.collection_names.includes(a), JSON.stringify(l.collection_names));
  assert.ok(!l.collection_names.includes(b), JSON.stringify(l.collection_names));
  ok(await c.releaseCollection({ collection_name: a }));
  for (const n of [a, b]) ok(await c.dropCollection({ collection_name: n }));
});

t('DescribeCollection by collectionID alone', async () => {
  const c = srv.client;
  const a = uniq('byid');
  ok(await c.createCollection({ collection_name: a, fields: basicFields() }));
  const d = ok(await c.describeCollection({ collection_name: a }));
  const byId = ok(await raw(c, 'DescribeCollection', { collectionID: d.collectionID }), 'DescribeCollection by id');
  assert.equal(byId.collection_name, a);
  assert.equal(String(byId.collectionID), String(d.collectionID));
  fails(await raw(c, 'DescribeCollection', { collectionID: '999999999999' }), E.COLLECTION_NOT_FOUND, 'unknown id');
  ok(await c.dropCollection({ collection_name: a }));
});
