// cluster.test.mjs — Cairn as a cluster on 127.0.0.1 (deploy/local-cluster.sh:
// etcd, the kafka mock, s3rver, 2 coordinators, 2 datanodes, 1 indexnode,
// 2 querynodes, 2 proxies, each its own process), driven by the official
// Node SDK:
//
//   1. the write/read-path SDK suite (tests/sdk data-*, indexes, load,
//      partitions) against both proxies at the same time (two runs at once,
//      each test file in a database of its own);
//   2. a dropped partition's objects leave the S3 store;
//   3. fault tests, each under a continuous insert + search load: kill -9 of
//      the querynode holding the collection, of the datanode consuming it,
//      of the active coordinator, of a proxy; etcd restarted; the S3 server
//      stopped and restarted. After each: searches succeed again, and every
//      acknowledged row is present exactly once. Recovery times are printed
//      as `cluster fault=NAME recovery_ms=N`.
//
// Env: CAIRN_BIN, KAFKA_MOCK (built binaries; ctest sets them).
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { newClient, DataType } from '../sdk/harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const SCRIPT = path.join(REPO, 'deploy', 'local-cluster.sh');
const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-cluster-'));
const ENV = { ...process.env, CAIRN_SESSION_TTL: '3s' };
const DIM = 8;
let proxies = [];

const sleep = ms => new Promise(r => setTimeout(r, ms));
const sh = (...args) => execFileSync(SCRIPT, args, { env: ENV, encoding: 'utf8', timeout: 240000 });
const pidOf = name => Number(fs.readFileSync(path.join(DIR, 'pids', `${name}.pid`), 'utf8'));
const kill9 = name => { try { process.kill(pidOf(name), 'SIGKILL'); } catch { /* gone */ } };
const logOf = name => fs.readFileSync(path.join(DIR, 'logs', `${name}.log`), 'utf8');

before(async () => {
  const out = sh('start', DIR);
  const m = /cairn cluster proxies=(\S+)/.exec(out);
  assert.ok(m, `no proxies line in:\n${out}`);
  proxies = m[1].split(',');
});

after(() => {
  try { sh('stop', DIR); } catch (e) { console.error(String(e)); }
  if (!process.env.CAIRN_KEEP_CLUSTER) fs.rmSync(DIR, { recursive: true, force: true });
});

function runSuite(proxy, files) {
  const env = { ...ENV, CAIRN_TEST_PROXY: proxy };
  delete env.NODE_TEST_CONTEXT; /* a runner of its own, not our child test */
  return new Promise(resolve => {
    const p = spawn(process.execPath, ['--test', '--test-reporter=tap', ...files], {
      cwd: path.join(REPO, 'tests', 'sdk'),
      env,
    });
    let out = '';
    p.stdout.on('data', d => { out += d; });
    p.stderr.on('data', d => { out += d; });
    p.on('exit', code => resolve({ code, out }));
  });
}

