#!/usr/bin/env node
// check-dockerfile.js — checks deploy/Dockerfile without a Docker engine:
//
//   1. syntax and instruction arguments (dockerfile-utils, the linter of
//      the VS Code Docker extension);
//   2. the build stage's COPY lines bring in every folder CMake adds, and a
//      tree made from exactly those lines configures (cmake, Release,
//      CAIRN_TESTS=OFF) — so the image build cannot miss a source folder;
//   3. the build stage installs the Debian package of every pkg-config
//      module, program and system header the copied sources use;
//   4. with --binary: the runtime stage installs the package of every
//      shared library the binary needs (readelf NEEDED), libc aside;
//   5. every package named exists in this machine's apt lists (Debian 12,
//      like the image), when apt lists are present.
//
// Packages are looked up with dpkg -S on this machine, which must be
// Debian 12 with scripts/deps.sh run (the same packages as the image).
//
// usage: check-dockerfile.js --repo DIR [--dockerfile FILE] [--binary FILE]
//                            [--no-configure] [--expect]
// --dockerfile: check FILE instead of DIR/deploy/Dockerfile (COPY sources
// still relative to DIR). --expect: self-test as in check-manifests.js
// (`# expect: TEXT` lines in the Dockerfile; `# expect-with-binary: TEXT`
// only with --binary).
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const { execFileSync, spawnSync } = require("child_process");
const { validate } = require("dockerfile-utils");

const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...opts });
const trySh = (cmd, args) => {
  try {
    return sh(cmd, args);
  } catch {
    return null;
  }
};

// Packages of build-essential's closure and the base image: never listed.
const IMPLICIT = /^(libc6|libc6-dev|linux-libc-dev|libgcc-s1|libgcc-\d+-dev|libstdc\+\+6|libstdc\+\+-\d+-dev|gcc-\d+|g\+\+-\d+|cpp-\d+|libc-dev-bin)$/;

// file -> owning package, for many files in one dpkg call (dpkg -S costs
// ~0.1 s a call). A file dpkg does not know is tried by its real path too
// (merged /usr: /lib/... vs /usr/lib/...).
function ownersOf(files) {
  const ask = new Set();
  for (const f of files) {
    ask.add(f);
    if (fs.existsSync(f)) ask.add(fs.realpathSync(f));
  }
  const out = spawnSync("dpkg", ["-S", ...ask], { encoding: "utf8" }).stdout || "";
  const owner = new Map();
  for (const line of out.split("\n")) {
    const m = /^([^:]+(?::[a-z0-9]+)?(?:, [^:]+)*): (\/.*)$/.exec(line);
    if (m && !line.startsWith("diversion")) owner.set(m[2], m[1].split(",")[0].split(":")[0].trim());
  }
  const res = new Map();
  for (const f of files) res.set(f, owner.get(f) || (fs.existsSync(f) && owner.get(fs.realpathSync(f))) || null);
  return res;
}

function parseDockerfile(text) {
  // Join continuation lines, drop comments.
  const lines = text.replace(/\\\n/g, " ").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  const stages = [];
  for (const l of lines) {
    const [ins, ...rest] = l.split(/\s+/);
    const up = ins.toUpperCase();
    if (up === "FROM") stages.push({ from: rest[0], name: rest[2] || null, packages: new Set(), copies: [] });
    else if (!stages.length) continue;
    else if (up === "RUN") {
      for (const m of l.matchAll(/apt-get install ([^&;]*)/g))
        m[1].split(/\s+/).filter((t) => t && !t.startsWith("-")).forEach((p) => stages.at(-1).packages.add(p));
    } else if (up === "COPY" && !rest.some((r) => r.startsWith("--from"))) {
      const args = rest.filter((r) => !r.startsWith("--"));
      stages.at(-1).copies.push({ srcs: args.slice(0, -1), dest: args.at(-1) });
    }
  }
  return stages;
}

function sourceFolders(repo) {
  const top = fs.readFileSync(path.join(repo, "CMakeLists.txt"), "utf8");
  return [...top.matchAll(/add_subdirectory\((\w+)\)/g)].map((m) => m[1]);
}

function walkSources(dir, out) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walkSources(p, out);
    else out.push(p);
  }
  return out;
}

