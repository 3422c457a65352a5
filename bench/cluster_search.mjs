// cluster_search.mjs — the cost a cluster proxy adds to a Search: latency
// of nq=1 top-10 searches through one proxy of a running cluster
// (deploy/local-cluster.sh), driven by the official Node SDK.
//
//   node bench/cluster_search.mjs HOST:PORT [searches]
//
// Creates a collection of 2,000 seeded 32-d rows (FLAT, L2), loads it, runs
// 200 warm-up searches, then `searches` (default 2,000) one after another,
// and prints p50 / p99 / mean latency in the `load metric=... value=...`
// form of load_gen. The collection is dropped at the end.
// Needs tests/sdk's node_modules (npm ci there).
import { newClient, DataType } from '../tests/sdk/harness.mjs';
import { mulberry32, randomVectors } from '../tests/sdk/datahelpers.mjs';

const [target, nArg] = process.argv.slice(2);
if (!target) {
  console.error('usage: node bench/cluster_search.mjs HOST:PORT [searches]');
  process.exit(2);
}
const N = Number(nArg || 2000);
const DIM = 32, ROWS = 2000;
const name = `bench_cluster_${process.pid}`;

function must(res, what) {
  const s = res?.status ?? res;
  const code = s?.code ?? (s?.error_code === 'Success' ? 0 : s?.error_code);
  if (code !== 0 && code !== undefined && code !== 'Success')
    throw new Error(`${what}: ${JSON.stringify(s)}`);
  return res;
}

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p / 100))];
}

const client = newClient(target);
const rand = mulberry32(7);
const vectors = randomVectors(rand, ROWS, DIM);
must(await client.createCollection({
  collection_name: name,
  fields: [
    { name: 'id', data_type: DataType.Int64, is_primary_key: true },
    { name: 'vector', data_type: DataType.FloatVector, dim: DIM },
  ],
}), 'create');
must(await client.insert({ collection_name: name,
  data: vectors.map((v, i) => ({ id: i, vector: v })) }), 'insert');
must(await client.createIndex({ collection_name: name, field_name: 'vector',
  index_type: 'FLAT', metric_type: 'L2' }), 'index');
must(await client.loadCollectionSync({ collection_name: name }), 'load');

const queries = randomVectors(rand, 256, DIM);
const search = i => client.search({ collection_name: name, data: [queries[i % queries.length]],
  limit: 10, consistency_level: 'Eventually' });
for (let i = 0; i < 200; i++) must(await search(i), 'search');
const lat = [];
for (let i = 0; i < N; i++) {
  const t0 = process.hrtime.bigint();
  must(await search(i), 'search');
  lat.push(Number(process.hrtime.bigint() - t0) / 1000);
}
lat.sort((a, b) => a - b);
const mean = lat.reduce((a, b) => a + b, 0) / lat.length;
console.log(`load metric=cluster_search_p50_us value=${pct(lat, 50).toFixed(0)}`);
console.log(`load metric=cluster_search_p99_us value=${pct(lat, 99).toFixed(0)}`);
console.log(`load metric=cluster_search_mean_us value=${mean.toFixed(0)}`);
await client.dropCollection({ collection_name: name });
await client.closeConnection?.();
