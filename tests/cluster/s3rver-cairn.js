'use strict';
/*
 * s3rver-cairn.js — runs s3rver (npm, pinned in package-lock.json) as the S3
 * test double of Cairn's "s3" object store test (tests/unit/test_objstore_s3.c),
 * with four of its departures from S3 corrected so the conformance suite
 * tests our client, not the double:
 *
 *   1. Listing order. s3rver walks its directory tree ("a/1" is file "1" in
 *      directory "a"), so it lists "a/1" before "a-c"; S3 lists keys in
 *      ascending UTF-8 byte order, and start-after / continuation tokens
 *      follow that order. listObjects is replaced by: collect the keys under
 *      the prefix, sort them by bytes, then apply start-after, delimiter and
 *      max-keys.
 *   2. Atomic replacement. s3rver truncates and rewrites an object file in
 *      place and takes Content-Length from a separate stat, so a reader can
 *      see a mix of old and new bytes; S3 replaces an object atomically.
 *      putObject now writes a temp file and renames it over the object, and
 *      the rename + metadata update and a reader's stat + open run under one
 *      lock, so a reader gets one whole version (an open file keeps its
 *      bytes after a rename).
 *   3. AbortMultipartUpload (DELETE /BUCKET/KEY?uploadId=ID) is missing:
 *      s3rver answers 405 and keeps the parts. A middleware just before
 *      s3rver's router removes the upload (204), or answers 404
 *      NoSuchUpload (without s3rver's access-key check: a test double).
 *   4. Continuation tokens. s3rver encrypts them with DES, which OpenSSL 3
 *      (Node 17+) refuses: every truncated listing failed with HTTP 500.
 *      DES is replaced by the identity (a token is opaque to clients).
 *
 * And one addition for fault tests: a key whose name holds
 * "cairn-fault-SSS-N-" (SSS an HTTP status, N a count) is answered with that
 * status and an S3 <Error> body for the first N requests of each method on
 * it, then served normally.
 *
 * Everything else (HTTP, XML, multipart, errors, the V4 header checks — not
 * the signature itself) is s3rver's own code.
 *
 * Usage: node s3rver-cairn.js --directory DIR --address 127.0.0.1 --port N
 *          --bucket NAME [--silent]
 */
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

/* s3rver wraps continuation tokens in DES, which OpenSSL 3 refuses without
 * its legacy provider; a token is opaque to clients, so plain bytes do. */
const plain = () => ({ update: b => Buffer.from(b), final: () => Buffer.alloc(0) });
for (const f of ['createCipheriv', 'createDecipheriv']) {
  const real = crypto[f];
  crypto[f] = (alg, ...rest) => (alg === 'des' ? plain() : real(alg, ...rest));
}

const S3rver = require('s3rver');
const FilesystemStore = require('s3rver/lib/stores/filesystem');
const S3Object = require('s3rver/lib/models/object');
const { walk } = require('s3rver/lib/utils');

const OBJECT_SUFFIX = '._S3rver_object';

/* one async lock for the short critical sections below */
let chain = Promise.resolve();
function locked(fn) {
  const run = chain.then(fn, fn);
  chain = run.catch(() => {});
  return run;
}

const byteOrder = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b));

FilesystemStore.prototype.listObjects = async function (bucket, options) {
  const { delimiter = '', startAfter = '', prefix = '' } = options;
  const maxKeys = options.maxKeys === undefined ? Infinity : options.maxKeys;
  const bucketPath = this.getBucketPath(bucket);
  const prefixPath = bucketPath + '/' + FilesystemStore.encodeKeyPath(prefix);
  const keys = [];
  const it = walk(bucketPath, dir =>
    (dir + '/').startsWith(prefixPath) || prefixPath.startsWith(dir + '/'));
  for (const file of it) {
    if (!file.endsWith(OBJECT_SUFFIX)) continue;
    const key = FilesystemStore.decodeKeyPath(
      file.slice(bucketPath.length + 1, -OBJECT_SUFFIX.length));
    if (key.startsWith(prefix) && byteOrder(key, startAfter) > 0) keys.push(key);
  }
  keys.sort(byteOrder);
  const page = [];
  const commonPrefixes = new Set();
  let isTruncated = false;
  for (const key of keys) {
    const idx = delimiter ? key.slice(prefix.length).indexOf(delimiter) : -1;
    if (idx !== -1) {
      commonPrefixes.add(key.slice(0, prefix.length + idx + 1));
      continue;
    }
    if (page.length === maxKeys) {
      isTruncated = true;
      break;
    }
    page.push(key);
  }
  const objects = [];
  for (const key of page) { /* sequential: bounded open files */
    try {
      objects.push(new S3Object(bucket, key, null,
                                await this.getMetadata(bucket, key)));
    } catch (err) {
      if (err.code !== 'ENOENT') throw err; /* removed meanwhile */
    }
  }
  return { objects, commonPrefixes: [...commonPrefixes].sort(byteOrder),
           isTruncated };
};

