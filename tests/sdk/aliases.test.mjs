// aliases.test.mjs: CreateAlias / DescribeAlias / ListAliases / AlterAlias /
// DropAlias, alias resolution in DescribeCollection, and alias errors
// (codes 1600 alias not found, 1601 alias/collection name conflict, 1602
// alias exists).
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, serverTest, ok, fails, uniq, E, basicFields, call, raw, assertHealthy,
} from './harness.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.finish(); });
const t = (name, fn, opts) => serverTest(() => srv, name, fn, opts);

function okOrClear(res, what) {
  const st = res.status ?? res;
  if (st.error_code === 'Success') return;
  fails(res, {}, what);
}

t('create, describe, list, alter, drop aliases', async () => {
  const c = srv.client;
  const a = uniq('a');
  const b = uniq('b');
  const al1 = uniq('al');
  const al2 = uniq('al');
  ok(await c.createCollection({ collection_name: a, fields: basicFields({ dim: 4 }) }));
  ok(await c.createCollection({ collection_name: b, fields: basicFields({ dim: 8 }) }));
  ok(await c.createAlias({ collection_name: a, alias: al1 }), 'CreateAlias');
  ok(await c.createAlias({ collection_name: a, alias: al2 }), 'CreateAlias');

  const da = ok(await c.describeAlias({ collection_name: a, alias: al1 }), 'DescribeAlias');
  assert.equal(da.alias, al1);
  assert.equal(da.collection, a);
  assert.equal(da.db_name, 'default');

  const la = ok(await c.listAliases({ collection_name: a }), 'ListAliases');
  assert.deepEqual(la.aliases.slice().sort(), [al1, al2].sort());
  assert.equal(la.collection_name, a);
  const lb = ok(await c.listAliases({ collection_name: b }));
  assert.deepEqual(lb.aliases, []);
  // ListAliases with no collection: every alias of the database.
  const lall = ok(await raw(c, 'ListAliases', {}), 'ListAliases all');
  assert.ok(lall.aliases.includes(al1) && lall.aliases.includes(al2), JSON.stringify(lall.aliases));

  // Alias resolves in DescribeCollection.
  const d1 = ok(await c.describeCollection({ collection_name: al1 }));
  assert.equal(d1.collection_name, a);
  assert.equal(d1.schema.fields[1].dim, '4');

  // Move al1 to b.
  ok(await c.alterAlias({ collection_name: b, alias: al1 }), 'AlterAlias');
  const da2 = ok(await c.describeAlias({ collection_name: b, alias: al1 }));
  assert.equal(da2.collection, b);
  const d2 = ok(await c.describeCollection({ collection_name: al1 }));
  assert.equal(d2.collection_name, b);
  assert.equal(d2.schema.fields[1].dim, '8');
  assert.deepEqual(ok(await c.listAliases({ collection_name: a })).aliases, [al2]);
  assert.deepEqual(ok(await c.listAliases({ collection_name: b })).aliases, [al1]);
  assert.deepEqual(ok(await c.describeCollection({ collection_name: b })).aliases, [al1]);

  ok(await c.dropAlias({ alias: al1 }), 'DropAlias');
  fails(await c.describeAlias({ collection_name: b, alias: al1 }), { code: 1600 }, 'describe dropped alias');
  fails(await c.describeCollection({ collection_name: al1 }), E.COLLECTION_NOT_FOUND, 'describe via dropped alias');
  ok(await c.dropAlias({ alias: al2 }));
  ok(await c.dropCollection({ collection_name: a }));
  ok(await c.dropCollection({ collection_name: b }));
});

