// cairn-config.js — what a Cairn process would make of a deployment's
// configuration: the keys it knows (from `cairn help config`), cairn.yaml
// flattened the way core/config.c flattens it, environment overrides, and
// checks of keys, value types and the backends each role needs.
//
// Without a reference (no cairn binary built yet) only the structural rules
// are checked; deploy/validate.sh says so.
"use strict";
const YAML = require("yaml");

// Keys the cluster-role contract adds (node.advertiseAddress, session.ttl);
// accepted even when the binary the reference came from predates them.
const CONTRACT_KEYS = [
  { key: "node.advertiseAddress", type: "string", env: ["CAIRN_NODE_ADVERTISEADDRESS"] },
  { key: "session.ttl", type: "duration", env: ["CAIRN_SESSION_TTL"] },
];

// Without a reference: the keys the checks below rely on, with the names
// `cairn help config` gives their variables (CAIRN_ + key upper-cased,
// dots to underscores, plus the Milvus names).
const FALLBACK_ENV = {
  "meta.backend": ["CAIRN_META_BACKEND"],
  "mq.backend": ["CAIRN_MQ_BACKEND"],
  "objstore.backend": ["CAIRN_OBJSTORE_BACKEND"],
  "etcd.endpoints": ["CAIRN_ETCD_ENDPOINTS", "ETCD_ENDPOINTS"],
  "minio.address": ["CAIRN_MINIO_ADDRESS", "MINIO_ADDRESS"],
  "kafka.brokerList": ["CAIRN_KAFKA_BROKERLIST"],
  "coordinator.address": ["CAIRN_COORDINATOR_ADDRESS"],
  "node.advertiseAddress": ["CAIRN_NODE_ADVERTISEADDRESS"],
  "grpc.port": ["CAIRN_GRPC_PORT"],
  "http.port": ["CAIRN_HTTP_PORT"],
};

const ROLES = ["standalone", "coordinator", "proxy", "datanode", "indexnode", "querynode"];
const CLUSTER_NEEDS = { "meta.backend": "etcd", "mq.backend": "kafka", "objstore.backend": "s3" };

// The markdown table of `cairn help config`:
// | `key` | type | `default` | `ENV1, ENV2` | description |
function parseReference(text) {
  const keys = new Map();
  for (const line of text.split("\n")) {
    const m = /^\| `([^`]+)` \| (\w+) \| .*? \| `([^`]+)` \|/.exec(line);
    if (m) keys.set(m[1], { type: m[2], env: m[3].split(/,\s*/) });
  }
  if (keys.size < 10) throw new Error("cairn-config: `cairn help config` printed no key table");
  const pending = [];
  for (const c of CONTRACT_KEYS)
    if (!keys.has(c.key)) {
      keys.set(c.key, { type: c.type, env: c.env });
      pending.push(c.key);
    }
  const env = new Map();
  for (const [key, k] of keys) for (const e of k.env) env.set(e, key);
  return { keys, env, pending };
}

const TYPE_RULES = {
  int: (v) => /^-?[0-9]+$/.test(v),
  bool: (v) => /^(true|false|yes|no|on|off|1|0)$/i.test(v),
  size: (v) => /^[0-9]+(\.[0-9]+)?\s*(B|K|KB|KiB|M|MB|MiB|G|GB|GiB|T|TB|TiB)?$/i.test(v),
  duration: (v) => /^([0-9]+(\.[0-9]+)?(us|ms|s|m|h))+$|^[0-9]+(\.[0-9]+)?$/.test(v),
  string: () => true,
};

