// proto-conformance.test.mjs: checks Cairn's proto/*.proto against the
// official Milvus definitions shipped with @zilliz/milvus2-sdk-node.
//
// The SDK has no .proto text; it ships protobufjs JSON descriptors
// (dist/milvus/proto-json/milvus.js holds every message, enum and service).
// We parse our own files with protobufjs (keepCase, so field names stay as
// written) and compare, for every message, field, enum and method under the
// milvus.proto.* packages of OUR files:
//   - the message/enum/service exists officially under the same full name;
//   - each field exists with the same name, number, label (repeated, map and
//     its key type), scalar type or referenced type's full name, and oneof;
//   - each message has every official field, each enum every official value;
//   - each method of our MilvusService exists officially with the same
//     request and reply types (and no streaming);
//   - our MilvusService holds at least the methods in REQUIRED_METHODS.
// A failure lists every mismatch, one per line. Run:
//   cd tests/sdk && npm install && node --test proto-conformance.test.mjs
// CAIRN_PROTO_DIR=/some/dir points it at another copy of proto/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import path from 'node:path';

const require = createRequire(import.meta.url);
const protobuf = require('protobufjs');

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PROTO_DIR = process.env.CAIRN_PROTO_DIR || path.resolve(HERE, '..', '..', 'proto');
const SERVICE = 'milvus.proto.milvus.MilvusService';

// Methods Cairn serves now or in the next milestones (docs/proto.md).
const REQUIRED_METHODS = `
  Connect GetVersion CheckHealth AllocTimestamp
  CreateDatabase DropDatabase ListDatabases AlterDatabase DescribeDatabase
  CreateCollection DropCollection HasCollection LoadCollection ReleaseCollection
  DescribeCollection GetCollectionStatistics ShowCollections AlterCollection
  RenameCollection CreatePartition DropPartition HasPartition LoadPartitions
  ReleasePartitions GetPartitionStatistics ShowPartitions GetLoadingProgress
  GetLoadState CreateAlias DropAlias AlterAlias DescribeAlias ListAliases
  CreateIndex DescribeIndex GetIndexState GetIndexBuildProgress DropIndex
  GetIndexStatistics Insert Delete Upsert Search HybridSearch Flush Query
  GetFlushState GetPersistentSegmentInfo GetQuerySegmentInfo
  GetComponentStates GetMetrics ManualCompaction GetCompactionState
`.trim().split(/\s+/);

// Official fields deliberately left out of a message we do include, as
// "Message.field" full names (without the leading dot). Keep it empty unless
// a field needs a message we refuse to carry; docs/proto.md says why.
const OMITTED_FIELDS = new Set([]);

/** The official descriptors, resolved. */
function loadOfficial() {
  const json = require('@zilliz/milvus2-sdk-node/dist/milvus/proto-json/milvus').default;
  const root = protobuf.Root.fromJSON(json);
  root.resolveAll();
  return root;
}

/**
 * Parses .proto files into a resolved protobufjs Root. Imports resolve in
 * PROTO_DIR; protobuf-c's own option file is skipped (options are not part of
 * the wire and protobufjs keeps unresolved custom options as plain data).
 */
function loadOurs(files) {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    if (target.startsWith('protobuf-c/')) return null;
    return path.isAbsolute(target) ? target : path.join(PROTO_DIR, target);
  };
  root.loadSync(files, { keepCase: true });
  root.resolveAll();
  return root;
}

/** Every Type, Enum and Service under ns, depth first. */
function* walk(ns) {
  for (const obj of ns.nestedArray) {
    if (obj instanceof protobuf.Type || obj instanceof protobuf.Enum ||
        obj instanceof protobuf.Service) yield obj;
    if (obj instanceof protobuf.Namespace) yield* walk(obj);
  }
}

const strip = (name) => name.replace(/^\./, '');
const kindOf = (obj) => obj instanceof protobuf.Type ? 'message'
  : obj instanceof protobuf.Enum ? 'enum' : obj instanceof protobuf.Service ? 'service' : 'namespace';

