// databases.test.mjs: CreateDatabase / ListDatabases / DescribeDatabase /
// AlterDatabase / DropDatabase, and the `dbname` header (client.use()) or
// the db_name request field routing every collection call to its database.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, serverTest, ok, fails, uniq, E, basicFields, call, assertHealthy, raw, DataType,
} from './harness.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.finish(); });
const t = (name, fn, opts) => serverTest(() => srv, name, fn, opts);

const kv = list => Object.fromEntries((list || []).map(p => [p.key, p.value]));

t('a fresh server lists only the default database', async () => {
  const r = ok(await srv.client.listDatabases(), 'ListDatabases');
  assert.ok(r.db_names.includes('default'), JSON.stringify(r.db_names));
  const d = ok(await srv.client.describeDatabase({ db_name: 'default' }), 'DescribeDatabase');
  assert.equal(d.db_name, 'default');
});

t('create, list, describe, alter, drop a database', async () => {
  const c = srv.client;
  const db = uniq('db');
  ok(await c.createDatabase({ db_name: db, properties: { 'database.max.collections': '10' } }), 'CreateDatabase');
  const list = ok(await c.listDatabases(), 'ListDatabases');
  assert.ok(list.db_names.includes(db), JSON.stringify(list.db_names));
  assert.ok(list.db_names.includes('default'));
  if (list.db_ids.length) assert.equal(list.db_ids.length, list.db_names.length);

  const d = ok(await c.describeDatabase({ db_name: db }), 'DescribeDatabase');
  assert.equal(d.db_name, db);
  assert.notEqual(String(d.dbID), '0');
  assert.notEqual(String(d.created_timestamp), '0');
  assert.equal(kv(d.properties)['database.max.collections'], '10');

  ok(await c.alterDatabase({ db_name: db, properties: { 'database.replica.number': '1' } }), 'AlterDatabase');
  const d2 = ok(await c.describeDatabase({ db_name: db }), 'DescribeDatabase');
  const p2 = kv(d2.properties);
  assert.equal(p2['database.replica.number'], '1');
  assert.equal(p2['database.max.collections'], '10', 'alter keeps existing properties');
  assert.equal(String(d2.dbID), String(d.dbID), 'alter keeps the id');

  // Deleting a property key.
  ok(await c.dropDatabaseProperties({ db_name: db, properties: ['database.replica.number'] }), 'AlterDatabase delete_keys');
  const d3 = ok(await c.describeDatabase({ db_name: db }), 'DescribeDatabase');
  assert.equal(kv(d3.properties)['database.replica.number'], undefined);

  ok(await c.dropDatabase({ db_name: db }), 'DropDatabase');
  const list2 = ok(await c.listDatabases(), 'ListDatabases');
  assert.ok(!list2.db_names.includes(db));
  fails(await c.describeDatabase({ db_name: db }), E.DATABASE_NOT_FOUND, 'DescribeDatabase after drop');
});

t('creating an existing database fails', async () => {
  const db = uniq('db');
  ok(await srv.client.createDatabase({ db_name: db }), 'CreateDatabase');
  fails(await srv.client.createDatabase({ db_name: db }), {}, 'CreateDatabase twice');
  fails(await srv.client.createDatabase({ db_name: 'default' }), {}, 'CreateDatabase default');
  ok(await srv.client.dropDatabase({ db_name: db }), 'DropDatabase');
});

t('the default database cannot be dropped', async () => {
  fails(await srv.client.dropDatabase({ db_name: 'default' }), {}, 'DropDatabase default');
  const list = ok(await srv.client.listDatabases(), 'ListDatabases');
  assert.ok(list.db_names.includes('default'));
});

t('a database holding collections cannot be dropped', async () => {
  const c = srv.client;
  const db = uniq('db');
  const coll = uniq('c');
  ok(await c.createDatabase({ db_name: db }), 'CreateDatabase');
  ok(await c.createCollection({ db_name: db, collection_name: coll, fields: basicFields() }), 'CreateCollection');
  fails(await c.dropDatabase({ db_name: db }), {}, 'DropDatabase non-empty');
  ok(await c.describeCollection({ db_name: db, collection_name: coll }), 'collection survives');
  ok(await c.dropCollection({ db_name: db, collection_name: coll }), 'DropCollection');
  ok(await c.dropDatabase({ db_name: db }), 'DropDatabase when empty');
});