// cairn.yaml text -> Map key -> {value (string), where}; throws on what
// Cairn's loader rejects (more than one document, anchors/aliases, lists
// of mappings).
function flattenYaml(text, origin) {
  const docs = YAML.parseAllDocuments(text);
  if (docs.length !== 1) throw new Error(`${origin}: ${docs.length} YAML documents (Cairn reads exactly one)`);
  if (docs[0].errors.length) throw new Error(`${origin}: ${docs[0].errors[0].message}`);
  let anchored = false;
  YAML.visit(docs[0], {
    Alias: () => void (anchored = true),
    Node: (_, n) => void (n.anchor && (anchored = true)),
  });
  if (anchored) throw new Error(`${origin}: anchors and aliases are rejected by Cairn`);
  const out = new Map();
  const visit = (node, prefix) => {
    if (node === null || node === undefined) return; // `key:` / `~`: ignored
    if (Array.isArray(node)) {
      if (node.some((x) => x !== null && typeof x === "object"))
        throw new Error(`${origin}: ${prefix}: lists of mappings are rejected by Cairn`);
      out.set(prefix, { value: node.map(String).join(","), where: `${origin} ${prefix}` });
    } else if (typeof node === "object") {
      for (const [k, v] of Object.entries(node)) visit(v, prefix ? `${prefix}.${k}` : k);
    } else out.set(prefix, { value: String(node), where: `${origin} ${prefix}` });
  };
  visit(docs[0].toJS(), "");
  return out;
}

// The configuration a process would run with: file (and flags) in cfg,
// then the environment. Map key -> value; env values undefined (set from
// a Secret or at run time) are left out.
function effective(ref, cfg, env) {
  const eff = new Map([...cfg].map(([k, v]) => [k, v.value]));
  const keyOf = (name) => {
    if (ref) return ref.env.get(name);
    return Object.keys(FALLBACK_ENV).find((k) => FALLBACK_ENV[k].includes(name));
  };
  for (const { name, value } of env) {
    const key = keyOf(name);
    if (key && value !== undefined && !cfg.get(key)?.where?.includes(" flag --")) eff.set(key, value);
  }
  return eff;
}

// Checks a configuration and returns error strings. cfg: Map from
// flattenYaml (or empty); env: [{name, value|undefined}] (value undefined
// for valueFrom); role: the command the container runs.
function checkConfig(ref, cfg, env, role, origin) {
  const errors = [];
  if (!ROLES.includes(role)) errors.push(`${origin}: '${role}' is not a cairn command (${ROLES.join(", ")})`);
  const eff = effective(ref, cfg, env);
  for (const [key, { value, where }] of cfg) {
    if (!ref) continue;
    const k = ref.keys.get(key);
    if (!k) errors.push(`${where}: unknown config key '${key}'`);
    else if (!TYPE_RULES[k.type](value)) errors.push(`${where}: '${value}' is not a valid ${k.type}`);
  }
  for (const { name, value } of env) {
    const looksCairn = /^CAIRN_/.test(name) || (ref && ref.env.has(name));
    if (!looksCairn) continue;
    if (name === "CAIRN_CONFIG") continue;
    const key = ref ? ref.env.get(name) : null;
    if (ref && !key) {
      errors.push(`${origin}: env ${name} is no Cairn setting (Cairn would log and ignore it)`);
      continue;
    }
    if (key && value !== undefined) {
      if (!TYPE_RULES[ref.keys.get(key).type](value))
        errors.push(`${origin}: env ${name}='${value}' is not a valid ${ref.keys.get(key).type}`);
    }
  }
  if (role !== "standalone" && ROLES.includes(role))
    for (const [key, want] of Object.entries(CLUSTER_NEEDS))
      if (eff.get(key) !== want) errors.push(`${origin}: cairn ${role} needs ${key}=${want}, has ${eff.get(key) ?? "the default"}`);
  return errors;
}

const FLAG_ALIASES = { port: "grpc.port", "http-port": "http.port", "data-dir": "dataDir" };

// Cairn's view of a command line: [role, --config FILE, --key=value ...].
// flags: Map key -> {value, where}, to merge over a flattened file.
function parseArgs(args, origin) {
  const role = String(args[0]);
  let config = null;
  const flags = new Map();
  for (let i = 1; i < args.length; i++) {
    const a = String(args[i]);
    if (!a.startsWith("--")) continue;
    let [k, v] = a.includes("=") ? [a.slice(2, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a.slice(2), args[++i]];
    if (k === "config") config = v;
    else flags.set(FLAG_ALIASES[k] || k, { value: String(v), where: `${origin} flag --${k}` });
  }
  return { role, config, flags };
}

module.exports = { parseReference, flattenYaml, checkConfig, effective, parseArgs, ROLES };
