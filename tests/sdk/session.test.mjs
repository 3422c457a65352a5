// session.test.mjs: Connect, GetVersion, CheckHealth, AllocTimestamp through
// the official Node SDK; /healthz and /metrics on the HTTP port; graceful
// SIGTERM shutdown.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, serverTest, raw, ok, promSum, assertHealthy } from './harness.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.finish(); });
const t = (name, fn, opts) => serverTest(() => srv, name, fn, opts);

t('Connect returns a non-zero identifier and the client is CONNECTED', async () => {
  const c = srv.client;
  await c.connectPromise;
  // The SDK sets connectStatus CONNECTED only when identifier != 0 (PROTOCOL §0.2).
  assert.equal(c.connectStatus, 1, `connectStatus ${c.connectStatus}`);
  const res = await raw(c, 'Connect', { client_info: { sdk_type: 'nodejs', sdk_version: '3.0.6', user: 'u' } });
  ok(res, 'Connect');
  assert.notEqual(String(res.identifier), '0');
  assert.ok(res.server_info, 'server_info present');
  // Two connects give two different identifiers.
  const res2 = await raw(c, 'Connect', { client_info: { sdk_type: 'nodejs' } });
  ok(res2, 'Connect');
  assert.notEqual(String(res2.identifier), String(res.identifier));
});

t('getVersion returns a non-empty version', async () => {
  const v = await srv.client.getVersion();
  ok(v, 'GetVersion');
  assert.match(v.version, /\d+\.\d+/);
});

t('checkHealth reports healthy with no reasons', async () => {
  const h = await srv.client.checkHealth();
  ok(h, 'CheckHealth');
  assert.equal(h.isHealthy, true);
  assert.deepEqual(h.reasons, []);
});

t('AllocTimestamp is strictly increasing and close to wall-clock time', async () => {
  let prev = 0n;
  for (let i = 0; i < 50; i++) {
    const r = await raw(srv.client, 'AllocTimestamp', {});
    ok(r, 'AllocTimestamp');
    const ts = BigInt(r.timestamp);
    assert.ok(ts > prev, `timestamp ${ts} not above ${prev}`);
    prev = ts;
  }
  // Hybrid timestamp: physical milliseconds in the high bits (<< 18).
  const physMs = Number(prev >> 18n);
  assert.ok(Math.abs(physMs - Date.now()) < 60_000, `physical part ${physMs} far from now ${Date.now()}`);
});

t('AllocTimestamp from concurrent clients never repeats', async () => {
  const clients = [srv.client, srv.newClient(), srv.newClient()];
  try {
    const all = await Promise.all(clients.flatMap(c =>
      Array.from({ length: 30 }, () => raw(c, 'AllocTimestamp', {}))));
    all.forEach(r => ok(r, 'AllocTimestamp'));
    const set = new Set(all.map(r => r.timestamp));
    assert.equal(set.size, all.length, 'duplicate timestamps issued');
  } finally {
    await Promise.all(clients.slice(1).map(c => c.closeConnection()));
  }
});

t('GET /healthz answers 200', async () => {
  const r = await srv.httpGet('/healthz');
  assert.equal(r.status, 200);
});

t('GET /metrics counts each served method', async () => {
  const before = (await srv.httpGet('/metrics'));
  assert.equal(before.status, 200);
  const count = (text, method) => promSum(text, 'cairn_rpc_requests_total', { method: new RegExp(`(^|/)${method}$`) }).sum;
  const b = { GetVersion: count(before.body, 'GetVersion'), CheckHealth: count(before.body, 'CheckHealth') };
  for (let i = 0; i < 3; i++) await srv.client.getVersion();
  for (let i = 0; i < 2; i++) await srv.client.checkHealth();
  const afterRes = await srv.httpGet('/metrics');
  assert.equal(afterRes.status, 200);
  assert.match(afterRes.headers['content-type'] || '', /text\/plain/);
  const text = afterRes.body;
  assert.match(text, /# TYPE cairn_rpc_requests_total counter/);
  assert.ok(count(text, 'GetVersion') >= b.GetVersion + 3,
    `GetVersion count ${count(text, 'GetVersion')} (was ${b.GetVersion})\n${text.split('\n').filter(l => l.includes('GetVersion')).join('\n')}`);
  assert.ok(count(text, 'CheckHealth') >= b.CheckHealth + 2, `CheckHealth count ${count(text, 'CheckHealth')}`);
  assert.ok(count(text, 'Connect') >= 1, 'Connect counted');
});

t('unknown HTTP path answers 404 and the server keeps serving', async () => {
  const r = await srv.httpGet('/no-such-thing');
  assert.equal(r.status, 404);
  await assertHealthy(srv);
});

t('a second client on the same server works independently', async () => {
  const c2 = srv.newClient();
  try {
    await c2.connectPromise;
    ok(await c2.checkHealth(), 'CheckHealth');
    ok(await c2.listDatabases(), 'ListDatabases');
  } finally {
    await c2.closeConnection();
  }
});

// Runs last: stopping the server ends the file.
t('SIGTERM and SIGINT shut down gracefully with status 0 within a few seconds', async () => {
  const r = await srv.stop();
  assert.equal(r.signal, null, `killed by ${r.signal}`);
  assert.equal(r.code, 0);
  assert.ok(r.ms < 6000, `took ${r.ms} ms`);
  // Restart on the same data dir still works after a clean stop.
  await srv.spawn();
  await assertHealthy(srv);
  // SIGINT is graceful too.
  const r2 = await srv.stop('SIGINT');
  assert.equal(r2.signal, null, `killed by ${r2.signal}`);
  assert.equal(r2.code, 0);
  assert.ok(r2.ms < 6000, `took ${r2.ms} ms`);
});
