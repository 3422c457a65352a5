// partition-drop.test.mjs: a dropped partition's rows leave every reader —
// search, query, count(*), GetCollectionStatistics, DescribeIndex's row
// counts — and the disk (insert logs, stats logs, index files; its rows
// still buffered at the drop are never written), and stay gone after a
// kill -9. The deletes flushed in the same range as the
// partition's rows stay applied: a flush's delta log lives under the flush's
// first segment, here the dropped partition's, and holds deletes of rows of
// the other partitions.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, serverTest, ok, uniq, DataType, call } from './harness.mjs';
import {
  mulberry32, randomVector, load, flushAndWait, waitIndexed, waitLoaded, count, queryAll,
} from './datahelpers.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.finish(); });
const t = (name, fn, opts) => serverTest(() => srv, name, fn, opts);

const rand = mulberry32(4242);
const DIM = 4;

/** Every file under dir whose path contains part. */
function filesWith(dir, part) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const p = path.join(e.parentPath ?? e.path, e.name);
    if (p.includes(part)) out.push(p);
  }
  return out;
}

const rows = (from, n) => Array.from({ length: n }, (_, i) => ({ id: from + i, vec: randomVector(rand, DIM) }));

async function checkReaders(c, name, what) {
  assert.equal(Number(await count(c, name)), 18, `${what}: count(*)`);
  assert.equal((await queryAll(c, name, 'id >= 100', ['id'])).length, 0, `${what}: dropped rows in query`);
  assert.equal((await queryAll(c, name, 'id in [0, 1]', ['id'])).length, 0, `${what}: deleted rows came back`);
  const s = ok(await c.search({ collection_name: name, data: randomVector(rand, DIM), limit: 100, output_fields: ['id'] }));
  const ids = s.results.map(h => Number(h.id)).sort((a, b) => a - b);
  assert.deepEqual(ids, Array.from({ length: 18 }, (_, i) => i + 2), `${what}: search sees the live rows only`);
}

t('a dropped partition leaves the readers and the disk, its flush\'s deletes stay', async () => {
  const c = srv.client;
  const name = uniq('pdrop');
  ok(await call(c.createCollection({
    collection_name: name,
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'vec', data_type: DataType.FloatVector, dim: DIM },
    ],
  })));
  ok(await c.createPartition({ collection_name: name, partition_name: 'p1' }));
  ok(await c.insert({ collection_name: name, data: rows(0, 20) }));
  await flushAndWait(c, name);
  ok(await c.createIndex({ collection_name: name, field_name: 'vec', index_type: 'HNSW', metric_type: 'L2', params: { M: 8, efConstruction: 32 } }));
  await load(c, name); // a delete by expression reads the collection
  // One range: rows of p1 only, and deletes of two _default rows; its delta
  // log goes under p1's segment.
  ok(await c.insert({ collection_name: name, partition_name: 'p1', data: rows(100, 30) }));
  ok(await c.delete({ collection_name: name, filter: 'id in [0, 1]' }));
  await flushAndWait(c, name);
  await waitIndexed(c, name, 60000, 50);
  assert.equal(Number(await count(c, name)), 48, 'count(*) before the drop');

  const collId = String(ok(await c.describeCollection({ collection_name: name })).collectionID);
  const parts = ok(await c.showPartitions({ collection_name: name }));
  const p1 = String(parts.partitionIDs[parts.partition_names.indexOf('p1')]);
  const p1Logs = `insert_log/${collId}/${p1}/`;
  assert.ok(filesWith(srv.dataDir, p1Logs).length > 0, 'p1 has insert logs before the drop');
  assert.ok(filesWith(srv.dataDir, `delta_log/${collId}/${p1}/`).length > 0,
    'the deletes were flushed under p1 (the case this test is about)');
  const indexFiles = filesWith(srv.dataDir, 'index_files/').length;

  ok(await c.releaseCollection({ collection_name: name }));
  // Rows the datanode still buffers when the partition goes are never written.
  ok(await c.insert({ collection_name: name, partition_name: 'p1', data: rows(200, 5) }));
  ok(await c.dropPartition({ collection_name: name, partition_name: 'p1' }));
  assert.deepEqual(filesWith(srv.dataDir, p1Logs), [], 'p1 insert logs removed');
  await flushAndWait(c, name);
  assert.deepEqual(filesWith(srv.dataDir, p1Logs), [], 'p1\'s buffered rows not written');
  assert.deepEqual(filesWith(srv.dataDir, `stats_log/${collId}/${p1}/`), [], 'p1 stats logs removed');
  assert.ok(filesWith(srv.dataDir, 'index_files/').length < indexFiles, 'p1 index files removed');

  const st = ok(await c.getCollectionStatistics({ collection_name: name }));
  assert.equal(Number(st.data.row_count), 20, 'row_count without p1');
  const di = ok(await c.describeIndex({ collection_name: name })).index_descriptions[0];
  assert.equal(Number(di.total_rows), 20, 'DescribeIndex total_rows without p1');
  assert.equal(Number(di.indexed_rows), 20, 'DescribeIndex indexed_rows without p1');

  await load(c, name);
  await checkReaders(c, name, 'after the drop');
  await srv.restart();
  await waitLoaded(srv.client, name);
  await checkReaders(srv.client, name, 'after kill -9');
});