test('the SDK write/read suite passes against both proxies at once', async () => {
  const files = ['data-write.test.mjs', 'data-search.test.mjs', 'data-seed.test.mjs',
                 'indexes.test.mjs', 'load.test.mjs', 'partitions.test.mjs',
                 'catalog-cache.test.mjs'];
  const runs = await Promise.all(proxies.map(p => runSuite(p, files)));
  runs.forEach((r, i) => {
    const summary = /# pass (\d+)[\s\S]*# fail (\d+)/.exec(r.out);
    console.log(`proxy ${proxies[i]}: pass=${summary?.[1]} fail=${summary?.[2]}`);
    if (!summary) console.log(r.out.slice(-3000));
    const failures = r.out.split(/\n(?=\s*# Subtest|\s*ok |\s*not ok )/)
      .filter(b => /^\s*not ok /.test(b)).map(b => b.slice(0, 3000)).join('\n');
    assert.equal(r.code, 0, `suite against ${proxies[i]} failed:\n${failures || r.out.slice(-6000)}`);
  });
});

// ---- the proxies' collection caches ------------------------------------------

test('a collection made again through one proxy is the one the other proxy uses', async () => {
  const [a, b] = [newClient(proxies[0]), newClient(proxies[1])];
  const name = 'remade';
  const vec = (dim, x) => Array.from({ length: dim }, (_, k) => Math.sin(x + k));
  const rows = (dim, ids) => ids.map(id => ({ id, v: vec(dim, id) }));
  const okay = (r, what) => assert.equal(r.error_code ?? r.status?.error_code, 'Success', `${what}: ${JSON.stringify(r)}`);
  const make = async dim => {
    okay(await a.createCollection({ collection_name: name, fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'v', data_type: DataType.FloatVector, dim }] }), 'create');
    okay(await a.createIndex({ collection_name: name, field_name: 'v', index_type: 'FLAT', metric_type: 'L2' }), 'index');
    okay(await a.loadCollectionSync({ collection_name: name }), 'load');
  };
  const searchB = (dim, x) => b.search({ collection_name: name, data: [vec(dim, x)], limit: 10, consistency_level: 'Strong' });

  await make(DIM);
  okay(await b.insert({ collection_name: name, data: rows(DIM, [1, 2, 3]) }), 'insert');
  const first = await searchB(DIM, 1); /* b now holds the collection in its cache */
  okay(first, 'search');
  assert.deepEqual(first.results.map(h => Number(h.id)).sort(), [1, 2, 3]);

  /* Dropped and made again through a, with another dimension. Rows written
   * through b at once go to the new collection: b's writes never use its
   * cache, whose catalogue watch may not have seen the change yet. */
  okay(await a.dropCollection({ collection_name: name }), 'drop');
  await make(2 * DIM);
  okay(await b.insert({ collection_name: name, data: rows(2 * DIM, [100, 101, 102, 103]) }), 'insert into the new collection');

  /* b's reads follow as soon as its watch delivers the change. */
  const ms = await until('a search through b finds the new collection', async () => {
    const r = await searchB(2 * DIM, 100);
    return r.status.error_code === 'Success' &&
      JSON.stringify(r.results.map(h => Number(h.id)).sort()) === '[100,101,102,103]';
  }, 10000);
  console.log(`cluster catalogue_change_seen_by_other_proxy_ms=${ms}`);

  /* b's own DDL is seen by its very next request. */
  okay(await b.releaseCollection({ collection_name: name }), 'release');
  const after = await searchB(2 * DIM, 100);
  assert.notEqual(after.status.error_code, 'Success', 'a search right after the release must fail');
  assert.match(after.status.reason, /not loaded/);
  okay(await a.dropCollection({ collection_name: name }), 'drop');
});

// ---- dropped partitions -------------------------------------------------------

/** Files of the S3 double whose path holds part. */
function s3FilesWith(part) {
  const out = [];
  for (const e of fs.readdirSync(path.join(DIR, 's3'), { withFileTypes: true, recursive: true })) {
    const p = path.join(e.parentPath ?? e.path, e.name);
    if (e.isFile() && p.includes(part)) out.push(p);
  }
  return out;
}

