// crash.test.mjs: kill -9 during writes. A writer inserts batches of 100
// rows (explicit, increasing primary keys; batch b holds keys b*100 ..
// b*100+99 and a `batch` column = b) through the official SDK while the
// server is killed with SIGKILL at seeded random moments, at least 20 times:
// right after an acknowledgement (no call in between), while an insert is in
// flight, while a flush is in flight, and while a delete of a whole batch (by
// expression) is in flight. Every few rounds the collection is flushed, so
// recovery covers sealed segments plus log replay. The server is
// restarted on the same data dir after each kill.
//
// After each restart:
//   - the collection comes back Loaded by itself (we only wait for it);
//   - count(*) equals the rows of every batch known to be stored;
//   - every acknowledged batch is present completely, each key exactly once;
//     a batch in flight at a kill is all or nothing, and once its fate is
//     seen (present or absent) it never changes after later restarts;
//   - no key outside the batches sent exists;
//   - a search for a few stored vectors finds each of them as top-1 with
//     distance 0 (FLAT index, so exact), also right after the restart;
//   - a delete acknowledged before a kill stays applied; a batch delete in
//     flight at a kill is all or nothing, and stays so.
// Ends with a graceful stop (status 0) after the last round.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serverTest, startServer, ok, DataType, call, sleep } from './harness.mjs';
import { mulberry32, randomVector, randInt, load, flushAndWait, waitLoaded, waitIndexed, killNow } from './datahelpers.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.finish(); });
const t = (name, fn, opts) => serverTest(() => srv, name, fn, opts);

const NAME = 'crash_writer';
const DIM = 8;
const BATCH = 100;
const KILLS = 30;
const SEED = Number(process.env.CAIRN_CRASH_SEED || 20261124);

/** The rows of batch b: a pure function of b. */
function batchRows(b) {
  const rand = mulberry32(1000003 * (b + 1));
  return Array.from({ length: BATCH }, (_, i) => ({ id: b * BATCH + i, vec: randomVector(rand, DIM), batch: b }));
}

const rand = mulberry32(SEED);
const state = new Map(); // batch -> 'acked' | 'inflight' | 'present' | 'absent'
const deleted = new Set(); // keys whose delete was acknowledged

/** Every stored row's (id, batch), in one query. */
async function storedRows(c) {
  const r = await c.query({ collection_name: NAME, filter: 'id >= 0', output_fields: ['id', 'batch'], limit: 16384, consistency_level: 'Strong' });
  ok(r, 'query all');
  return r.data.map(x => ({ id: Number(x.id), batch: Number(x.batch) }));
}

/**
 * Checks the stored rows against what the writer knows (see the header);
 * settles the fate of batches that were in flight. Returns the row count.
 */
