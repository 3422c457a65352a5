// data-restart.test.mjs: data survives restarts. Two collections are built
// with sealed (flushed, indexed) segments, growing (unflushed) rows, deletes
// on both and upserts; one is loaded, one released. The server is then
// restarted gracefully (SIGTERM, status 0) and with kill -9, and after each
// restart: the loaded collection is Loaded again by itself (the test only
// waits), the released one stays released and loads on request; count(*),
// a full query (keys and values) and exact searches (FLAT; HNSW recall
// against brute force) give the same answers as before the restart;
// statistics row_count after a flush; index descriptions keep
// indexed_rows == total_rows. Then writes continue after the restart, and
// a crash right after those writes keeps them. Last, a kill -9 while an HNSW
// build runs: the build is finished after the restart.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, serverTest, ok, DataType, call, sleep } from './harness.mjs';
import {
  mulberry32, clusteredVectors, randomVector, bruteForce, truthMap, assertExactTopK, recallAtK, load, flushAndWait,
  waitLoaded, waitIndexed, count, queryAll,
} from './datahelpers.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.finish(); });
const t = (name, fn, opts) => serverTest(() => srv, name, fn, opts);

const DIM = 24;
const A = 'keep_loaded';
const B = 'keep_released';
let rowsA = new Map(); // id -> {id, vec, tag}
let rowsB = new Map();
let writtenA = 0; // rows ever written to A (inserts and upserts)
const rand = mulberry32(555);
const queries = Array.from({ length: 10 }, () => randomVector(rand, DIM));

async function create(c, name, indexType) {
  ok(await call(c.createCollection({
    collection_name: name,
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'vec', data_type: DataType.FloatVector, dim: DIM },
      { name: 'tag', data_type: DataType.VarChar, max_length: 16 },
    ],
  })), `create ${name}`);
  const params = indexType === 'HNSW' ? { M: 16, efConstruction: 64 } : {};
  ok(await c.createIndex({ collection_name: name, field_name: 'vec', index_type: indexType, metric_type: 'L2', params }), `index ${name}`);
}

async function put(c, name, map, from, to, seed, op = 'insert') {
  const r = mulberry32(seed);
  const vecs = clusteredVectors(r, to - from, DIM, { clusters: 12, spread: 0.3 });
  const data = vecs.map((vec, k) => ({ id: from + k, vec, tag: `${op}_${(from + k) % 5}` }));
  ok(await c[op]({ collection_name: name, data }), `${op} ${name} ${from}..${to}`);
  for (const d of data) map.set(d.id, d);
  if (map === rowsA) writtenA += data.length;
}

async function del(c, name, map, ids) {
  ok(await c.delete({ collection_name: name, ids }), `delete ${name}`);
  ids.forEach(i => map.delete(i));
}

/** Everything the SDK can see of collection A (loaded), compared with the model. */
async function checkA(c, label) {
  const rows = [...rowsA.values()];
  assert.equal(await count(c, A), rows.length, `${label}: count(*)`);
  const q = await queryAll(c, A, 'id >= 0', ['vec', 'tag']);
  assert.equal(q.length, rows.length, `${label}: query returns every row`);
  for (const g of q) {
    const want = rowsA.get(Number(g.id));
    assert.ok(want, `${label}: unexpected key ${g.id}`);
    assert.equal(g.tag, want.tag, `${label}: tag of ${g.id}`);
    assert.deepEqual(g.vec, want.vec, `${label}: vector of ${g.id}`);
  }
  for (const qv of queries.slice(0, 5)) {
    const s = ok(await c.search({ collection_name: A, data: qv, limit: 10, output_fields: [] }), `${label}: search`);
    assertExactTopK(s.results, bruteForce(rows, qv, 10, 'L2'), truthMap(rows, qv, 'L2'), { what: `${label}: FLAT search` });
  }
}

async function checkB(c, label, tc) {
  const rows = [...rowsB.values()];
  assert.equal(await count(c, B), rows.length, `${label}: B count(*)`);
  let sum = 0;
  for (const qv of queries) {
    const s = ok(await c.search({ collection_name: B, data: qv, limit: 10, params: { ef: 64 }, output_fields: [] }), `${label}: B search`);
    sum += recallAtK(s.results, bruteForce(rows, qv, 10, 'L2'));
  }
  const rec = sum / queries.length;
  tc.diagnostic(`${label}: HNSW recall@10 ${rec.toFixed(3)}`);
  assert.ok(rec >= 0.95, `${label}: HNSW recall@10 ${rec}`);
}

