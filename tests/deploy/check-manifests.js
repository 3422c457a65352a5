#!/usr/bin/env node
// check-manifests.js — checks rendered Kubernetes manifests (one file = one
// `helm template` output = one release):
//
//   1. every document against its kubernetes-models schema, plus unknown
//      fields (lib/k8s-schema.js); ServiceMonitor (a CRD) against the shape
//      the Prometheus Operator documents;
//   2. names and labels as the API server would take them;
//   3. references inside the release: selectors match pod labels, Services
//      reach named container ports, probes name ports that exist, volumes
//      mounted are declared, ConfigMaps/Secrets/ServiceAccounts referred to
//      are rendered (or listed with --external), StatefulSets name a
//      headless Service, a ServiceMonitor selects Services with its port;
//   4. every Cairn container: its command is a cairn role, its cairn.yaml
//      (from the mounted ConfigMap) and CAIRN_* variables hold known keys
//      with well-typed values (--cairn-ref: `cairn help config` output), the
//      cluster roles get etcd + kafka + s3 and an advertised address, ports
//      19530/9091 and probes on /healthz.
//
// usage: check-manifests.js [--cairn-ref FILE] [--external Kind/name,...]
//                           [--expect] FILE...
// --expect: self-test; each FILE carries `# expect: TEXT` lines (and
// `# expect-with-ref: TEXT`, checked only with --cairn-ref) and must produce,
// for each, an error containing TEXT; errors are then what is wanted.
// Exit status 0 when every file passes, 1 otherwise.
"use strict";
const fs = require("fs");
const YAML = require("yaml");
const { checkObject } = require("./lib/k8s-schema");
const cairn = require("./lib/cairn-config");

const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/; // Service names (RFC 1035)
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DURATION = /^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$/;

function parseCli(argv) {
  const o = { ref: null, external: new Set(), expect: false, files: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--cairn-ref") o.ref = cairn.parseReference(fs.readFileSync(argv[++i], "utf8"));
    else if (argv[i] === "--external") argv[++i].split(",").filter(Boolean).forEach((x) => o.external.add(x));
    else if (argv[i] === "--expect") o.expect = true;
    else o.files.push(argv[i]);
  }
  return o;
}

const matches = (selector, labels) =>
  !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels && labels[k] === v);

function podSpecOf(obj) {
  if (obj.kind === "Pod") return { spec: obj.spec, labels: obj.metadata.labels || {} };
  if (["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"].includes(obj.kind) && obj.spec && obj.spec.template)
    return { spec: obj.spec.template.spec || {}, labels: (obj.spec.template.metadata || {}).labels || {} };
  return null;
}