let tmpSeq = 0;

/* the body into a temp file next to the object: [size, md5] */
function writeTemp(content, tmp) {
  const md5 = require('crypto').createHash('md5');
  if (Buffer.isBuffer(content)) {
    md5.update(content);
    return fs.promises.writeFile(tmp, content)
      .then(() => [content.length, md5.digest('hex')]);
  }
  return new Promise((resolve, reject) => {
    let size = 0;
    const out = fs.createWriteStream(tmp);
    content.on('data', chunk => {
      md5.update(chunk);
      size += chunk.length;
    });
    content.on('error', reject);
    out.on('error', reject);
    out.on('finish', () => resolve([size, md5.digest('hex')]));
    content.pipe(out);
  });
}

FilesystemStore.prototype.putObject = async function (object) {
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
  await fs.promises.mkdir(path.dirname(objectPath), { recursive: true });
  const tmp = `${objectPath}.tmp-${process.pid}-${tmpSeq++}`;
  try {
    const [size, md5] = await writeTemp(object.content, tmp);
    await locked(async () => {
      await fs.promises.rename(tmp, objectPath);
      await this.putMetadata(object.bucket, object.key, object.metadata, md5);
    });
    return { size, md5 };
  } catch (err) {
    await fs.promises.unlink(tmp).catch(() => {});
    throw err;
  }
};

const originalGetObject = FilesystemStore.prototype.getObject;
FilesystemStore.prototype.getObject = function (...args) {
  /* stat + open under the lock; the open stream keeps its version */
  return locked(() => originalGetObject.apply(this, args));
};

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

const address = arg('--address', '127.0.0.1');
const port = Number(arg('--port', '0'));
const server = new S3rver({
  directory: arg('--directory'),
  address,
  port,
  silent: process.argv.includes('--silent'),
  serviceEndpoint: 'localhost', /* virtual hosts: BUCKET.s3.localhost */
  configureBuckets: [{ name: arg('--bucket', 'cairn-test'), configs: [] }],
});
/* fix 3: AbortMultipartUpload, placed just before the router (the last
 * middleware; vhost names are rewritten to /BUCKET/KEY by then) */
server.middleware.splice(server.middleware.length - 1, 0, async (ctx, next) => {
  const m = /^\/([^/]+)\/(.+)$/.exec(ctx.path);
  const id = ctx.query.uploadId;
  if (ctx.method !== 'DELETE' || m === null || typeof id !== 'string') {
    return next();
  }
  const dir = path.join(server.store.getResourcePath(m[1], undefined, 'uploads'),
                        /^[0-9a-f]+$/.test(id) ? id : '-invalid-');
  if (fs.existsSync(path.join(dir, 'key'))) {
    await fs.promises.rm(dir, { recursive: true, force: true });
    ctx.status = 204;
    return;
  }
  ctx.status = 404;
  ctx.type = 'application/xml';
  ctx.body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchUpload' +
    '</Code><Message>The specified upload does not exist.</Message></Error>';
});
/* fault injection (see the top), before the router like fix 3 */
const faultsSeen = new Map();
server.middleware.splice(server.middleware.length - 1, 0, (ctx, next) => {
  const m = /cairn-fault-(\d{3})-(\d+)-/.exec(ctx.path);
  if (m === null) return next();
  const id = `${ctx.method} ${ctx.path}`;
  const seen = faultsSeen.get(id) || 0;
  if (seen >= Number(m[2])) return next();
  faultsSeen.set(id, seen + 1);
  const code = { 429: 'SlowDown', 500: 'InternalError', 503: 'SlowDown' };
  ctx.status = Number(m[1]);
  ctx.type = 'application/xml';
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${
    code[m[1]] || 'InjectedFault'}</Code><Message>injected fault ${seen + 1}` +
    ` of ${m[2]}</Message></Error>`;
  return undefined;
});
server.run().then(
  () => process.stderr.write(`s3rver-cairn listening on ${address}:${port}\n`),
  err => {
    process.stderr.write(`s3rver-cairn: ${err.stack || err}\n`);
    process.exit(1);
  });