t('describe/alter on a missing database give database not found', async () => {
  const c = srv.client;
  fails(await c.describeDatabase({ db_name: 'no_such_db' }), E.DATABASE_NOT_FOUND, 'DescribeDatabase');
  fails(await c.alterDatabase({ db_name: 'no_such_db', properties: { a: 'b' } }), E.DATABASE_NOT_FOUND, 'AlterDatabase');
  // Collection calls naming a missing database.
  fails(await call(c.createCollection({ db_name: 'no_such_db', collection_name: 'x', fields: basicFields() })),
    E.DATABASE_NOT_FOUND, 'CreateCollection in missing db');
  const show = await c.showCollections({ db_name: 'no_such_db' });
  fails(show, E.DATABASE_NOT_FOUND, 'ShowCollections in missing db');
  await assertHealthy(srv);
});

t('invalid database names are rejected', async () => {
  const c = srv.client;
  for (const name of ['', ' ', '1abc', 'a-b', 'a b', 'db$', 'd'.repeat(256), '数据库']) {
    fails(await raw(c, 'CreateDatabase', { db_name: name }), {}, `CreateDatabase(${JSON.stringify(name).slice(0, 40)})`);
  }
  const list = ok(await c.listDatabases(), 'ListDatabases');
  for (const n of list.db_names) assert.match(n, /^[A-Za-z_][A-Za-z0-9_]*$/, `bad name listed: ${n}`);
  await assertHealthy(srv);
});

t('use() routes collection calls by the dbname header; databases are isolated', async () => {
  const c = srv.client;
  const db1 = uniq('db');
  const db2 = uniq('db');
  const name = 'same_name';
  ok(await c.createDatabase({ db_name: db1 }), 'CreateDatabase');
  ok(await c.createDatabase({ db_name: db2 }), 'CreateDatabase');
  try {
    await c.use({ db_name: db1 });
    ok(await c.createCollection({ collection_name: name, fields: basicFields({ dim: 8 }) }), 'create in db1');
    await c.use({ db_name: db2 });
    ok(await c.createCollection({ collection_name: name, fields: basicFields({ dim: 16 }) }), 'create in db2');
    const only2 = uniq('c');
    ok(await c.createCollection({ collection_name: only2, fields: basicFields() }), 'create only in db2');

    // Same name, different collections.
    await c.use({ db_name: db1 });
    const d1 = ok(await c.describeCollection({ collection_name: name }), 'describe db1');
    await c.use({ db_name: db2 });
    const d2 = ok(await c.describeCollection({ collection_name: name }), 'describe db2');
    assert.notEqual(d1.collectionID, d2.collectionID);
    const dimOf = d => d.schema.fields.find(f => f.name === 'vector').dim;
    assert.equal(dimOf(d1), '8');
    assert.equal(dimOf(d2), '16');
    assert.equal(d1.db_name, db1);
    assert.equal(d2.db_name, db2);

    // Listings per database.
    await c.use({ db_name: db1 });
    const l1 = ok(await c.showCollections(), 'ShowCollections db1');
    assert.deepEqual(l1.collection_names.slice().sort(), [name]);
    await c.use({ db_name: db2 });
    const l2 = ok(await c.showCollections(), 'ShowCollections db2');
    assert.deepEqual(l2.collection_names.slice().sort(), [name, only2].sort());
    // Not visible in default.
    await c.use({ db_name: 'default' });
    const l0 = ok(await c.showCollections(), 'ShowCollections default');
    assert.ok(!l0.collection_names.includes(only2));
    assert.equal((await c.hasCollection({ collection_name: only2 })).value, false);
    fails(await c.describeCollection({ collection_name: only2 }), E.COLLECTION_NOT_FOUND, 'describe in wrong db');

    // The db_name request field wins without use().
    const d2b = ok(await c.describeCollection({ collection_name: only2, db_name: db2 }), 'describe with db_name');
    assert.equal(d2b.collection_name, only2);

    // Drop in one database leaves the other's copy.
    await c.use({ db_name: db1 });
    ok(await c.dropCollection({ collection_name: name }), 'drop db1 copy');
    await c.use({ db_name: db2 });
    ok(await c.describeCollection({ collection_name: name }), 'db2 copy still there');
    ok(await c.dropCollection({ collection_name: name }), 'drop db2 copy');
    ok(await c.dropCollection({ collection_name: only2 }), 'drop');
  } finally {
    await c.use({ db_name: 'default' });
  }
  ok(await c.dropDatabase({ db_name: db1 }), 'DropDatabase');
  ok(await c.dropDatabase({ db_name: db2 }), 'DropDatabase');
});

