// harness.mjs: runs a real `cairn standalone` for the SDK test files and
// hands them an official Milvus Node SDK client connected to it.
//
// What it does:
//   - startServer() makes a temporary data dir (mkdtemp), starts
//     `$CAIRN_BIN standalone --port 0 --http-port 0 --data-dir DIR`, waits for
//     the one stdout line `cairn listening grpc=HOST:PORT http=HOST:PORT`
//     (HOST may be 0.0.0.0: we always dial 127.0.0.1) and connects a
//     MilvusClient({address: '127.0.0.1:PORT'}).
//   - srv.kill9() sends SIGKILL and waits for the exit; srv.restart() starts
//     the binary again on the same data dir (the ports may change) and
//     connects a new client; srv.stop() sends SIGTERM and asserts a clean
//     exit (status 0, within STOP_TIMEOUT_MS); srv.cleanup() always kills
//     the process, closes the client and removes the data dir.
//   - Server stderr is kept (the last STDERR_KEEP bytes, over restarts);
//     serverTest() appends it to the message of any failing test, and fails a
//     test after which the server died without being asked to.
//   - A process 'exit' hook SIGKILLs every server still running and removes
//     the data dirs, so an aborted run leaves nothing behind.
//
// Binary: env CAIRN_BIN, default <repo>/build/cmd/cairn. Only 127.0.0.1 is
// ever contacted. Each test file starts its own server (node --test runs
// files in separate processes, so servers never share a data dir).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { test } from 'node:test';

const require = createRequire(import.meta.url);
export const sdk = require('@zilliz/milvus2-sdk-node');
export const { MilvusClient, DataType, ErrorCode, promisify } = sdk;

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '..', '..');
export const CAIRN_BIN = process.env.CAIRN_BIN || path.join(REPO, 'build', 'cmd', 'cairn');

const START_TIMEOUT_MS = 15000;
const STOP_TIMEOUT_MS = 8000;
const STDERR_KEEP = 64 * 1024;
const LISTEN_RE = /cairn listening grpc=(\S+):(\d+) http=(\S+):(\d+)/;

const live = new Set(); // servers whose process may still be running

process.on('exit', () => {
  for (const s of live) {
    try { s.proc?.kill('SIGKILL'); } catch { /* already gone */ }
    try { fs.rmSync(s.dataDir, { recursive: true, force: true }); } catch { /* best effort */ }
  }
});

/** A running (or stopped) cairn standalone on a private data dir. */
export class Server {
  constructor(dataDir, extraArgs) {
    this.dataDir = dataDir;
    this.extraArgs = extraArgs;
    this.proc = null;
    this.client = null;
    this.grpcPort = 0;
    this.httpPort = 0;
    this.stderr = '';
    this.starts = 0;
    this.expectExit = false; // set while we stop/kill it on purpose
    this.unexpectedExit = null; // {code, signal} when it died by itself
    this.exitPromise = null;
  }

  get address() { return `127.0.0.1:${this.grpcPort}`; }
  get httpBase() { return `http://127.0.0.1:${this.httpPort}`; }
  get running() { return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null; }

  appendStderr(text) {
    this.stderr += text;
    if (this.stderr.length > STDERR_KEEP) this.stderr = this.stderr.slice(-STDERR_KEEP);
  }

  stderrTail(n = 8000) { return this.stderr.slice(-n); }