async function verify(c, label, stats) {
  // Check the stored rows against what we know.
  const rows = await storedRows(c);
  const byBatch = new Map();
  const seenIds = new Set();
  for (const r of rows) {
    assert.ok(!seenIds.has(r.id), `${label}: key ${r.id} stored twice`);
    seenIds.add(r.id);
    assert.ok(state.has(r.batch), `${label}: key ${r.id} of batch ${r.batch} that was never sent`);
    assert.equal(Math.floor(r.id / BATCH), r.batch, `${label}: key ${r.id} in batch ${r.batch}`);
    assert.ok(!deleted.has(r.id), `${label}: key ${r.id} deleted (acknowledged) but back after the restart`);
    byBatch.set(r.batch, (byBatch.get(r.batch) || 0) + 1);
  }
  let expected = 0;
  for (const [b, s] of state) {
    const full = BATCH - [...deleted].filter(k => Math.floor(k / BATCH) === b).length;
    const have = byBatch.get(b) || 0;
    if (s === 'acked' || s === 'present') {
      assert.equal(have, full, `${label}: batch ${b} (${s}) has ${have} of ${full} rows`);
      expected += full;
    } else if (s === 'absent' || s === 'gone') {
      assert.equal(have, 0, `${label}: batch ${b} (${s}) has ${have} rows`);
    } else if (s === 'deleting') { // a delete of the whole batch was in flight at this kill
      assert.ok(have === 0 || have === full, `${label}: batch ${b} partly deleted: ${have} of ${full} rows left`);
      state.set(b, have ? 'acked' : 'gone');
      if (have) { stats.deleteKept = (stats.deleteKept || 0) + 1; expected += have; } else stats.deleteDone = (stats.deleteDone || 0) + 1;
    } else { // in flight at this kill: all or nothing, and it stays so
      assert.ok(have === 0 || have === BATCH, `${label}: in-flight batch ${b} partly stored: ${have} rows`);
      state.set(b, have ? 'present' : 'absent');
      if (have) { stats.inflightKept++; expected += have; } else stats.inflightLost++;
    }
  }
  assert.equal(rows.length, expected, `${label}: rows stored`);
  const cnt = await c.count({ collection_name: NAME });
  ok(cnt, 'count');
  assert.equal(cnt.data, expected, `${label}: count(*)`);
  // A few stored vectors are found as their own top-1.
  const present = [...state].filter(([, s]) => s === 'acked' || s === 'present').map(([b]) => b);
  for (let k = 0; k < 3; k++) {
    const b = present[randInt(rand, 0, present.length)];
    const i = randInt(rand, 0, BATCH);
    const id = b * BATCH + i;
    if (deleted.has(id)) continue;
    const s = ok(await c.search({ collection_name: NAME, data: batchRows(b)[i].vec, limit: 1, output_fields: [] }), 'search');
    assert.equal(Number(s.results[0]?.id), id, `${label}: vector of key ${id} finds ${JSON.stringify(s.results[0])}`);
    assert.ok(s.results[0].score < 1e-5, `${label}: distance to itself ${s.results[0].score}`);
  }
  return expected;
}