t('build: sealed + growing rows, deletes and upserts on both, one collection loaded (FLAT), one released (HNSW)', async () => {
  const c = srv.client;
  await create(c, A, 'FLAT');
  await create(c, B, 'HNSW');
  await load(c, A);
  await load(c, B);
  await put(c, A, rowsA, 0, 800, 1);
  await put(c, B, rowsB, 0, 1500, 2);
  await flushAndWait(c, A);
  await flushAndWait(c, B);
  await waitIndexed(c, A, 60000, 800);
  await waitIndexed(c, B, 60000, 1500);
  await put(c, A, rowsA, 800, 1200, 3); // growing
  await put(c, B, rowsB, 1500, 2000, 4);
  await del(c, A, rowsA, [0, 1, 2, 900, 901]); // sealed and growing
  await put(c, A, rowsA, 10, 20, 5, 'upsert'); // replaces sealed rows
  await put(c, A, rowsA, 1000, 1010, 6, 'upsert'); // replaces growing rows
  await del(c, B, rowsB, [5, 1600]);
  await checkA(c, 'before restart');
  ok(await c.releaseCollection({ collection_name: B }), 'release B');
});

t('graceful restart: loaded collection back Loaded with the same data; released stays released', async tc => {
  const r = await srv.stop();
  assert.equal(r.code, 0, 'SIGTERM exit status');
  await srv.spawn();
  const c = srv.client;
  const ms = await waitLoaded(c, A);
  tc.diagnostic(`Loaded again ${ms} ms after the listening line`);
  await checkA(c, 'after graceful restart');
  assert.equal(ok(await c.getLoadState({ collection_name: B })).state, 'LoadStateNotLoad', 'B stays released');
  await load(c, B);
  await checkB(c, 'B after graceful restart', tc);
});

t('kill -9 restart: the same again, both collections loaded; statistics after a flush', async tc => {
  await srv.restart();
  const c = srv.client;
  await waitLoaded(c, A);
  await waitLoaded(c, B);
  await checkA(c, 'after kill -9');
  await checkB(c, 'B after kill -9', tc);
  await flushAndWait(c, A);
  const st = ok(await c.getCollectionStatistics({ collection_name: A }));
  // Milvus counts the rows of the segments, deleted ones included until a
  // compaction: between the live rows and every row written (upserts too).
  const rc = Number(st.data.row_count);
  assert.ok(rc >= rowsA.size && rc <= writtenA, `row_count ${rc} not in [${rowsA.size}, ${writtenA}]`);
  await waitIndexed(c, A, 60000);
  const di = ok(await c.describeIndex({ collection_name: A }));
  assert.equal(di.index_descriptions[0].indexed_rows, di.index_descriptions[0].total_rows);
});

t('writes after a restart, then kill -9 with no call in between: kept', async tc => {
  let c = srv.client;
  await put(c, A, rowsA, 5000, 5300, 7);
  await del(c, A, rowsA, [5000, 10, 1005]);
  await put(c, A, rowsA, 5100, 5110, 8, 'upsert');
  await srv.restart();
  c = srv.client;
  await waitLoaded(c, A);
  await checkA(c, 'after writes + kill -9');
  // Three crashes in a row with nothing in between.
  for (let i = 0; i < 3; i++) {
    await srv.restart();
    await waitLoaded(srv.client, A);
  }
  await checkA(srv.client, 'after three more crashes');
  await checkB(srv.client, 'B after three more crashes', tc);
});

t('kill -9 while index builds run: after the restart the builds finish and the index serves the rows', async tc => {
  let c = srv.client;
  const name = 'build_crash';
  const N = 6000;
  ok(await call(c.createCollection({
    collection_name: name,
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'vec', data_type: DataType.FloatVector, dim: DIM },
      { name: 'tag', data_type: DataType.VarChar, max_length: 16 },
    ],
  })), 'create');
  // A slow build (large M and efConstruction), so that the kill lands during it.
  ok(await c.createIndex({ collection_name: name, field_name: 'vec', index_type: 'HNSW', metric_type: 'L2', params: { M: 48, efConstruction: 500 } }));
  await load(c, name);
  const map = new Map();
  for (let i = 0; i < N; i += 2000) await put(c, name, map, i, i + 2000, 9 + i);
  const r = ok(await c.flush({ collection_names: [name] }), 'flush');
  await sleep(100);
  const mid = ok(await c.describeIndex({ collection_name: name }));
  const during = `${mid.index_descriptions[0].indexed_rows}/${mid.index_descriptions[0].total_rows} ${mid.index_descriptions[0].state}`;
  await srv.restart();
  c = srv.client;
  await waitLoaded(c, name);
  const ms = await waitIndexed(c, name, 90000, N);
  const di = ok(await c.describeIndex({ collection_name: name }));
  assert.equal(Number(di.index_descriptions[0].indexed_rows), N);
  assert.equal(Number(di.index_descriptions[0].total_rows), N);
  assert.equal(await count(c, name), N);
  const rows = [...map.values()];
  let sum = 0;
  for (const qv of queries) {
    const s = ok(await c.search({ collection_name: name, data: qv, limit: 10, params: { ef: 64 }, output_fields: [] }));
    sum += recallAtK(s.results, bruteForce(rows, qv, 10, 'L2'));
  }
  tc.diagnostic(`index at the kill ${during}; flush reply segments ${JSON.stringify(r.coll_segIDs?.[name]?.data ?? [])}; indexed ${ms} ms after the restart; recall@10 ${(sum / queries.length).toFixed(3)}`);
  assert.ok(sum / queries.length >= 0.95, `recall ${sum / queries.length}`);
});