  /** Starts the binary and waits for its listening line; connects a client. */
  async spawn() {
    if (!fs.existsSync(CAIRN_BIN)) {
      throw new Error(`cairn binary not found at ${CAIRN_BIN} (set CAIRN_BIN or build target cairn)`);
    }
    this.starts++;
    this.appendStderr(`\n===== cairn start #${this.starts} =====\n`);
    const args = ['standalone', '--port', '0', '--http-port', '0', '--data-dir', this.dataDir, ...this.extraArgs];
    // CAIRN_* variables are server configuration: pass none of ours.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CAIRN_')));
    const proc = spawn(CAIRN_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    this.proc = proc;
    this.expectExit = false;
    this.unexpectedExit = null;
    live.add(this);
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', d => this.appendStderr(d));
    this.exitPromise = new Promise(resolve => {
      proc.on('exit', (code, signal) => {
        this.appendStderr(`\n===== cairn exited code=${code} signal=${signal} =====\n`);
        if (!this.expectExit) this.unexpectedExit = { code, signal };
        resolve({ code, signal });
      });
    });
    let stdout = '';
    proc.stdout.setEncoding('utf8');
    const ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(
        `cairn did not print its listening line within ${START_TIMEOUT_MS} ms; stdout so far: ${JSON.stringify(stdout)}`)), START_TIMEOUT_MS);
      proc.stdout.on('data', d => {
        stdout += d;
        const m = LISTEN_RE.exec(stdout);
        if (m) { clearTimeout(timer); resolve(m); }
      });
      proc.on('error', e => { clearTimeout(timer); reject(e); });
      proc.on('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`cairn exited before listening (code=${code} signal=${signal})\n${this.stderrTail()}`));
      });
    });
    const m = await ready;
    this.grpcPort = Number(m[2]);
    this.httpPort = Number(m[4]);
    this.client = newClient(this.address);
    await this.client.connectPromise;
    await this.waitServing();
    return this;
  }

  /**
   * The listening line means the port is bound; on a loaded machine the
   * first connection can still time out. Wait (bounded) until CheckHealth
   * answers healthy before a test uses the client.
   */
  async waitServing(attempts = 50) {
    for (let i = 0; ; i++) {
      try {
        const h = await this.client.checkHealth();
        if (h && h.isHealthy) return;
      } catch (e) {
        if (i + 1 >= attempts) throw e;
      }
      if (i + 1 >= attempts) throw new Error('cairn did not become healthy');
      await sleep(100);
    }
  }

  /** A second, independent client on the same server (caller closes it). */
  newClient(config = {}) { return newClient(this.address, config); }

  async closeClient() {
    const c = this.client;
    this.client = null;
    if (c) { try { await c.closeConnection(); } catch { /* ignore */ } }
  }

  /** SIGKILL, wait for the process to be gone. */
  async kill9() {
    await this.closeClient();
    if (!this.running) return;
    this.expectExit = true;
    this.proc.kill('SIGKILL');
    await this.exitPromise;
  }

  /** Kill -9 (if running), then start again on the same data dir. */
  async restart() {
    await this.kill9();
    return this.spawn();
  }

  /**
   * Graceful stop: SIGTERM, then the process must exit with status 0 within
   * STOP_TIMEOUT_MS. Returns {code, signal, ms}; throws otherwise.
   */
  async stop(signal = 'SIGTERM') {
    await this.closeClient();
    if (!this.running) throw new Error('stop(): server is not running');
    this.expectExit = true;
    const t0 = Date.now();
    this.proc.kill(signal);
    let timer;
    const timeout = new Promise(resolve => { timer = setTimeout(() => resolve(null), STOP_TIMEOUT_MS); });
    const res = await Promise.race([this.exitPromise, timeout]);
    clearTimeout(timer);
    if (res === null) {
      this.proc.kill('SIGKILL');
      await this.exitPromise;
      throw new Error(`cairn did not exit within ${STOP_TIMEOUT_MS} ms of ${signal}`);
    }
    return { ...res, ms: Date.now() - t0 };
  }

  /**
   * End of a test file: a graceful stop that must exit with status 0 (so a
   * shutdown bug, or a leak reported by a sanitizer build, fails the file),
   * then cleanup() in any case.
   */
  async finish() {
    try {
      if (this.running) {
        const r = await this.stop();
        if (r.code !== 0 || r.signal !== null) {
          throw new Error(`cairn exited with code=${r.code} signal=${r.signal} on SIGTERM\n--- cairn stderr (tail) ---\n${this.stderrTail()}`);
        }
      }
    } finally {
      await this.cleanup();
    }
  }

  /** Always safe: kills the process, closes the client, removes the data dir. */
  async cleanup() {
    await this.closeClient();
    if (this.running) {
      this.expectExit = true;
      this.proc.kill('SIGKILL');
      await this.exitPromise;
    }
    fs.rmSync(this.dataDir, { recursive: true, force: true });
    live.delete(this);
  }

  /** GET on the HTTP port: {status, body, headers}. */
  httpGet(p) {
    return new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: this.httpPort, path: p, timeout: 5000, agent: false }, res => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', d => { body += d; });
        res.on('end', () => resolve({ status: res.statusCode, body, headers: res.headers }));
      });
      req.on('timeout', () => req.destroy(new Error(`GET ${p} timed out`)));
      req.on('error', reject);
    });
  }
}

