#!/usr/bin/env node
// check-compose.js — checks Compose files beyond what `docker-compose config`
// validates (the file format): it reads the resolved configuration that
// `docker-compose -f FILE config` prints and checks
//
//   - every long-running service has a restart policy and a health check;
//     one-shot services (what others wait on with
//     service_completed_successfully) have restart "no";
//   - depends_on: targets exist, service_healthy targets have a health
//     check; published host ports are unique;
//   - every Cairn service (built from deploy/Dockerfile or an image named
//     cairn): its command is a cairn role, its configuration (the image's
//     cairn.yaml, deploy/cairn.example.yaml, plus environment) holds known
//     keys with well-typed values (--cairn-ref), cluster roles get etcd +
//     kafka + s3, an advertised address (when set; unset it is the
//     container's hostname) names the service itself, the health check is
//     /healthz on 9091, and every host in its endpoints (etcd, MinIO,
//     Kafka, coordinator) is a service of the file that it depends on;
//   - --roles role:N,...: the file runs at least N services of each role.
//
// usage: check-compose.js --image-config FILE [--cairn-ref FILE]
//                         [--roles role:N,...] [--expect] COMPOSE-FILE...
// --expect: self-test as in check-manifests.js (`# expect: TEXT` lines).
// COMPOSE (env) names the docker-compose command (default docker-compose).
"use strict";
const fs = require("fs");
const path = require("path");
const { execFileSync } = require("child_process");
const YAML = require("yaml");
const cairn = require("./lib/cairn-config");

// Settings whose values name other services: key -> how to get hosts.
const ENDPOINT_KEYS = {
  "etcd.endpoints": "list",
  "minio.address": "one",
  "kafka.brokerList": "list",
  "coordinator.address": "one",
};

function parseCli(argv) {
  const o = { ref: null, imageConfig: null, roles: null, expect: false, files: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--cairn-ref") o.ref = cairn.parseReference(fs.readFileSync(argv[++i], "utf8"));
    else if (a === "--image-config") o.imageConfig = argv[++i];
    else if (a === "--roles") o.roles = Object.fromEntries(argv[++i].split(",").map((x) => [x.split(":")[0], Number(x.split(":")[1] || 1)]));
    else if (a === "--expect") o.expect = true;
    else o.files.push(a);
  }
  if (!o.imageConfig || !o.files.length) {
    console.error("usage: check-compose.js --image-config FILE [--cairn-ref FILE] [--roles role:N,...] [--expect] FILE...");
    process.exit(2);
  }
  return o;
}