t(`writer with ${KILLS} kill -9 at random moments: every acknowledged row present exactly once and searchable after each restart`, async tc => {
  let nextBatch = 0;
  const stats = { afterAck: 0, duringInsert: 0, duringFlush: 0, flushes: 0, inflightKept: 0, inflightLost: 0, reloadMs: [], restartMs: [] };
  const t0 = Date.now();

  let c = srv.client;
  ok(await call(c.createCollection({
    collection_name: NAME,
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'vec', data_type: DataType.FloatVector, dim: DIM },
      { name: 'batch', data_type: DataType.Int64 },
    ],
  })), 'create');
  ok(await c.createIndex({ collection_name: NAME, field_name: 'vec', index_type: 'FLAT', metric_type: 'L2' }), 'index');
  await load(c, NAME);

  const insertBatch = async (cl, b) => {
    state.set(b, 'inflight');
    const r = await cl.insert({ collection_name: NAME, data: batchRows(b), timeout: 5000 });
    if (r?.status?.error_code === 'Success') {
      state.set(b, 'acked');
      return true;
    }
    return false;
  };

  for (let round = 0; round < KILLS; round++) {
    c = srv.client;
    // Some acknowledged batches first.
    const n = randInt(rand, 1, 5);
    for (let i = 0; i < n; i++) assert.ok(await insertBatch(c, nextBatch++), `round ${round}: insert acknowledged`);
    // Now and then an acknowledged delete of a few keys of an acknowledged batch.
    if (round % 5 === 2) {
      const b = nextBatch - 1;
      const keys = [b * BATCH + 7, b * BATCH + 42];
      ok(await c.delete({ collection_name: NAME, ids: keys }), 'delete');
      keys.forEach(k => deleted.add(k));
    }
    if (round % 4 === 1) {
      await flushAndWait(c, NAME);
      stats.flushes++;
    }
    // The kill.
    const mode = round < 4 ? ['ack', 'insert', 'flush', 'delete'][round] : ['ack', 'insert', 'insert', 'flush', 'delete'][randInt(rand, 0, 5)];
    let pending = null;
    if (mode === 'ack') {
      stats.afterAck++;
    } else if (mode === 'insert') {
      stats.duringInsert++;
      // Up to three concurrent batches, so that some are cut by the kill.
      const k = randInt(rand, 1, 4);
      const bs = Array.from({ length: k }, () => nextBatch++);
      pending = Promise.all(bs.map(b => insertBatch(c, b).catch(() => false)));
      await sleep(randInt(rand, 0, 6));
    } else if (mode === 'delete') {
      // Delete a whole acknowledged batch (one without single-key deletes) by expression.
      stats.duringDelete = (stats.duringDelete || 0) + 1;
      const cands = [...state].filter(([b, st]) => (st === 'acked' || st === 'present') && ![...deleted].some(k => Math.floor(k / BATCH) === b)).map(([b]) => b);
      const b = cands[randInt(rand, 0, cands.length)];
      state.set(b, 'deleting');
      pending = c.delete({ collection_name: NAME, filter: `batch == ${b}`, timeout: 5000 })
        .then(r => { if (r?.status?.error_code === 'Success') state.set(b, 'gone'); }).catch(() => false);
      await sleep(randInt(rand, 0, 4));
    } else {
      stats.duringFlush++;
      const b = nextBatch++;
      pending = insertBatch(c, b).then(() => c.flush({ collection_names: [NAME], timeout: 5000 })).catch(() => false);
      await sleep(randInt(rand, 2, 20));
    }
    await killNow(srv);
    if (pending) await Promise.race([pending, sleep(6000)]);
    const r0 = Date.now();
    await srv.spawn();
    stats.restartMs.push(Date.now() - r0);
    c = srv.client;
    // The server loads the collection again by itself.
    stats.reloadMs.push(await waitLoaded(c, NAME, 30000));

    await verify(c, `round ${round}`, stats);
  }
  const took = Date.now() - t0;
  const avg = a => (a.reduce((x, y) => x + y, 0) / a.length).toFixed(0);
  tc.diagnostic(`${KILLS} kills (after ack ${stats.afterAck}, during insert ${stats.duringInsert}, during flush ${stats.duringFlush}, during a batch delete ${stats.duringDelete || 0}: ` +
    `done ${stats.deleteDone || 0} / not done ${stats.deleteKept || 0} / acknowledged ${(stats.duringDelete || 0) - (stats.deleteDone || 0) - (stats.deleteKept || 0)}), ${stats.flushes} flushes, ` +
    `${nextBatch} batches, in-flight batches kept ${stats.inflightKept} / lost ${stats.inflightLost}; restart avg ${avg(stats.restartMs)} ms, ` +
    `reload avg ${avg(stats.reloadMs)} ms max ${Math.max(...stats.reloadMs)} ms; total ${(took / 1000).toFixed(1)} s (seed ${SEED})`);
});

t('after the crashes: flush, every segment indexed, kill -9: the same rows, served from the index files', async tc => {
  let c = srv.client;
  const stats = { inflightKept: 0, inflightLost: 0 };
  await flushAndWait(c, NAME);
  const ms = await waitIndexed(c, NAME, 60000);
  const before = await verify(c, 'after the final flush', stats);
  const di = ok(await c.describeIndex({ collection_name: NAME }));
  assert.equal(Number(di.index_descriptions[0].total_rows) >= before, true, 'total_rows covers every stored row');
  await srv.restart();
  c = srv.client;
  await waitLoaded(c, NAME, 30000);
  assert.equal(await verify(c, 'after the final kill -9', stats), before);
  const di2 = ok(await c.describeIndex({ collection_name: NAME }));
  assert.equal(di2.index_descriptions[0].state, 'Finished');
  assert.equal(di2.index_descriptions[0].indexed_rows, di2.index_descriptions[0].total_rows, 'indexed_rows == total_rows after the restart');
  tc.diagnostic(`${before} rows; indexes built ${ms} ms after the final flush`);
});