/**
 * A MilvusClient on 127.0.0.1 with the SDK's defaults (telemetry included),
 * except its retries of UNAVAILABLE: the SDK keeps a pool of channels, and
 * a call on a pooled channel that is still connecting (a server restarted a
 * moment ago, a loaded CI machine) gives up after 3 tries in ~150 ms by
 * default although the server answers on the other channels.
 */
export function newClient(address, config = {}) {
  return new MilvusClient({ address, logLevel: 'error', maxRetries: 8, retryDelay: 50, ...config });
}

/**
 * Cluster mode (tests/cluster/run-sdk.mjs): with CAIRN_TEST_PROXY=HOST:PORT
 * (and CAIRN_TEST_PROXY_HTTP=HOST:PORT) the test files talk to a proxy of a
 * running cluster instead of starting a standalone server. Each test file
 * gets a database of its own (created here; every client of the file uses
 * it), so test files running at once against the same cluster never see
 * each other's collections. Files that kill or restart the server do not
 * run in this mode (the cluster has its own fault tests).
 */
export const CLUSTER_PROXY = process.env.CAIRN_TEST_PROXY || '';

class ClusterProxy {
  constructor(address, httpAddress, db) {
    this.proxyAddress = address;
    this.httpAddress = httpAddress;
    this.db = db;
    this.client = newClient(address, { database: db });
    this.unexpectedExit = null;
    this.dataDir = '';
  }

  get address() { return this.proxyAddress; }
  get httpBase() { return `http://${this.httpAddress}`; }
  get running() { return true; }
  newClient(config = {}) { return newClient(this.proxyAddress, { database: this.db, ...config }); }
  stderrTail() { return '(cluster mode: see the cluster logs)'; }
  async closeClient() { try { await this.client?.closeConnection(); } catch { /* closed */ } }
  async cleanup() { await this.closeClient(); }
  async finish() { await this.cleanup(); }
  async waitServing() { return true; }
  notHere() { throw new Error('kill/restart is not available against a cluster proxy'); }
  async kill9() { this.notHere(); }
  async restart() { this.notHere(); }
  async stop() { this.notHere(); }
}

async function connectCluster() {
  const db = `t_${process.pid}_${Math.floor(Math.random() * 1e9)}`;
  const admin = newClient(CLUSTER_PROXY);
  const r = await admin.createDatabase({ db_name: db });
  await admin.closeConnection();
  if (r.error_code !== 'Success') throw new Error(`createDatabase ${db}: ${r.reason}`);
  return new ClusterProxy(CLUSTER_PROXY, process.env.CAIRN_TEST_PROXY_HTTP || '', db);
}

/** Starts a fresh server on a new temporary data dir. */
export async function startServer({ extraArgs = [] } = {}) {
  if (CLUSTER_PROXY) return connectCluster();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-sdk-'));
  const srv = new Server(dataDir, extraArgs);
  try {
    await srv.spawn();
  } catch (e) {
    const tail = srv.stderrTail();
    await srv.cleanup();
    e.message += `\n--- cairn stderr ---\n${tail}`;
    throw e;
  }
  return srv;
}