test('a dropped partition\'s objects leave the S3 store, and its buffered rows are never written', async () => {
  const c = newClient(proxies[0]);
  const name = 'pdrop';
  const okay = (r, what) => assert.equal(r.error_code ?? r.status?.error_code, 'Success', `${what}: ${JSON.stringify(r)}`);
  const rows = (from, n) => Array.from({ length: n }, (_, i) => ({ id: from + i, v: Array.from({ length: DIM }, (_, k) => Math.sin(from + i + k)) }));
  okay(await c.createCollection({ collection_name: name, fields: [
    { name: 'id', data_type: DataType.Int64, is_primary_key: true },
    { name: 'v', data_type: DataType.FloatVector, dim: DIM }] }), 'create');
  okay(await c.createPartition({ collection_name: name, partition_name: 'p1' }), 'partition');
  okay(await c.insert({ collection_name: name, data: rows(0, 10) }), 'insert _default');
  okay(await c.insert({ collection_name: name, partition_name: 'p1', data: rows(100, 20) }), 'insert p1');
  okay(await c.flushSync({ collection_names: [name] }), 'flush');
  const coll = String((await c.describeCollection({ collection_name: name })).collectionID);
  const parts = await c.showPartitions({ collection_name: name });
  const p1 = String(parts.partitionIDs[parts.partition_names.indexOf('p1')]);
  const p1Logs = `insert_log/${coll}/${p1}/`;
  assert.ok(s3FilesWith(p1Logs).length > 0, 'p1 has insert logs after the flush');
  assert.ok(s3FilesWith(`stats_log/${coll}/${p1}/`).length > 0, 'p1 has stats logs after the flush');

  /* Rows buffered in the datanode when the partition goes. */
  okay(await c.insert({ collection_name: name, partition_name: 'p1', data: rows(200, 20) }), 'insert p1 again');
  okay(await c.dropPartition({ collection_name: name, partition_name: 'p1' }), 'drop p1');
  assert.deepEqual(s3FilesWith(p1Logs), [], 'p1\'s insert logs are gone');
  assert.deepEqual(s3FilesWith(`stats_log/${coll}/${p1}/`), [], 'p1\'s stats logs are gone');
  okay(await c.flushSync({ collection_names: [name] }), 'flush after the drop');
  assert.deepEqual(s3FilesWith(p1Logs), [], 'the buffered rows of p1 were not written');

  okay(await c.createIndex({ collection_name: name, field_name: 'v', index_type: 'FLAT', metric_type: 'L2' }), 'index');
  okay(await c.loadCollectionSync({ collection_name: name }), 'load');
  const cnt = await c.query({ collection_name: name, filter: '', output_fields: ['count(*)'], consistency_level: 'Strong' });
  okay(cnt, 'count');
  assert.equal(Number(cnt.data[0]['count(*)']), 10, 'only _default\'s rows are left');
  okay(await c.dropCollection({ collection_name: name }), 'drop');
});

// ---- fault tests ------------------------------------------------------------

/** Which process (e.g. "querynode-2") serves the gRPC address addr. */
function processAt(addr) {
  for (const f of fs.readdirSync(path.join(DIR, 'logs'))) {
    const name = f.replace(/\.log$/, '');
    if (logOf(name).includes(`cairn listening grpc=${addr} `)) return name;
  }
  return null;
}

/** A key of the cluster's etcd (through its JSON gateway). */
async function etcdGet(key) {
  const ep = fs.readFileSync(path.join(DIR, 'etcd.endpoint'), 'utf8').trim();
  const r = await fetch(`http://${ep}/v3/kv/range`, {
    method: 'POST',
    body: JSON.stringify({ key: Buffer.from(`cairn-local/${key}`).toString('base64') }),
  });
  const j = await r.json();
  return j.kvs?.length ? Buffer.from(j.kvs[0].value, 'base64').toString() : null;
}

/** The process a node id (lease) belongs to, via its session. */
async function nodeProcess(role, id) {
  const addr = await etcdGet(`cluster/session/${role}/${id}`);
  return addr ? processAt(addr) : null;
}

/** Polls fn until it returns true; returns the ms it took. */
async function until(what, fn, limitMs = 60000) {
  const t0 = Date.now();
  for (;;) {
    try { if (await fn()) return Date.now() - t0; } catch { /* not yet */ }
    if (Date.now() - t0 > limitMs) throw new Error(`${what}: not within ${limitMs} ms`);
    await sleep(100);
  }
}

/** Continuous load: inserts of 50 rows and searches, through both proxies. */
class Load {
  constructor(collection, writer, reader) {
    Object.assign(this, { collection, writer, reader });
    this.acked = new Set();
    this.next = 1;
    this.stopped = false;
    this.insertErrors = 0;
    this.searchErrors = 0;
    this.searches = 0;
  }
  row(id) { return { id, tag: id % 7, v: Array.from({ length: DIM }, (_, k) => Math.cos(id * 0.37 + k)) }; }
  async writeLoop() {
    while (!this.stopped) {
      const ids = Array.from({ length: 50 }, () => this.next++);
      try {
        const r = await this.writer().insert({ collection_name: this.collection, data: ids.map(i => this.row(i)) });
        if (r.status.error_code === 'Success') ids.forEach(i => this.acked.add(i));
        else this.insertErrors++;
      } catch { this.insertErrors++; }
      await sleep(50);
    }
  }
  async searchLoop() {
    while (!this.stopped) {
      try {
        const r = await this.reader().search({ collection_name: this.collection, data: [this.row(1).v], limit: 5 });
        if (r.status.error_code === 'Success') this.searches++; else this.searchErrors++;
      } catch { this.searchErrors++; }
      await sleep(50);
    }
  }
  start() { this.loops = [this.writeLoop(), this.searchLoop()]; }
  async stop() { this.stopped = true; await Promise.all(this.loops); }
}