/** "repeated milvus.proto.common.KeyValuePair", "map<string, int64>", "bool". */
function describeField(f) {
  const type = f.resolvedType ? strip(f.resolvedType.fullName) : f.type;
  if (f.map) return `map<${f.keyType}, ${type}>`;
  return (f.repeated ? 'repeated ' : '') + type;
}

/** Oneof name a field belongs to, or '' (proto3 optional's synthetic oneof counts). */
const oneofOf = (f) => (f.partOf ? f.partOf.name : '');

function compareMessage(ours, off, out) {
  const where = strip(ours.fullName);
  for (const f of ours.fieldsArray) {
    const o = off.fields[f.name];
    if (!o) {
      const byId = off.fieldsArray.find((x) => x.id === f.id);
      out.push(`${where}.${f.name}: no such official field` +
        (byId ? ` (official number ${f.id} is "${byId.name}")` : ''));
      continue;
    }
    if (o.id !== f.id) out.push(`${where}.${f.name}: number ${f.id}, official ${o.id}`);
    const a = describeField(f); const b = describeField(o);
    if (a !== b) out.push(`${where}.${f.name}: type "${a}", official "${b}"`);
    if (oneofOf(f) !== oneofOf(o)) {
      out.push(`${where}.${f.name}: oneof "${oneofOf(f)}", official "${oneofOf(o)}"`);
    }
  }
  for (const o of off.fieldsArray) {
    if (!ours.fields[o.name] && !OMITTED_FIELDS.has(`${where}.${o.name}`)) {
      out.push(`${where}: official field ${o.name} = ${o.id} (${describeField(o)}) is missing`);
    }
  }
}

function compareEnum(ours, off, out) {
  const where = strip(ours.fullName);
  for (const [name, num] of Object.entries(ours.values)) {
    if (!(name in off.values)) out.push(`${where}.${name}: no such official enum value`);
    else if (off.values[name] !== num) out.push(`${where}.${name}: value ${num}, official ${off.values[name]}`);
  }
  for (const [name, num] of Object.entries(off.values)) {
    if (!(name in ours.values)) out.push(`${where}: official value ${name} = ${num} is missing`);
  }
}

function compareService(ours, off, out) {
  const where = strip(ours.fullName);
  for (const m of ours.methodsArray) {
    const o = off.methods[m.name];
    if (!o) { out.push(`${where}.${m.name}: no such official method`); continue; }
    m.resolve(); o.resolve();
    const pairs = [['request', m.resolvedRequestType, o.resolvedRequestType],
      ['reply', m.resolvedResponseType, o.resolvedResponseType]];
    for (const [what, a, b] of pairs) {
      if (strip(a.fullName) !== strip(b.fullName)) {
        out.push(`${where}.${m.name}: ${what} ${strip(a.fullName)}, official ${strip(b.fullName)}`);
      }
    }
    if (!!m.requestStream !== !!o.requestStream || !!m.responseStream !== !!o.responseStream) {
      out.push(`${where}.${m.name}: streaming differs from the official method`);
    }
  }
}

/**
 * Compares every message, enum and service of ours under milvus.proto with
 * the official root. Returns the list of mismatches (empty when conformant).
 */
export function compareRoots(ours, official) {
  const out = [];
  const top = ours.lookup('milvus.proto');
  if (!top) return ['no package under milvus.proto in our files'];
  for (const obj of walk(top)) {
    const name = strip(obj.fullName);
    const off = official.lookup(obj.fullName);
    if (!off) { out.push(`${name}: no official ${kindOf(obj)} of that name`); continue; }
    if (kindOf(off) !== kindOf(obj)) {
      out.push(`${name}: ours is a ${kindOf(obj)}, official is a ${kindOf(off)}`);
      continue;
    }
    if (obj instanceof protobuf.Type) compareMessage(obj, off, out);
    else if (obj instanceof protobuf.Enum) compareEnum(obj, off, out);
    else compareService(obj, off, out);
  }
  return out;
}