/**
 * Tests that fail today because of a server bug, by exact test name, with the
 * bug in one line. They still run, but report as TODO instead of failing the
 * suite; CAIRN_SDK_STRICT=1 makes them fail like any other test. Remove an
 * entry once the server is fixed (a TODO test that passes shows "# TODO" with
 * "ok" in the output).
 */
export const KNOWN_BUGS = {
};
const STRICT = process.env.CAIRN_SDK_STRICT === '1';

/**
 * test() that appends the server's stderr to a failure and fails when the
 * server died during the test without being asked to. getSrv is a function
 * (the server is usually created in before()).
 */
export function serverTest(getSrv, name, fn, opts = {}) {
  const bug = KNOWN_BUGS[name];
  if (bug && !STRICT) opts = { ...opts, todo: `known server bug: ${bug}` };
  return test(name, opts, async t => {
    const srv = getSrv();
    try {
      await fn(t, srv);
      if (srv.unexpectedExit) {
        throw new Error(`cairn died during the test: ${JSON.stringify(srv.unexpectedExit)}`);
      }
    } catch (e) {
      const msg = `\n--- cairn stderr (tail) ---\n${srv ? srv.stderrTail() : '(no server)'}`;
      if (e && typeof e === 'object' && typeof e.message === 'string') {
        try { e.message += msg; } catch { /* read-only message */ }
        // The stack text was built before the message grew: add it there too,
        // so runners that print the stack show the server's stderr.
        try { if (typeof e.stack === 'string') e.stack += msg; } catch { /* read-only */ }
        throw e;
      }
      let shown;
      try { shown = JSON.stringify(e); } catch { shown = String(e); }
      throw new Error(`thrown: ${shown}${msg}`);
    }
  });
}

/**
 * Awaits an SDK call and returns its reply; when the SDK throws a Status
 * object instead (createCollection with fields does: `throw res`), returns
 * that Status. Real Errors are rethrown.
 */
export async function call(p) {
  try {
    return await p;
  } catch (e) {
    if (e && typeof e === 'object' && !(e instanceof Error) && 'error_code' in e) return e;
    throw e;
  }
}

/** Calls any MilvusService RPC through the SDK's own channel pool and interceptors. */
export async function raw(client, method, req = {}, timeoutMs = 10000) {
  await client.connectPromise;
  return promisify(client.channelPool, method, req, timeoutMs);
}

/** The SDK's protobufjs types for CollectionSchema / FieldSchema (to send schemas the SDK would refuse). */
export function schemaType(client) {
  return client.schemaProto.lookupType('milvus.proto.schema.CollectionSchema');
}

/**
 * Sends CreateCollection with a hand-built schema object (protobufjs
 * camelCase names: {name, fields:[{name, dataType, isPrimaryKey, typeParams:[{key,value}], ...}]}),
 * bypassing the SDK's client-side checks so that the server's own validation is exercised.
 */
export async function rawCreateCollection(client, { collection_name, schema, db_name, shards_num, consistency_level, properties, num_partitions }) {
  const T = schemaType(client);
  const bytes = T.encode(T.create(schema)).finish();
  const req = { collection_name, schema: bytes };
  if (db_name !== undefined) req.db_name = db_name;
  if (shards_num !== undefined) req.shards_num = shards_num;
  if (consistency_level !== undefined) req.consistency_level = consistency_level;
  if (properties !== undefined) req.properties = properties;
  if (num_partitions !== undefined) req.num_partitions = num_partitions;
  return raw(client, 'CreateCollection', req);
}

/** A unique name per call, valid for Milvus ([A-Za-z_][A-Za-z0-9_]*). */
let seq = 0;
export function uniq(prefix = 'c') {
  seq++;
  return `${prefix}_${process.pid}_${seq}`;
}

/** The Status object of a reply, whether the reply is a Status or holds one. */
export function statusOf(res) {
  if (res && typeof res === 'object' && 'status' in res && res.status && typeof res.status === 'object') return res.status;
  return res;
}