t('use() of a database that does not exist: calls fail with database not found', async () => {
  const c = srv.newClient();
  try {
    await c.connectPromise;
    await c.use({ db_name: 'ghost_db' });
    fails(await c.showCollections(), E.DATABASE_NOT_FOUND, 'ShowCollections');
    fails(await c.describeCollection({ collection_name: 'x' }), {}, 'DescribeCollection');
    fails(await call(c.createCollection({ collection_name: 'x', fields: basicFields() })), E.DATABASE_NOT_FOUND, 'CreateCollection');
  } finally {
    await c.closeConnection();
  }
  await assertHealthy(srv);
});

t('a recreated database is empty and has a new id', async () => {
  const c = srv.client;
  const db = uniq('db');
  ok(await c.createDatabase({ db_name: db }), 'CreateDatabase');
  const id1 = ok(await c.describeDatabase({ db_name: db })).dbID;
  const coll = uniq('c');
  ok(await c.createCollection({ db_name: db, collection_name: coll, fields: basicFields() }), 'CreateCollection');
  ok(await c.dropCollection({ db_name: db, collection_name: coll }), 'DropCollection');
  ok(await c.dropDatabase({ db_name: db }), 'DropDatabase');
  ok(await c.createDatabase({ db_name: db }), 'CreateDatabase again');
  const id2 = ok(await c.describeDatabase({ db_name: db })).dbID;
  assert.ok(BigInt(id2) > BigInt(id1), `new id ${id2} not above ${id1}`);
  const l = ok(await c.showCollections({ db_name: db }));
  assert.deepEqual(l.collection_names, []);
  ok(await c.dropDatabase({ db_name: db }), 'DropDatabase');
});

t('collections of every field type can be created in a non-default database', async () => {
  const c = srv.client;
  const db = uniq('db');
  ok(await c.createDatabase({ db_name: db }), 'CreateDatabase');
  const coll = uniq('c');
  ok(await c.createCollection({
    db_name: db,
    collection_name: coll,
    fields: [
      { name: 'pk', data_type: DataType.VarChar, is_primary_key: true, max_length: 64 },
      { name: 'v', data_type: DataType.BinaryVector, dim: 64 },
    ],
  }), 'CreateCollection');
  const d = ok(await c.describeCollection({ db_name: db, collection_name: coll }));
  assert.equal(d.schema.fields[0].data_type, 'VarChar');
  ok(await c.dropCollection({ db_name: db, collection_name: coll }));
  ok(await c.dropDatabase({ db_name: db }));
});

t('an empty dbname header (as pymilvus sends) means the default database', async () => {
  const c = srv.newClient();
  const name = uniq('hdr');
  try {
    await c.connectPromise;
    ok(await srv.client.createCollection({ collection_name: name, fields: basicFields() }));
    c.metadata.set('dbname', '');
    const l = ok(await c.showCollections(), 'ShowCollections with dbname ""');
    assert.ok(l.collection_names.includes(name));
    const d = ok(await c.describeCollection({ collection_name: name }), 'DescribeCollection with dbname ""');
    assert.equal(d.db_name, 'default');
  } finally {
    await c.closeConnection();
  }
  ok(await srv.client.dropCollection({ collection_name: name }));
});
