// catalog-cache.test.mjs: Search and Query see every catalogue change at
// once. The standalone proxy keeps the collections it resolves between
// requests (proxy/proxy_cache.c) while the catalogue is unchanged; each test
// warms that cache with a search, changes the catalogue, and checks that the
// very next request answers from the new state: release / load, an index
// dropped and made again with another metric, an alias moved to another
// collection, a collection dropped and made again under the same name with
// another dimension, a partition dropped, a collection renamed, a database
// dropped.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, serverTest, ok, fails, uniq, E, DataType, call, sleep } from './harness.mjs';
import { mulberry32, randomVector, load } from './datahelpers.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.finish(); });
const t = (name, fn, opts) => serverTest(() => srv, name, fn, opts);

const rand = mulberry32(77);
const NOT_LOADED = { code: 101 };

/** A loaded collection of n rows with ids from firstId, FLAT index. */
async function makeLoaded(c, name, { dim, metric = 'L2', firstId = 0, n = 20, db_name } = {}) {
  const extra = db_name ? { db_name } : {};
  ok(await call(c.createCollection({
    collection_name: name, ...extra,
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'vec', data_type: DataType.FloatVector, dim },
    ],
  })), `create ${name}`);
  const data = Array.from({ length: n }, (_, i) => ({ id: firstId + i, vec: randomVector(rand, dim) }));
  ok(await c.insert({ collection_name: name, data, ...extra }), `insert ${name}`);
  ok(await c.createIndex({ collection_name: name, field_name: 'vec', index_type: 'FLAT', metric_type: metric, ...extra }), `index ${name}`);
  ok(await c.loadCollection({ collection_name: name, ...extra }), `load ${name}`);
  return data;
}

const searchIn = (c, name, dim, extra = {}) =>
  c.search({ collection_name: name, data: randomVector(rand, dim), limit: 5, output_fields: [], ...extra });

const ids = res => res.results.map(h => Number(h.id));

/** A search that must fail: an error status, or the SDK throwing because
 * its own DescribeCollection found no collection. */
async function searchFails(p, expect, what) {
  let res;
  try {
    res = await p;
  } catch (e) {
    return e;
  }
  return fails(res, expect, what);
}

t('release and load are seen by the next search and query', async () => {
  const c = srv.client;
  const name = uniq('cc_load');
  await makeLoaded(c, name, { dim: 4 });
  ok(await searchIn(c, name, 4), 'warm search');
  ok(await c.query({ collection_name: name, output_fields: ['count(*)'] }), 'warm query');
  ok(await c.releaseCollection({ collection_name: name }));
  fails(await searchIn(c, name, 4), NOT_LOADED, 'search after release');
  fails(await c.query({ collection_name: name, output_fields: ['count(*)'] }), NOT_LOADED, 'query after release');
  await load(c, name);
  ok(await searchIn(c, name, 4), 'search after load');
  ok(await c.dropCollection({ collection_name: name }));
});

t('an index made again with another metric is the one searched', async () => {
  const c = srv.client;
  const name = uniq('cc_metric');
  await makeLoaded(c, name, { dim: 4, metric: 'L2' });
  ok(await searchIn(c, name, 4, { metric_type: 'L2' }), 'warm L2 search');
  ok(await c.releaseCollection({ collection_name: name }));
  ok(await c.dropIndex({ collection_name: name, field_name: 'vec' }), 'drop index');
  ok(await c.createIndex({ collection_name: name, field_name: 'vec', index_type: 'FLAT', metric_type: 'IP' }), 'IP index');
  await load(c, name);
  const wrong = fails(await searchIn(c, name, 4, { metric_type: 'L2' }), {}, 'L2 search on an IP index');
  assert.match(wrong.reason, /expected=IP/);
  const res = ok(await searchIn(c, name, 4, { metric_type: 'IP' }), 'IP search');
  for (let i = 1; i < res.results.length; i++)
    assert.ok(res.results[i - 1].score >= res.results[i].score, 'IP scores descend');
  ok(await c.dropCollection({ collection_name: name }));
});

t('an alias moved to another collection searches the new one', async () => {
  const c = srv.client;
  const a = uniq('cc_a');
  const b = uniq('cc_b');
  const al = uniq('cc_al');
  await makeLoaded(c, a, { dim: 4, firstId: 0 });
  await makeLoaded(c, b, { dim: 8, firstId: 1000 });
  ok(await c.createAlias({ collection_name: a, alias: al }));
  const before = ok(await searchIn(c, al, 4), 'search via alias');
  assert.ok(ids(before).every(id => id < 1000), 'rows of a');
  ok(await c.alterAlias({ collection_name: b, alias: al }), 'AlterAlias');
  const after = ok(await searchIn(c, al, 8), 'search via moved alias');
  assert.ok(after.results.length > 0 && ids(after).every(id => id >= 1000), `rows of b: ${ids(after)}`);
  fails(await searchIn(c, al, 4), {}, 'dim of a via the moved alias');
  ok(await c.dropAlias({ alias: al }));
  await searchFails(searchIn(c, al, 8), E.COLLECTION_NOT_FOUND, 'search via dropped alias');
  ok(await c.dropCollection({ collection_name: a }));
  ok(await c.dropCollection({ collection_name: b }));
});

