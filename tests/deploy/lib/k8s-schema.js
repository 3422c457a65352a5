// k8s-schema.js — schema checks of one Kubernetes object with
// kubernetes-models: the model class's validate() (types, enums, required
// fields), then a strict pass for unknown fields.
//
// Why the second pass: kubernetes-models' validators accept any extra
// property, so `readinesProbe:` or `spec.replcas` would pass, while the API
// server drops or rejects them (kubectl's default field validation is
// strict). The strict pass walks the object along the TypeScript
// declarations shipped in the package (*.d.ts): every interface lists its
// properties as `"name"?: Type;` and says which types they have
// (`IIoK8sApiCoreV1Probe`, `Array<...>`, `{ [key: string]: ... }`). Types
// that are not interfaces (IntOrString, Quantity, unions of literals) are
// leaves: validate() has already checked them.
//
// XXX The .d.ts layout is the package's, not a contract: if a version of
// kubernetes-models changes it, loadTypes() finds no interfaces and
// checkObject() throws rather than passing everything.
"use strict";
const fs = require("fs");
const path = require("path");

const MODELS = path.dirname(require.resolve("kubernetes-models/package.json"));
const APIMACHINERY = path.dirname(
  require.resolve("@kubernetes-models/apimachinery/package.json", { paths: [MODELS] }),
);

function walk(dir, out) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

// type text -> {ref: name} | {array: t} | {map: t} | {leaf: true}
function parseType(text) {
  text = text.trim();
  let m = /^Array<(.*)>$/s.exec(text);
  if (m) return { array: parseType(m[1]) };
  m = /^\{\s*\[key: string\]:\s*(.*?);?\s*\}$/s.exec(text);
  if (m) return { map: parseType(m[1]) };
  if (/^I[A-Za-z0-9]+$/.test(text)) return { ref: text };
  return { leaf: true };
}

// Interfaces by their long exported name (IIoK8sApiCoreV1Container ...),
// and the long name of the model each class file exports.
let TYPES = null;
function loadTypes() {
  if (TYPES) return TYPES;
  const interfaces = new Map();
  const byFile = new Map();
  for (const file of [...walk(MODELS, []), ...walk(APIMACHINERY, [])]) {
    const src = fs.readFileSync(file, "utf8");
    const local = new Map(); // local interface name -> properties
    const re = /^export interface (\w+)(?: extends [^{]+)? \{\n([\s\S]*?)^\}/gm;
    for (let m; (m = re.exec(src)); ) {
      const props = new Map();
      // "name"?: Type;   or   "name"?: {\n [key: string]: T;\n };
      const pre = /^ {4}"([^"]+)"\??: ([\s\S]*?);\n(?= {4}["/]|(?![\s\S]))/gm;
      for (let p; (p = pre.exec(m[2])); ) props.set(p[1], parseType(p[2]));
      local.set(m[1], props);
    }
    const ex = /^export \{ (\w+) as (IIoK8s\w+)/m.exec(src);
    if (ex && local.has(ex[1])) {
      interfaces.set(ex[2], local.get(ex[1]));
      byFile.set(path.relative(MODELS, file), ex[2]);
    }
  }
  if (interfaces.size < 100) throw new Error("k8s-schema: no interfaces found in kubernetes-models' .d.ts files");
  TYPES = { interfaces, byFile };
  return TYPES;
}

// "apps/v1" + "Deployment" -> ["apps/v1/Deployment", model class] or null
function modelFor(apiVersion, kind) {
  const rel = `${apiVersion}/${kind}`;
  let mod;
  try {
    mod = require(`kubernetes-models/${rel}`);
  } catch {
    return null;
  }
  return mod[kind] ? [rel, mod[kind]] : null;
}

function checkFields(value, type, where, errors) {
  if (value === null || value === undefined || type.leaf) return;
  if (type.array) {
    if (Array.isArray(value)) value.forEach((v, i) => checkFields(v, type.array, `${where}[${i}]`, errors));
    return;
  }
  if (type.map) {
    if (typeof value === "object") for (const [k, v] of Object.entries(value)) checkFields(v, type.map, `${where}.${k}`, errors);
    return;
  }
  const props = loadTypes().interfaces.get(type.ref);
  if (!props || typeof value !== "object" || Array.isArray(value)) return;
  for (const [k, v] of Object.entries(value)) {
    if (!props.has(k)) errors.push(`${where}: unknown field "${k}" (${type.ref.replace(/^IIoK8s(Api|ApimachineryPkgApis)/, "")})`);
    else checkFields(v, props.get(k), `${where}.${k}`, errors);
  }
}

// Errors (strings) for one object; [] when it is valid. Unknown
// apiVersion/kind is an error: the caller handles custom resources first.
function checkObject(obj) {
  const found = modelFor(obj.apiVersion, obj.kind);
  if (!found) return [`no kubernetes-models class for ${obj.apiVersion} ${obj.kind}`];
  const [rel, Model] = found;
  const errors = [];
  try {
    new Model(obj).validate();
  } catch (e) {
    errors.push(String(e.message || e).replace(/^data\//, ""));
  }
  const root = loadTypes().byFile.get(`${rel}.d.ts`);
  if (!root) return [...errors, `no type declarations for ${rel}`];
  checkFields(obj, { ref: root }, "", errors);
  return errors;
}

module.exports = { checkObject, loadTypes };