const report = (list) => `${list.length} mismatch(es) with the official definitions:\n  ` +
  list.join('\n  ');

// The public-API files (package milvus.proto.*) plus cairn_internal.proto,
// which builds on them; other proto/ files (storage records) are not checked.
const ourFiles = fs.readdirSync(PROTO_DIR).filter((f) => f.endsWith('.proto'))
  .map((f) => path.join(PROTO_DIR, f))
  .filter((f) => path.basename(f) === 'cairn_internal.proto' ||
    /^\s*package\s+milvus\.proto\./m.test(fs.readFileSync(f, 'utf8')));
const official = loadOfficial();

test('our proto files parse and every type resolves', () => {
  assert.ok(ourFiles.length >= 3, `expected .proto files in ${PROTO_DIR}`);
  loadOurs(ourFiles);
});

test('every message, field, enum value and method matches the official descriptors', (t) => {
  const ours = loadOurs(ourFiles);
  const counts = { message: 0, enum: 0, service: 0 };
  for (const obj of walk(ours.lookup('milvus.proto'))) counts[kindOf(obj)] += 1;
  t.diagnostic(`compared ${counts.message} messages, ${counts.enum} enums, ${counts.service} services`);
  const mismatches = compareRoots(ours, official);
  assert.deepEqual(mismatches, [], report(mismatches));
});

test('MilvusService holds every method Cairn serves', () => {
  const svc = loadOurs(ourFiles).lookupService(SERVICE);
  const missing = REQUIRED_METHODS.filter((m) => !svc.methods[m]);
  assert.deepEqual(missing, [], `methods missing from our ${SERVICE}: ${missing.join(', ')}`);
});

test('the checker reports wrong numbers, types, names, oneofs and enum values', () => {
  // A deliberately broken copy of a few official definitions, so that a
  // checker that silently accepts everything fails here.
  const bad = new protobuf.Root();
  protobuf.parse(`syntax = "proto3";
    package milvus.proto.common;
    enum ConsistencyLevel { Strong = 0; Session = 2; Nearly = 9; }
    message KeyValuePair { string key = 2; bytes value = 3; string extra = 7; }
    message Status { int32 code = 3; }`, bad, { keepCase: true });
  protobuf.parse(`syntax = "proto3";
    package milvus.proto.milvus;
    service MilvusService { rpc Connect(BoolResponse) returns (BoolResponse); rpc Fly(BoolResponse) returns (BoolResponse); }
    message BoolResponse { milvus.proto.common.KeyValuePair status = 1; oneof x { bool value = 2; } }`,
  bad, { keepCase: true });
  bad.resolveAll();
  const got = compareRoots(bad, official).join('\n');
  for (const expected of [
    'milvus.proto.common.ConsistencyLevel.Session: value 2, official 1',
    'milvus.proto.common.ConsistencyLevel.Nearly: no such official enum value',
    'milvus.proto.common.ConsistencyLevel: official value Bounded = 2 is missing',
    'milvus.proto.common.KeyValuePair.key: number 2, official 1',
    'milvus.proto.common.KeyValuePair.value: type "bytes", official "string"',
    'milvus.proto.common.KeyValuePair.extra: no such official field',
    'milvus.proto.common.Status: official field reason = 2 (string) is missing',
    'milvus.proto.milvus.BoolResponse.status: type "milvus.proto.common.KeyValuePair", official "milvus.proto.common.Status"',
    'milvus.proto.milvus.BoolResponse.value: oneof "x", official ""',
    'milvus.proto.milvus.MilvusService.Connect: request milvus.proto.milvus.BoolResponse, official milvus.proto.milvus.ConnectRequest',
    'milvus.proto.milvus.MilvusService.Fly: no such official method',
  ]) {
    assert.ok(got.includes(expected), `checker missed: ${expected}\nit reported:\n${got}`);
  }
});