t('a collection dropped and made again under its name is the new one', async () => {
  const c = srv.client;
  const name = uniq('cc_again');
  await makeLoaded(c, name, { dim: 4, firstId: 0 });
  ok(await searchIn(c, name, 4), 'warm search');
  ok(await c.dropCollection({ collection_name: name }));
  await searchFails(searchIn(c, name, 4), E.COLLECTION_NOT_FOUND, 'search after drop');
  await makeLoaded(c, name, { dim: 8, firstId: 5000 });
  const res = ok(await searchIn(c, name, 8), 'search the new collection');
  assert.ok(res.results.length > 0 && ids(res).every(id => id >= 5000), `new rows only: ${ids(res)}`);
  fails(await searchIn(c, name, 4), {}, 'old dimension refused');
  ok(await c.dropCollection({ collection_name: name }));
});

t('with some partitions loaded, reads without partition names see only those', async () => {
  const c = srv.client;
  const name = uniq('cc_partial');
  await makeLoaded(c, name, { dim: 4, n: 10 });
  ok(await c.releaseCollection({ collection_name: name }));
  ok(await c.createPartition({ collection_name: name, partition_name: 'pa' }));
  ok(await c.createPartition({ collection_name: name, partition_name: 'pb' }));
  ok(await c.insert({ collection_name: name, partition_name: 'pa', data: [{ id: 100, vec: randomVector(rand, 4) }] }));
  ok(await c.insert({ collection_name: name, partition_name: 'pb', data: [{ id: 200, vec: randomVector(rand, 4) }] }));
  ok(await c.loadPartitions({ collection_name: name, partition_names: ['pa'] }), 'load pa');
  let res = await searchIn(c, name, 4, { limit: 100 });
  for (const t0 = Date.now(); res.status.code === 101 && Date.now() - t0 < 30000; await sleep(50))
    res = await searchIn(c, name, 4, { limit: 100 }); // LoadPartitions returns before the load ends
  ok(res, 'search, pa loaded');
  assert.deepEqual(ids(res), [100]);
  const counted = ok(await c.query({ collection_name: name, output_fields: ['count(*)'] }));
  assert.equal(Number(counted.data[0]['count(*)']), 1, 'count(*) over pa only');
  fails(await searchIn(c, name, 4, { partition_names: ['pb'] }), {}, 'search pb, not loaded');
  await load(c, name);
  const everything = ok(await searchIn(c, name, 4, { limit: 100 }), 'search, all loaded');
  assert.equal(everything.results.length, 12);
  ok(await c.dropCollection({ collection_name: name }));
});

t('a dropped partition, a renamed collection, a dropped database', async () => {
  const c = srv.client;
  const name = uniq('cc_part');
  await makeLoaded(c, name, { dim: 4 });
  ok(await c.releaseCollection({ collection_name: name }));
  ok(await c.createPartition({ collection_name: name, partition_name: 'p1' }));
  ok(await c.insert({ collection_name: name, partition_name: 'p1', data: [{ id: 900, vec: randomVector(rand, 4) }] }));
  await load(c, name);
  const inP1 = ok(await searchIn(c, name, 4, { partition_names: ['p1'] }), 'search p1');
  assert.deepEqual(ids(inP1), [900]);
  ok(await c.releaseCollection({ collection_name: name }));
  ok(await c.dropPartition({ collection_name: name, partition_name: 'p1' }), 'drop p1');
  await load(c, name);
  fails(await searchIn(c, name, 4, { partition_names: ['p1'] }), E.PARTITION_NOT_FOUND, 'search dropped p1');
  // The rows of a dropped partition are never read again.
  assert.ok(!ids(ok(await searchIn(c, name, 4, { limit: 100 }))).includes(900), 'p1 rows gone from search');
  const all = ok(await c.query({ collection_name: name, filter: 'id >= 0', output_fields: ['id'] }));
  assert.equal(all.data.length, 20, 'p1 rows gone from query');
  const counted = ok(await c.query({ collection_name: name, output_fields: ['count(*)'] }));
  assert.equal(Number(counted.data[0]['count(*)']), 20, 'p1 rows gone from count(*)');

  const renamed = uniq('cc_renamed');
  ok(await searchIn(c, name, 4), 'warm search');
  ok(await c.renameCollection({ collection_name: name, new_collection_name: renamed }));
  await searchFails(searchIn(c, name, 4), E.COLLECTION_NOT_FOUND, 'old name after rename');
  ok(await searchIn(c, renamed, 4), 'new name after rename');
  ok(await c.dropCollection({ collection_name: renamed }));

  const db = uniq('ccdb');
  ok(await c.createDatabase({ db_name: db }));
  const inDb = uniq('cc_db');
  await makeLoaded(c, inDb, { dim: 4, db_name: db });
  ok(await searchIn(c, inDb, 4, { db_name: db }), 'search in db');
  ok(await c.releaseCollection({ collection_name: inDb, db_name: db }));
  ok(await c.dropCollection({ collection_name: inDb, db_name: db }));
  ok(await c.dropDatabase({ db_name: db }));
  await searchFails(searchIn(c, inDb, 4, { db_name: db }), {}, 'search in dropped db');
});