/** Every acknowledged id present exactly once (strong count and a query). */
async function checkAllRows(client, collection, load) {
  const ackedBefore = new Set(load.acked); /* the load keeps writing */
  const cnt = await client.query({ collection_name: collection, filter: '', output_fields: ['count(*)'], consistency_level: 'Strong' });
  assert.equal(cnt.status.error_code, 'Success', JSON.stringify(cnt.status));
  const total = Number(cnt.data[0]['count(*)']);
  const seen = new Set();
  for (let lo = 0; lo < load.next; lo += 10000) {
    const q = await client.query({ collection_name: collection, filter: `id > ${lo} and id <= ${lo + 10000}`,
                                   output_fields: ['id'], consistency_level: 'Strong', limit: 16000 });
    assert.equal(q.status.error_code, 'Success', JSON.stringify(q.status));
    for (const r of q.data) {
      assert.ok(!seen.has(Number(r.id)), `row ${r.id} returned twice`);
      seen.add(Number(r.id));
    }
  }
  for (const id of ackedBefore) assert.ok(seen.has(id), `acknowledged row ${id} is missing`);
  assert.ok(total >= ackedBefore.size, `count ${total} < acknowledged ${ackedBefore.size}`);
  return total;
}

async function searchWorks(client, collection, load) {
  const r = await client.search({ collection_name: collection, data: [load.row(1).v], limit: 3, consistency_level: 'Strong' });
  return r.status.error_code === 'Success' && r.results.length === 3;
}