function main() {
  const argv = process.argv.slice(2);
  const opt = { repo: null, dockerfile: null, binary: null, configure: true, expect: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--repo") opt.repo = argv[++i];
    else if (argv[i] === "--dockerfile") opt.dockerfile = argv[++i];
    else if (argv[i] === "--expect") opt.expect = true;
    else if (argv[i] === "--binary") opt.binary = argv[++i];
    else if (argv[i] === "--no-configure") opt.configure = false;
  }
  const repo = path.resolve(opt.repo || ".");
  const dfPath = opt.dockerfile ? path.resolve(opt.dockerfile) : path.join(repo, "deploy/Dockerfile");
  const label = path.relative(process.cwd(), dfPath);
  const text = fs.readFileSync(dfPath, "utf8");
  const errors = [];
  const notes = [];

  // 1. lint
  for (const d of validate(text)) errors.push(`Dockerfile:${d.range.start.line + 1}: ${d.message}`);

  const stages = parseDockerfile(text);
  const build = stages.find((s) => s.name === "build");
  const runtime = stages.at(-1);
  if (!build || runtime === build) {
    console.log(`FAIL ${label}: want a stage named build and a runtime stage after it`);
    process.exit(1);
  }
  for (const s of stages) if (!/^debian:12(-slim)?$/.test(s.from)) errors.push(`stage ${s.name || s.from}: FROM ${s.from}, want debian:12 or debian:12-slim`);

  // 2. COPY lines of the build stage
  const copied = new Set();
  for (const c of build.copies)
    for (const src of c.srcs) {
      if (!fs.existsSync(path.join(repo, src))) errors.push(`COPY ${src}: no such file in the repository`);
      copied.add(src.replace(/\/$/, ""));
    }
  const optional = new Set(["tests", "bench"]); // off in the image build (CAIRN_TESTS=OFF, CAIRN_BENCH=OFF)
  for (const f of sourceFolders(repo)) if (!optional.has(f) && !copied.has(f)) errors.push(`CMakeLists.txt adds ${f}/, which the build stage does not COPY`);
  for (const c of runtime.copies) for (const src of c.srcs) if (!fs.existsSync(path.join(repo, src))) errors.push(`runtime COPY ${src}: no such file`);

  if (opt.configure) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cairn-image-tree-"));
    try {
      for (const c of build.copies)
        for (const src of c.srcs) {
          const dest = c.dest === "./" || c.dest === "." ? path.join(tmp, path.basename(src)) : path.join(tmp, c.dest);
          fs.cpSync(path.join(repo, src), dest, { recursive: true });
        }
      sh("cmake", ["-S", tmp, "-B", path.join(tmp, "build"), "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release", "-DCAIRN_TESTS=OFF"]);
      notes.push("a tree made from the build stage's COPY lines configures (cmake, Release, CAIRN_TESTS=OFF)");
    } catch (e) {
      errors.push(`the tree made from the COPY lines does not configure: ${String(e.stderr || e.message).trim().split("\n").slice(-5).join(" / ")}`);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }

  // 3. build dependencies of the copied sources
  const files = [...copied].flatMap((c) => (fs.statSync(path.join(repo, c)).isDirectory() ? walkSources(path.join(repo, c), []) : [path.join(repo, c)]));
  const wants = []; // {file, why}: a file whose package the build needs
  for (const f of files.filter((x) => path.basename(x) === "CMakeLists.txt")) {
    const src = fs.readFileSync(f, "utf8").replace(/#.*$/gm, "");
    for (const m of src.matchAll(/pkg_check_modules\(\s*\w+([^)]*)\)/g))
      for (const mod of m[1].split(/\s+/).filter((t) => t && !/^(REQUIRED|QUIET|IMPORTED_TARGET|GLOBAL|NO_CMAKE_PATH|NO_CMAKE_ENVIRONMENT_PATH)$/.test(t))) {
        const dir = trySh("pkg-config", ["--variable=pcfiledir", mod]);
        if (!dir) errors.push(`${path.relative(repo, f)}: pkg-config module ${mod} is not installed here (run scripts/deps.sh)`);
        else wants.push({ file: path.join(dir.trim(), `${mod}.pc`), why: `pkg-config ${mod}` });
      }
    for (const m of src.matchAll(/find_program\(\s*\w+\s+(\S+)/g)) {
      const prog = trySh("sh", ["-c", `command -v ${m[1]}`]);
      if (prog) wants.push({ file: prog.trim(), why: `program ${m[1]}` });
    }
  }
  const multiarch = (trySh("gcc", ["-print-multiarch"]) || "").trim();
  const incDirs = ["/usr/include", multiarch && `/usr/include/${multiarch}`].filter(Boolean);
  const headers = new Set();
  for (const f of files.filter((x) => /\.(c|h|cc|cpp)$/.test(x)))
    for (const m of fs.readFileSync(f, "utf8").matchAll(/^\s*#\s*include\s*<([^>]+)>/gm)) headers.add(m[1]);
  for (const h of headers) {
    const file = incDirs.map((d) => path.join(d, h)).find((p) => fs.existsSync(p));
    if (file) wants.push({ file, why: `#include <${h}>` }); // else a compiler or generated header
  }
  const owners = ownersOf(wants.map((w) => w.file));
  const needBuild = new Map(); // package -> why
  for (const w of wants) {
    const pkg = owners.get(w.file);
    if (!pkg) errors.push(`${w.why}: ${w.file} belongs to no package`);
    else if (!needBuild.has(pkg)) needBuild.set(pkg, w.why);
  }
  for (const [pkg, why] of needBuild)
    if (!IMPLICIT.test(pkg) && !build.packages.has(pkg)) errors.push(`build stage: ${why} comes from ${pkg}, which it does not install`);

  // 4. runtime libraries of the binary
  if (opt.binary) {
    const needed = [...sh("readelf", ["-d", opt.binary]).matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
    const ldd = sh("ldd", [opt.binary]);
    const paths = needed.map((lib) => {
      const m = new RegExp(`^\\s*${lib.replace(/[.+]/g, "\\$&")} => (\\S+)`, "m").exec(ldd);
      return m ? m[1] : `/nonexistent/${lib}`;
    });
    const owners = ownersOf(paths);
    needed.forEach((lib, i) => {
      const pkg = owners.get(paths[i]);
      if (!pkg) errors.push(`runtime: ${lib} (NEEDED by ${opt.binary}) resolves to no package here`);
      else if (!IMPLICIT.test(pkg) && !runtime.packages.has(pkg)) errors.push(`runtime stage: ${lib} comes from ${pkg}, which it does not install`);
    });
    notes.push(`the ${needed.length} libraries ${path.basename(opt.binary)} needs come from the runtime stage's packages (or libc)`);
  } else notes.push("no cairn binary given: runtime libraries not checked");

  // 5. the packages exist
  const all = [...new Set([...build.packages, ...runtime.packages])];
  const known = new Set();
  const show = spawnSync("apt-cache", ["show", "--no-all-versions", "libc6", ...all], { encoding: "utf8" }).stdout || "";
  for (const m of show.matchAll(/^Package: (\S+)$/gm)) known.add(m[1]);
  if (known.has("libc6")) {
    for (const s of [build, runtime])
      for (const p of s.packages) if (!known.has(p)) errors.push(`stage ${s.name || "runtime"}: package ${p} is not in the apt lists`);
  } else notes.push("no apt lists on this machine: package names not looked up");

  if (opt.expect) {
    const tag = opt.binary ? "expect(?:-with-binary)?" : "expect";
    const wanted = [...text.matchAll(new RegExp(`^# ${tag}: (.+)$`, "gm"))].map((m) => m[1].trim());
    const missing = wanted.filter((w) => !errors.some((e) => e.includes(w)));
    if (!wanted.length || missing.length) {
      console.log(`FAIL ${label}: the checker missed: ${missing.join(" | ") || "(no # expect lines)"}`);
      errors.forEach((e) => console.log(`  got: ${e}`));
      process.exit(1);
    }
    console.log(`ok   ${label}: all ${wanted.length} planted faults caught`);
    return;
  }
  if (errors.length) {
    console.log(`FAIL ${label}`);
    errors.forEach((e) => console.log(`  ${e}`));
    process.exit(1);
  }
  console.log(`ok   ${label}: lint clean; build stage ${build.packages.size} packages cover ${needBuild.size} build dependencies; runtime stage ${runtime.packages.size} packages`);
  notes.forEach((n) => console.log(`     ${n}`));
}

main();