const hostsOf = (value, how) =>
  (how === "list" ? value.split("?")[0].split(",") : [value])
    .map((s) => s.trim().replace(/^[a-z]+:\/\//, "").replace(/\/.*$/, "").split(":")[0])
    .filter(Boolean);

function isCairn(svc) {
  return (svc.build && /deploy\/Dockerfile$/.test(svc.build.dockerfile || "")) || /(^|\/)cairn(:|@|$)/.test(svc.image || "");
}

// The cairn command line of a service: the image's entrypoint (cairn) and
// its command, or null when the service runs something else.
function argsOf(svc) {
  const ep = (svc.entrypoint || []).map(String);
  if (ep.length && !/(^|\/)cairn$/.test(ep[0])) return null;
  return [...ep.slice(1), ...(svc.command || []).map(String)];
}

function checkCairnService(name, svc, services, ctx, err) {
  const args = argsOf(svc);
  if (!args) return err("runs something other than cairn");
  const { role, config, flags } = cairn.parseArgs(args, "command");
  let cfg = new Map();
  if (config !== "/etc/cairn/cairn.yaml") err(`--config ${config}: the image's file is /etc/cairn/cairn.yaml`);
  else {
    const bind = (svc.volumes || []).find((v) => v.target === config && v.type === "bind");
    const file = bind ? bind.source : ctx.imageConfig;
    try {
      cfg = cairn.flattenYaml(fs.readFileSync(file, "utf8"), path.relative(process.cwd(), file));
    } catch (e) {
      err(e.message);
    }
  }
  for (const [k, v] of flags) cfg.set(k, v);
  const env = Object.entries(svc.environment || {}).map(([n, v]) => ({ name: n, value: v === null ? "" : String(v) }));
  for (const m of cairn.checkConfig(ctx.ref, cfg, env, role, "config + environment")) err(m);
  const eff = cairn.effective(ctx.ref, cfg, env);
  const deps = Object.keys(svc.depends_on || {});
  for (const [key, how] of Object.entries(ENDPOINT_KEYS)) {
    const used =
      (key.startsWith("etcd.") && eff.get("meta.backend") === "etcd") ||
      (key.startsWith("minio.") && eff.get("objstore.backend") === "s3") ||
      (key.startsWith("kafka.") && eff.get("mq.backend") === "kafka") ||
      (key === "coordinator.address" && eff.has(key) && eff.get(key) !== "");
    if (!used) continue;
    if (!eff.get(key)) {
      err(`${key} is not set`);
      continue;
    }
    for (const h of hostsOf(eff.get(key), how)) {
      if (!services[h]) err(`${key}: host '${h}' is no service of this file`);
      else if (!deps.includes(h)) err(`${key}: does not depend_on '${h}'`);
    }
  }
  // Unset, it is the container's hostname (resolvable on the compose
  // network); set, it must name this service.
  const adv = eff.get("node.advertiseAddress");
  if (adv && hostsOf(adv, "one")[0] !== name) err(`node.advertiseAddress '${adv}' is not this service's own name`);
  const hc = svc.healthcheck || {};
  if (!(hc.test || []).join(" ").includes("http://127.0.0.1:9091/healthz")) err("health check is not curl http://127.0.0.1:9091/healthz");
  return role;
}

function checkFile(file, ctx) {
  const errors = [];
  const out = execFileSync(process.env.COMPOSE || "docker-compose", ["-f", file, "config"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const cfg = YAML.parse(out);
  const services = cfg.services || {};
  const oneShot = new Set();
  for (const svc of Object.values(services))
    for (const [dep, d] of Object.entries(svc.depends_on || {})) if (d && d.condition === "service_completed_successfully") oneShot.add(dep);
  const ports = new Map();
  const roles = {};
  for (const [name, svc] of Object.entries(services)) {
    const err = (m) => errors.push(`${name}: ${m}`);
    for (const [dep, d] of Object.entries(svc.depends_on || {})) {
      if (!services[dep]) err(`depends_on '${dep}', which is no service`);
      else if (d.condition === "service_healthy" && !(services[dep].healthcheck && services[dep].healthcheck.test))
        err(`waits for '${dep}' to be healthy, but '${dep}' has no health check`);
    }
    if (oneShot.has(name)) {
      if (svc.restart && svc.restart !== "no") err(`one-shot service with restart '${svc.restart}' (want "no")`);
    } else {
      if (!["always", "unless-stopped", "on-failure"].some((r) => String(svc.restart || "").startsWith(r))) err("no restart policy");
      if (!svc.healthcheck || !svc.healthcheck.test || svc.healthcheck.disable) err("no health check");
    }
    for (const p of svc.ports || []) {
      const key = `${p.host_ip || ""}:${p.published}/${p.protocol || "tcp"}`;
      if (p.published && ports.has(key)) err(`host port ${p.published} is published by '${ports.get(key)}' too`);
      ports.set(key, name);
    }
    if (isCairn(svc)) {
      const role = checkCairnService(name, svc, services, ctx, err);
      if (role) roles[role] = (roles[role] || 0) + 1;
    }
  }
  for (const [role, n] of Object.entries(ctx.roles || {}))
    if ((roles[role] || 0) < n) errors.push(`${file}: runs ${roles[role] || 0} ${role} service(s), wants at least ${n}`);
  return { errors, summary: Object.entries(roles).map(([r, n]) => `${n} ${r}`).join(", "), count: Object.keys(services).length };
}

function main() {
  const o = parseCli(process.argv.slice(2));
  let failed = false;
  for (const file of o.files) {
    let res;
    try {
      res = checkFile(file, o);
    } catch (e) {
      res = { errors: [String(e.stderr || e.message || e).trim()], summary: "", count: 0 };
    }
    if (o.expect) {
      const text = fs.readFileSync(file, "utf8");
      const tag = o.ref ? "expect(?:-with-ref)?" : "expect";
      const wanted = [...text.matchAll(new RegExp(`^# ${tag}: (.+)$`, "gm"))].map((m) => m[1].trim());
      const missing = wanted.filter((w) => !res.errors.some((e) => e.includes(w)));
      if (!wanted.length || missing.length) {
        failed = true;
        console.log(`FAIL ${file}: the checker missed: ${missing.join(" | ") || "(no # expect lines)"}`);
        res.errors.forEach((e) => console.log(`  got: ${e}`));
      } else console.log(`ok   ${file}: all ${wanted.length} planted faults caught`);
    } else if (res.errors.length) {
      failed = true;
      console.log(`FAIL ${file}`);
      res.errors.forEach((e) => console.log(`  ${e}`));
    } else console.log(`ok   ${file}: ${res.count} services, cairn roles: ${res.summary}`);
  }
  process.exit(failed ? 1 : 0);
}

main();