test('fault tests under insert + search load', { timeout: 900000 }, async t => {
  let c = [newClient(proxies[0]), newClient(proxies[1])];
  const name = 'faults';
  const r = await c[0].createCollection({ collection_name: name, fields: [
    { name: 'id', data_type: DataType.Int64, is_primary_key: true },
    { name: 'tag', data_type: DataType.Int64 },
    { name: 'v', data_type: DataType.FloatVector, dim: DIM }] });
  assert.equal(r.error_code, 'Success', JSON.stringify(r));
  assert.equal((await c[0].createIndex({ collection_name: name, field_name: 'v', index_type: 'HNSW', metric_type: 'L2', params: { M: 8, efConstruction: 32 } })).error_code, 'Success');
  assert.equal((await c[0].loadCollectionSync({ collection_name: name })).error_code, 'Success');
  const id = (await c[0].describeCollection({ collection_name: name })).collectionID;
  let writer = () => c[1], reader = () => c[0];
  const load = new Load(name, () => writer(), () => reader());
  load.start();
  await sleep(1500);
  const report = (fault, ms) => console.log(`cluster fault=${fault} recovery_ms=${ms}`);

  /* A second collection loaded with 2 replicas: one on each querynode. */
  const rep = 'replicated';
  assert.equal((await c[0].createCollection({ collection_name: rep, dimension: DIM })).error_code, 'Success');
  await c[0].releaseCollection({ collection_name: rep });
  assert.equal((await c[0].insert({ collection_name: rep, data: [1, 2, 3].map(i => ({ id: i, vector: load.row(i).v })) })).status.error_code, 'Success');
  assert.equal((await c[0].loadCollectionSync({ collection_name: rep, replica_number: 2 })).error_code, 'Success');
  const repId = (await c[0].describeCollection({ collection_name: rep })).collectionID;
  const repNodes = [await etcdGet(`cluster/assign/querynode/${repId}/0`), await etcdGet(`cluster/assign/querynode/${repId}/1`)];
  assert.ok(repNodes[0] && repNodes[1] && repNodes[0] !== repNodes[1], `replicas on ${repNodes}`);
  const repSearch = async () => {
    const r = await reader().search({ collection_name: rep, data: [load.row(1).v], limit: 3 });
    return r.status.error_code === 'Success' && r.results.length === 3;
  };
  await until('search on the replicated collection', repSearch, 30000);

  await t.test('kill -9 of the querynode holding the collection', async () => {
    const node = await nodeProcess('querynode', await etcdGet(`cluster/assign/querynode/${id}/0`));
    assert.ok(node, 'no querynode assignment');
    kill9(node);
    /* 2 replicas: the other one answers at once */
    const t0 = Date.now();
    for (let i = 0; i < 5; i++) assert.ok(await repSearch(), 'search on the surviving replica failed');
    report('querynode_with_2_replicas_5_searches', Date.now() - t0);
    report('querynode', await until('search after querynode kill', () => searchWorks(reader(), name, load)));
    await checkAllRows(reader(), name, load);
    sh('restart', DIR, node);
  });

  await t.test('kill -9 of the datanode consuming the collection', async () => {
    const node = await nodeProcess('datanode', await etcdGet(`cluster/assign/datanode/${id}`));
    assert.ok(node, 'no datanode assignment');
    kill9(node);
    report('datanode', await until('flush after datanode kill', async () =>
      (await writer().flushSync({ collection_names: [name] })).status.error_code === 'Success'));
    await checkAllRows(reader(), name, load);
    sh('restart', DIR, node);
  });

  await t.test('kill -9 of the active coordinator: the standby takes over', async () => {
    const leader = (await etcdGet('cluster/leader/coordinator')).split(' ')[1];
    const node = processAt(leader);
    kill9(node);
    let k = 0;
    report('coordinator', await until('DDL after coordinator kill', async () =>
      (await reader().createCollection({ collection_name: `after_failover_${k++}`, dimension: DIM })).error_code === 'Success'));
    assert.notEqual((await etcdGet('cluster/leader/coordinator')).split(' ')[1], leader);
    sh('restart', DIR, node);
  });

  await t.test('kill -9 of a proxy: the other keeps serving', async () => {
    writer = () => c[1];
    reader = () => c[1];
    kill9('proxy-1');
    report('proxy', await until('search on the other proxy', () => searchWorks(c[1], name, load)));
    sh('restart', DIR, 'proxy-1');
    const addr = /cairn listening grpc=(\S+) /g;
    const all = [...logOf('proxy-1').matchAll(addr)];
    c[0] = newClient(all[all.length - 1][1]);
    reader = () => c[0];
  });

  await t.test('etcd restarted', async () => {
    kill9('etcd-1');
    await sleep(1000);
    sh('restart', DIR, 'etcd-1');
    let k = 0;
    report('etcd', await until('DDL after etcd restart', async () =>
      (await c[0].createCollection({ collection_name: `after_etcd_${k++}`, dimension: DIM })).error_code === 'Success'));
    await until('search after etcd restart', () => searchWorks(c[0], name, load));
  });

  await t.test('S3 server stopped and restarted: writes wait and resume', async () => {
    kill9('s3rver-1');
    const t0 = Date.now();
    const flush = writer().flushSync({ collection_names: [name] }).catch(e => ({ status: { error_code: String(e) } }));
    await sleep(3000);
    sh('restart', DIR, 's3rver-1');
    const f = await flush;
    if (f.status.error_code !== 'Success') {
      report('s3_first_flush_failed', 0);
      await until('flush after S3 restart', async () =>
        (await writer().flushSync({ collection_names: [name] })).status.error_code === 'Success');
    }
    report('s3_flush_after_kill', Date.now() - t0); /* 3 s of it the server was down */
    await checkAllRows(reader(), name, load);
  });

  await load.stop();
  const total = await checkAllRows(c[0], name, load);
  console.log(`cluster faults: acknowledged=${load.acked.size} rows=${total} searches=${load.searches} ` +
              `search_errors=${load.searchErrors} insert_errors=${load.insertErrors}`);
  for (const x of c) await x.closeConnection();
});