t('alias errors', async () => {
  const c = srv.client;
  const a = uniq('a');
  const b = uniq('b');
  const al = uniq('al');
  ok(await c.createCollection({ collection_name: a, fields: basicFields() }));
  ok(await c.createCollection({ collection_name: b, fields: basicFields() }));
  ok(await c.createAlias({ collection_name: a, alias: al }));

  // An alias already used for another collection.
  fails(await c.createAlias({ collection_name: b, alias: al }), E.ALIAS, 'alias exists on another collection');
  assert.equal(ok(await c.describeAlias({ collection_name: a, alias: al })).collection, a, 'unchanged');
  // An alias named like a collection, a collection named like an alias.
  fails(await c.createAlias({ collection_name: a, alias: b }), E.ALIAS, 'alias = collection name');
  fails(await call(c.createCollection({ collection_name: al, fields: basicFields() })), {}, 'collection named as an alias');
  // Missing things.
  fails(await c.createAlias({ collection_name: 'nope_nope', alias: uniq('al') }), E.COLLECTION_NOT_FOUND, 'alias to missing collection');
  fails(await c.describeAlias({ collection_name: a, alias: 'no_such_alias' }), { code: 1600 }, 'describe missing alias');
  fails(await c.alterAlias({ collection_name: a, alias: 'no_such_alias' }), { code: 1600 }, 'alter missing alias');
  fails(await c.alterAlias({ collection_name: 'nope_nope', alias: al }), E.COLLECTION_NOT_FOUND, 'alter to missing collection');
  fails(await c.listAliases({ collection_name: 'nope_nope' }), E.COLLECTION_NOT_FOUND, 'list aliases of missing collection');
  okOrClear(await c.dropAlias({ alias: 'no_such_alias' }), 'drop missing alias');
  // An alias of an alias is not allowed.
  fails(await c.createAlias({ collection_name: al, alias: uniq('al') }), {}, 'alias of an alias');
  // Invalid alias names.
  for (const bad of ['1al', 'a-l', 'a l', 'x'.repeat(256)]) {
    fails(await c.createAlias({ collection_name: a, alias: bad }), E.INVALID, `alias name ${bad.slice(0, 20)}`);
  }
  fails(await raw(c, 'CreateAlias', { collection_name: a, alias: '' }), E.INVALID, 'empty alias');

  // A collection with an alias cannot be dropped.
  fails(await c.dropCollection({ collection_name: a }), {}, 'drop collection that has an alias');
  ok(await c.describeCollection({ collection_name: a }), 'still there');
  // Renaming onto an alias name fails.
  fails(await c.renameCollection({ collection_name: b, new_collection_name: al }), {}, 'rename onto alias');
  await assertHealthy(srv);

  ok(await c.dropAlias({ alias: al }));
  ok(await c.dropCollection({ collection_name: a }));
  ok(await c.dropCollection({ collection_name: b }));
});

t('aliases are per database', async () => {
  const c = srv.client;
  const db = uniq('db');
  ok(await c.createDatabase({ db_name: db }));
  const coll = uniq('c');
  const al = uniq('al');
  ok(await c.createCollection({ db_name: db, collection_name: coll, fields: basicFields() }));
  ok(await c.createAlias({ db_name: db, collection_name: coll, alias: al }));
  fails(await c.describeAlias({ collection_name: coll, alias: al }), { code: 1600 }, 'not visible in default');
  fails(await c.describeCollection({ collection_name: al }), E.COLLECTION_NOT_FOUND, 'not resolvable in default');
  const d = ok(await c.describeAlias({ db_name: db, collection_name: coll, alias: al }));
  assert.equal(d.collection, coll);
  assert.equal(d.db_name, db);
  // The same alias name can exist in default for another collection.
  const other = uniq('c');
  ok(await c.createCollection({ collection_name: other, fields: basicFields() }));
  ok(await c.createAlias({ collection_name: other, alias: al }));
  assert.equal(ok(await c.describeCollection({ collection_name: al })).collection_name, other);
  // A non-empty database: the collection has an alias, so it cannot be dropped.
  fails(await c.dropDatabase({ db_name: db }), {}, 'drop db');
  ok(await c.dropAlias({ db_name: db, alias: al }));
  ok(await c.dropCollection({ db_name: db, collection_name: coll }));
  ok(await c.dropDatabase({ db_name: db }));
  ok(await c.dropAlias({ alias: al }));
  ok(await c.dropCollection({ collection_name: other }));
});

t('partitions and index calls accept an alias', async () => {
  const c = srv.client;
  const coll = uniq('c');
  const al = uniq('al');
  ok(await c.createCollection({ collection_name: coll, fields: basicFields() }));
  ok(await c.createAlias({ collection_name: coll, alias: al }));
  ok(await c.createPartition({ collection_name: al, partition_name: 'p1' }), 'CreatePartition via alias');
  assert.deepEqual(ok(await c.listPartitions({ collection_name: coll })).partition_names, ['_default', 'p1']);
  assert.deepEqual(ok(await c.listPartitions({ collection_name: al })).partition_names, ['_default', 'p1']);
  ok(await c.createIndex({ collection_name: al, field_name: 'vector', index_type: 'FLAT', metric_type: 'L2' }), 'CreateIndex via alias');
  assert.equal(ok(await c.describeIndex({ collection_name: coll })).index_descriptions.length, 1);
  ok(await c.dropAlias({ alias: al }));
  ok(await c.dropCollection({ collection_name: coll }));
});

t('dropCollection through an alias is refused and drops nothing', async () => {
  // Milvus: "cannot drop the collection via alias". A silent Success here
  // would make a client believe the collection is gone.
  const c = srv.client;
  const a = uniq('a');
  const al = uniq('al');
  ok(await c.createCollection({ collection_name: a, fields: basicFields() }));
  ok(await c.createAlias({ collection_name: a, alias: al }));
  const res = await c.dropCollection({ collection_name: al });
  ok(await c.describeCollection({ collection_name: a }), 'collection still there');
  assert.equal(ok(await c.describeAlias({ collection_name: a, alias: al })).collection, a, 'alias still there');
  fails(res, {}, 'drop collection via alias');
  ok(await c.dropAlias({ alias: al }));
  ok(await c.dropCollection({ collection_name: a }));
});