/** Asserts a reply succeeded; message shows the reason otherwise. */
export function ok(res, what = 'call') {
  const st = statusOf(res);
  if (!st || st.error_code !== 'Success' || (st.code !== undefined && Number(st.code) !== 0)) {
    throw new Error(`${what} failed: ${JSON.stringify(st)}`);
  }
  return res;
}

/**
 * Asserts a reply is an error: error_code not Success, code non-zero, and a
 * non-empty reason. With expect {code, error_code, reason: RegExp} those are
 * checked too. Returns the status.
 */
export function fails(res, expect = {}, what = 'call') {
  const st = statusOf(res);
  const show = JSON.stringify(st);
  if (!st || typeof st !== 'object') throw new Error(`${what}: no status in reply ${JSON.stringify(res)}`);
  if (st.error_code === 'Success') throw new Error(`${what}: expected an error, got Success: ${show}`);
  if (!(Number(st.code) > 0)) throw new Error(`${what}: error without a code: ${show}`);
  if (!st.reason || !String(st.reason).trim()) throw new Error(`${what}: error without a reason: ${show}`);
  if (expect.code !== undefined) {
    const codes = Array.isArray(expect.code) ? expect.code : [expect.code];
    if (!codes.includes(Number(st.code))) throw new Error(`${what}: expected code ${codes.join('|')}, got ${show}`);
  }
  if (expect.error_code !== undefined) {
    const ecs = Array.isArray(expect.error_code) ? expect.error_code : [expect.error_code];
    if (!ecs.includes(st.error_code)) throw new Error(`${what}: expected error_code ${ecs.join('|')}, got ${show}`);
  }
  if (expect.reason !== undefined && !expect.reason.test(st.reason)) {
    throw new Error(`${what}: reason does not match ${expect.reason}: ${show}`);
  }
  return st;
}

/** Milvus's codes for the errors the foundation serves. */
export const E = {
  COLLECTION_NOT_FOUND: { code: 100, error_code: 'CollectionNotExists' },
  PARTITION_NOT_FOUND: { code: 200, error_code: 'MetaFailed' },
  INDEX_NOT_FOUND: { code: 700, error_code: 'IndexNotExist' },
  DATABASE_NOT_FOUND: { code: 800 },
  INVALID: { code: [1100, 1101, 1102], error_code: 'IllegalArgument' },
  ALIAS: { code: [1600, 1601, 1602] },
};

/** Asserts the server still answers CheckHealth with isHealthy. */
export async function assertHealthy(srv) {
  const h = await srv.client.checkHealth();
  ok(h, 'CheckHealth');
  if (h.isHealthy !== true) throw new Error(`CheckHealth not healthy: ${JSON.stringify(h)}`);
}

/** Sums a Prometheus counter's samples whose labels match (values compared exactly, or by RegExp). */
export function promSum(text, metric, labels = {}) {
  let sum = 0;
  let seen = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(metric)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== metric) continue;
    const lbl = {};
    for (const p of (m[3] || '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) lbl[p[1]] = p[2];
    let match = true;
    for (const [k, v] of Object.entries(labels)) {
      if (v instanceof RegExp ? !v.test(lbl[k] ?? '') : lbl[k] !== v) { match = false; break; }
    }
    if (!match) continue;
    seen++;
    sum += Number(m[4]);
  }
  return { sum, seen };
}

/** A float vector schema field list, the usual minimum. */
export function basicFields({ dim = 8, pk = 'id', vec = 'vector', autoID = false } = {}) {
  return [
    { name: pk, data_type: DataType.Int64, is_primary_key: true, autoID },
    { name: vec, data_type: DataType.FloatVector, dim },
  ];
}

export const sleep = ms => new Promise(r => setTimeout(r, ms));

/** Resolves p, or rejects after ms with a message (so a hung call fails instead of hanging the suite). */
export function within(p, ms, what) {
  let timer;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms); }),
  ]);
}