// ServiceMonitor (monitoring.coreos.com/v1): the fields this chart may set.
function checkServiceMonitor(o, err) {
  const s = o.spec || {};
  const known = ["endpoints", "selector", "namespaceSelector", "jobLabel", "targetLabels", "podTargetLabels", "sampleLimit"];
  for (const k of Object.keys(s)) if (!known.includes(k)) err(`spec: unknown field "${k}"`);
  if (!s.selector || typeof s.selector !== "object") err("spec.selector is required");
  else for (const k of Object.keys(s.selector)) if (!["matchLabels", "matchExpressions"].includes(k)) err(`spec.selector: unknown field "${k}"`);
  if (s.namespaceSelector) {
    for (const k of Object.keys(s.namespaceSelector)) if (!["any", "matchNames"].includes(k)) err(`spec.namespaceSelector: unknown field "${k}"`);
    if (s.namespaceSelector.matchNames && !Array.isArray(s.namespaceSelector.matchNames)) err("spec.namespaceSelector.matchNames must be a list");
  }
  if (!Array.isArray(s.endpoints) || s.endpoints.length === 0) return err("spec.endpoints must be a non-empty list");
  const epKnown = ["port", "targetPort", "path", "scheme", "interval", "scrapeTimeout", "honorLabels", "relabelings", "metricRelabelings", "params", "tlsConfig", "bearerTokenSecret", "followRedirects"];
  s.endpoints.forEach((ep, i) => {
    for (const k of Object.keys(ep)) if (!epKnown.includes(k)) err(`spec.endpoints[${i}]: unknown field "${k}"`);
    if (typeof ep.port !== "string" && ep.targetPort === undefined) err(`spec.endpoints[${i}]: port (a Service port name) is required`);
    if (ep.path !== undefined && !/^\//.test(ep.path)) err(`spec.endpoints[${i}].path must start with /`);
    for (const d of ["interval", "scrapeTimeout"])
      if (ep[d] !== undefined && !DURATION.test(String(ep[d]))) err(`spec.endpoints[${i}].${d}: '${ep[d]}' is not a Prometheus duration`);
    if (ep.scheme !== undefined && !["http", "https"].includes(ep.scheme)) err(`spec.endpoints[${i}].scheme must be http or https`);
  });
}

function checkNamesAndLabels(o, err) {
  const name = o.metadata && o.metadata.name;
  if (!name) return err("metadata.name is required");
  if (o.kind === "Service" ? !DNS_LABEL.test(name) || name.length > 63 : !DNS_SUBDOMAIN.test(name) || name.length > 253)
    err(`name '${name}' is not a valid ${o.kind} name`);
  if (o.kind === "StatefulSet" && name.length > 52) err(`StatefulSet name '${name}' is over 52 characters (its revision label would not fit)`);
  const labelSets = [["metadata.labels", o.metadata.labels]];
  const ps = podSpecOf(o);
  if (ps && o.kind !== "Pod") labelSets.push(["pod labels", ps.labels]);
  for (const [where, labels] of labelSets)
    for (const [k, v] of Object.entries(labels || {})) {
      if (!LABEL_KEY.test(k) || k.split("/").pop().length > 63) err(`${where}: bad label key '${k}'`);
      if (typeof v !== "string" || v.length > 63 || !LABEL_VALUE.test(v)) err(`${where}: bad value '${v}' for label ${k}`);
    }
}

// Reference checks of one pod spec against the release's objects.
function checkPod(o, ps, ctx, err) {
  const spec = ps.spec;
  const claimNames = o.kind === "StatefulSet" ? (o.spec.volumeClaimTemplates || []).map((c) => c.metadata.name) : [];
  const volumes = new Map((spec.volumes || []).map((v) => [v.name, v]));
  if (volumes.size !== (spec.volumes || []).length) err("duplicate volume names");
  const need = (kind, name, what) => {
    if (!ctx.byKindName.has(`${kind}/${name}`) && !ctx.external.has(`${kind}/${name}`))
      err(`${what} refers to ${kind} '${name}', which the release does not render (--external to allow)`);
  };
  if (spec.serviceAccountName && spec.serviceAccountName !== "default") need("ServiceAccount", spec.serviceAccountName, "serviceAccountName");
  for (const s of spec.imagePullSecrets || []) need("Secret", s.name, "imagePullSecrets");
  for (const v of volumes.values()) {
    if (v.configMap) need("ConfigMap", v.configMap.name, `volume ${v.name}`);
    if (v.secret) need("Secret", v.secret.secretName, `volume ${v.name}`);
    if (v.persistentVolumeClaim) need("PersistentVolumeClaim", v.persistentVolumeClaim.claimName, `volume ${v.name}`);
  }
  const containers = [...(spec.initContainers || []), ...(spec.containers || [])];
  const cnames = new Set();
  for (const c of containers) {
    const where = `container ${c.name}`;
    if (cnames.has(c.name)) err(`${where}: duplicate container name`);
    cnames.add(c.name);
    const ports = new Map();
    for (const p of c.ports || []) {
      if (p.name && p.name.length > 15) err(`${where}: port name '${p.name}' is over 15 characters`);
      if (p.name && ports.has(p.name)) err(`${where}: duplicate port name ${p.name}`);
      if (p.name) ports.set(p.name, p.containerPort);
    }
    const portNums = new Set((c.ports || []).map((p) => p.containerPort));
    for (const probe of ["startupProbe", "livenessProbe", "readinessProbe"]) {
      const pr = c[probe];
      if (!pr) continue;
      const port = (pr.httpGet || pr.tcpSocket || pr.grpc || {}).port;
      if (typeof port === "string" && !ports.has(port)) err(`${where}: ${probe} uses port '${port}', which the container does not name`);
      if (typeof port === "number" && !portNums.has(port)) err(`${where}: ${probe} uses port ${port}, which the container does not expose`);
    }
    for (const m of c.volumeMounts || [])
      if (!volumes.has(m.name) && !claimNames.includes(m.name)) err(`${where}: mounts volume '${m.name}', which is not declared`);
    const envNames = new Set();
    for (const e of c.env || []) {
      if (envNames.has(e.name)) err(`${where}: env ${e.name} is set twice`);
      envNames.add(e.name);
      const vf = e.valueFrom || {};
      for (const [kind, ref] of [["Secret", vf.secretKeyRef], ["ConfigMap", vf.configMapKeyRef]]) {
        if (!ref) continue;
        need(kind, ref.name, `${where} env ${e.name}`);
        const obj = ctx.byKindName.get(`${kind}/${ref.name}`);
        if (obj && !ref.optional) {
          const keys = Object.keys({ ...(obj.data || {}), ...(obj.stringData || {}) });
          if (!keys.includes(ref.key)) err(`${where} env ${e.name}: ${kind} ${ref.name} has no key '${ref.key}'`);
        }
      }
    }
  }
  for (const c of spec.containers || []) checkCairnContainer(c, volumes, ctx, err);
}

function isCairn(c) {
  return c.name === "cairn" || /(^|\/)cairn(:|@|$)/.test(String(c.image));
}

function checkCairnContainer(c, volumes, ctx, err) {
  if (!isCairn(c)) return;
  // The image's entrypoint is cairn; a command other than cairn (the helm
  // test pod's curl) is no Cairn process.
  if (c.command && c.command.length && !/(^|\/)cairn$/.test(c.command[0])) return;
  const args = [...(c.command || []).slice(1), ...(c.args || [])];
  const where = `container ${c.name}`;
  const { role, config, flags } = cairn.parseArgs(args, where);
  let cfg = new Map();
  if (!config) err(`${where}: no --config FILE`);
  else {
    const dir = config.slice(0, config.lastIndexOf("/")) || "/";
    const file = config.slice(config.lastIndexOf("/") + 1);
    const mount = (c.volumeMounts || []).find((m) => m.mountPath === config || (m.mountPath === dir && !m.subPath));
    const vol = mount && volumes.get(mount.name);
    const cm = vol && vol.configMap && ctx.byKindName.get(`ConfigMap/${vol.configMap.name}`);
    const key = mount && mount.subPath ? mount.subPath : file;
    if (!cm) err(`${where}: ${config} is not mounted from a ConfigMap of the release`);
    else if (!cm.data || typeof cm.data[key] !== "string") err(`${where}: ConfigMap ${cm.metadata.name} has no key ${key} for ${config}`);
    else {
      try {
        cfg = cairn.flattenYaml(cm.data[key], `ConfigMap ${cm.metadata.name} ${key}:`);
      } catch (e) {
        err(e.message);
      }
    }
  }
  for (const [k, v] of flags) cfg.set(k, v);
  const env = (c.env || []).map((e) => ({ name: e.name, value: e.valueFrom ? undefined : String(e.value ?? "") }));
  for (const m of cairn.checkConfig(ctx.ref, cfg, env, role, where)) err(m);
  const portOf = (name) => ((c.ports || []).find((p) => p.name === name) || {}).containerPort;
  const want = { grpc: Number((cfg.get("grpc.port") || { value: 19530 }).value), http: Number((cfg.get("http.port") || { value: 9091 }).value) };
  for (const [name, port] of Object.entries(want))
    if (portOf(name) !== port) err(`${where}: container port '${name}' is ${portOf(name)}, cairn listens on ${port}`);
  for (const probe of ["livenessProbe", "readinessProbe"]) {
    const g = c[probe] && c[probe].httpGet;
    if (!g || g.path !== "/healthz" || (g.port !== "http" && g.port !== want.http)) err(`${where}: ${probe} must be GET /healthz on the http port`);
  }
  if (role !== "standalone" && cairn.ROLES.includes(role) && !env.some((e) => e.name === "CAIRN_NODE_ADVERTISEADDRESS") && !cfg.has("node.advertiseAddress"))
    err(`${where}: cluster role ${role} sets no node.advertiseAddress (a pod's hostname does not resolve; use $(POD_IP):19530)`);
}

function checkRelease(file, docs, ctx) {
  const errors = [];
  const pods = []; // {obj, labels}
  for (const o of docs) {
    const id = `${o.kind}/${(o.metadata || {}).name}`;
    const err = (m) => errors.push(`${id}: ${m}`);
    checkNamesAndLabels(o, err);
    if (o.apiVersion === "monitoring.coreos.com/v1" && o.kind === "ServiceMonitor") checkServiceMonitor(o, err);
    else for (const m of checkObject(o)) err(m);
    const ps = podSpecOf(o);
    if (ps) {
      pods.push({ obj: o, labels: ps.labels, spec: ps.spec });
      if (o.kind !== "Pod" && !matches((o.spec.selector || {}).matchLabels, ps.labels))
        err("spec.selector.matchLabels does not match the pod template's labels");
      checkPod(o, ps, ctx, err);
    }
  }
  for (const o of docs) {
    const id = `${o.kind}/${o.metadata.name}`;
    const err = (m) => errors.push(`${id}: ${m}`);
    if (o.kind === "Service" && o.spec.selector) {
      const sel = pods.filter((p) => p.obj.kind !== "Pod" && matches(o.spec.selector, p.labels));
      if (!sel.length) err("selects no pods of the release");
      for (const p of o.spec.ports || [])
        if (typeof p.targetPort === "string" && !sel.some((s) => (s.spec.containers || []).some((c) => (c.ports || []).some((cp) => cp.name === p.targetPort))))
          err(`port ${p.name}: targetPort '${p.targetPort}' is no container port of the selected pods`);
    }
    if (o.kind === "StatefulSet") {
      const svc = ctx.byKindName.get(`Service/${o.spec.serviceName}`);
      if (!svc) err(`serviceName '${o.spec.serviceName}' is not a Service of the release`);
      else if (svc.spec.clusterIP !== "None") err(`serviceName '${o.spec.serviceName}' is not headless`);
      else if (!matches(svc.spec.selector, o.spec.template.metadata.labels)) err(`Service ${o.spec.serviceName} does not select its pods`);
    }
    if (o.kind === "PodDisruptionBudget" && !pods.some((p) => matches(o.spec.selector.matchLabels, p.labels)))
      err("selects no pods of the release");
    if (o.kind === "ServiceMonitor") {
      const svcs = docs.filter((s) => s.kind === "Service" && matches(o.spec.selector.matchLabels, s.metadata.labels));
      if (!svcs.length) err("selects no Service of the release");
      for (const ep of o.spec.endpoints || [])
        for (const s of svcs) if (!s.spec.ports.some((p) => p.name === ep.port)) err(`Service ${s.metadata.name} has no port '${ep.port}'`);
    }
  }
  return errors;
}

function loadDocs(file) {
  const text = fs.readFileSync(file, "utf8");
  const docs = [];
  for (const d of YAML.parseAllDocuments(text)) {
    if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
    const o = d.toJS();
    if (o !== null && o !== undefined) docs.push(o);
  }
  return { docs, text };
}

function main() {
  const o = parseCli(process.argv.slice(2));
  if (!o.files.length) {
    console.error("usage: check-manifests.js [--cairn-ref FILE] [--external Kind/name,...] [--expect] FILE...");
    process.exit(2);
  }
  let failed = false;
  for (const file of o.files) {
    let errors;
    let docs = [];
    let text = "";
    try {
      ({ docs, text } = loadDocs(file));
      const byKindName = new Map(docs.map((d) => [`${d.kind}/${(d.metadata || {}).name}`, d]));
      const seen = new Set();
      errors = [];
      for (const d of docs) {
        const k = `${d.kind}/${(d.metadata || {}).namespace || ""}/${(d.metadata || {}).name}`;
        if (seen.has(k)) errors.push(`${k}: rendered twice`);
        seen.add(k);
      }
      errors.push(...checkRelease(file, docs, { byKindName, external: o.external, ref: o.ref }));
    } catch (e) {
      errors = [String(e.message || e)];
    }
    if (o.expect) {
      const tag = o.ref ? "expect(?:-with-ref)?" : "expect";
      const wanted = [...text.matchAll(new RegExp(`^# ${tag}: (.+)$`, "gm"))].map((m) => m[1].trim());
      const missing = wanted.filter((w) => !errors.some((e) => e.includes(w)));
      if (!wanted.length || missing.length) {
        failed = true;
        console.log(`FAIL ${file}: the checker missed: ${missing.join(" | ") || "(no # expect lines)"}`);
        errors.forEach((e) => console.log(`  got: ${e}`));
      } else console.log(`ok   ${file}: all ${wanted.length} planted faults caught`);
      continue;
    }
    const kinds = {};
    docs.forEach((d) => (kinds[d.kind] = (kinds[d.kind] || 0) + 1));
    const summary = Object.entries(kinds).map(([k, n]) => `${n} ${k}`).join(", ");
    if (errors.length) {
      failed = true;
      console.log(`FAIL ${file} (${summary})`);
      errors.forEach((e) => console.log(`  ${e}`));
    } else console.log(`ok   ${file}: ${docs.length} objects (${summary})`);
  }
  if (o.ref && o.ref.pending.length)
    console.log(`note: keys of the cluster-role contract not in this cairn binary yet, accepted: ${o.ref.pending.join(", ")}`);
  process.exit(failed ? 1 : 0);
}

main();
