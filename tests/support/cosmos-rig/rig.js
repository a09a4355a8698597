#!/usr/bin/env node
/*
 * cosmos-rig: a TEST-ONLY local Cosmos DB (NoSQL API) server for integration tests.
 *
 * It embeds @vercel/cosmosdb-server (pinned to 1.0.1) and closes the gaps the package has
 * as a stand-in for Cosmos DB (README.md lists them):
 *   - master-key HMAC auth, x-ms-date / x-ms-version checks, fake Entra (AAD) tokens;
 *   - quoted etags, `_lsn` on every write, a real latest-version change feed;
 *   - atomic transactional batch (207 / 424, rolled back);
 *   - 404/400 instead of the library's 500s, partition-scoped queries, O(n) queries, and
 *     per-partition and LSN indexes so queries, the change feed and batch rollback cost
 *     what they return or touch, not the container's size;
 *   - id and size validation; fault injection; /__rig control endpoints;
 *   - a managed-identity endpoint as strict as App Service's, JWT-shaped Entra tokens of
 *     real size, and the data plane's checks of them (expiry, audience, control plane);
 *   - session tokens, and optionally replicas that lag (--replica-lag-ms);
 *   - partition key ranges per container, split on demand (POST /__rig/split), served by the
 *     rig at GET .../pkranges; the change feed and queries by range, 410/1002 for a split one.
 *
 * How it hooks into the library (all via the package's own CommonJS modules):
 *   - lib/account default export is replaced by a subclass so we capture the Account
 *     and advertise http:// endpoints;
 *   - Items.prototype._set quotes etags; Documents.prototype._set stamps `_lsn`;
 *   - the library's single `request` listener is removed from its server and called by
 *     our own listener with a fake request (buffered body) and a capturing response;
 *   - batch ops reuse lib/handler/_document-operations and _patch-operations;
 *   - the query transformer's `[...$, x]` reducers and helpers.stripUndefined are
 *     rewritten so queries are O(n) instead of O(n^2).
 *
 * Usage: node rig.js --port 0 --host 127.0.0.1 --key <base64> [--identity-header <s>]
 *        [--identity-client-id <guid>] [--token-ttl <s>] [--token-bytes <n>] [--replica-lag-ms <ms>]
 * Prints exactly one stdout line when ready: "cosmos-rig listening on http://<host>:<port>".
 */
'use strict';

const crypto = require('crypto');
const path = require('path');
const { PassThrough } = require('stream');

// ==== Library modules (deep requires into the pinned package; it has no "exports" map). ===
const LIB = path.join(path.dirname(require.resolve('@vercel/cosmosdb-server/package.json')), 'lib');
const QLIB = path.join(
  path.dirname(require.resolve('@zeit/cosmosdb-query/package.json', { paths: [LIB] })), 'lib');
const lib = require(LIB);
const accountModule = require(path.join(LIB, 'account'));
const Items = require(path.join(LIB, 'account/items')).default;
const Documents = require(path.join(LIB, 'account/documents')).default;
const Databases = require(path.join(LIB, 'account/databases')).default;
const docOps = require(path.join(LIB, 'handler/_document-operations'));
const { patchOperation } = require(path.join(LIB, 'handler/_patch-operations'));
const { parsePartitionKey } = require(path.join(LIB, 'utils/get-partition-from-header'));
const getValue = require(path.join(LIB, 'utils/get-value')).default;
const qTransformer = require(path.join(QLIB, 'transformer'));
const qHelpers = require(path.join(QLIB, 'helpers'));
const qContinuation = require(path.join(QLIB, 'continuation-token'));

const MAX_DOC_BYTES = 2 * 1024 * 1024;   // 2 MiB item limit (UTF-8 length of the JSON)
const MAX_BATCH_BYTES = 2202010;         // .NET MaxDirectModeBatchRequestBodySizeInBytes
const MAX_BODY_BYTES = 32 * 1024 * 1024; // hard cap on what we buffer at all
const MAX_BATCH_OPS = 100;
const MAX_ID_BYTES = 1023;
const CLOCK_SKEW_MS = 15 * 60 * 1000;
const DEFAULT_PAGE = 100;                // real default for x-ms-max-item-count
const LOG_SIZE = 1000;

// ==== Command line ====================================================================
const USAGE = 'usage: node rig.js --key <base64 master key> [--port 0] [--host 127.0.0.1]\n' +
  '                   [--identity-header <secret>] [--identity-client-id <guid>]\n' +
  '                   [--token-ttl <seconds>] [--token-bytes <n>] [--replica-lag-ms <ms>]\n';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MIN_TOKEN_BYTES = 1536;            // the claims the rig puts in a token take ~1.4 KB
const MAX_TOKEN_BYTES = 12288;           // still fits the 16 KB header limit below

function die(msg) { process.stderr.write(`cosmos-rig: ${msg}\n${USAGE}`); process.exit(2); }

function parseArgs(argv) {
  const o = { port: 0, host: '127.0.0.1', key: null, identityHeader: null, identityClientId: null,
    tokenTtl: 3600, tokenBytes: 2900, replicaLagMs: 0 };
  for (let i = 0; i < argv.length; i += 1) {
    let a = argv[i];
    let v;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) { v = a.slice(eq + 1); a = a.slice(0, eq); }
    const val = () => (v !== undefined ? v : (i + 1 < argv.length ? argv[++i] : die(`${a} needs a value`)));
    switch (a) {
      case '--port': o.port = Number(val()); break;
      case '--host': o.host = val(); break;
      case '--key': o.key = val(); break;
      case '--identity-header': o.identityHeader = val(); break;
      case '--identity-client-id': o.identityClientId = val(); break;
      case '--token-ttl': o.tokenTtl = Number(val()); break;
      case '--token-bytes': o.tokenBytes = Number(val()); break;
      case '--replica-lag-ms': o.replicaLagMs = Number(val()); break;
      case '-h': case '--help': process.stdout.write(USAGE); process.exit(0); break;
      default: die(`unknown option ${a}`);
    }
  }
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) die('--port must be 0..65535');
  if (!['127.0.0.1', '::1', 'localhost'].includes(o.host)) die('--host must be a loopback address');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(o.key || '') || o.key.length % 4 !== 0) die('--key must be a base64 master key');
  if (!Number.isInteger(o.tokenTtl) || o.tokenTtl <= 0) die('--token-ttl must be a positive integer');
  if (o.identityHeader === '') die('--identity-header must not be empty');
  if (o.identityClientId !== null && !GUID.test(o.identityClientId)) die('--identity-client-id must be a GUID');
  if (!Number.isInteger(o.tokenBytes) || o.tokenBytes < MIN_TOKEN_BYTES || o.tokenBytes > MAX_TOKEN_BYTES) {
    die(`--token-bytes must be an integer in ${MIN_TOKEN_BYTES}..${MAX_TOKEN_BYTES}`);
  }
  if (!Number.isInteger(o.replicaLagMs) || o.replicaLagMs < 0) die('--replica-lag-ms must be a non-negative integer');
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const KEY = Buffer.from(opts.key, 'base64');

// ==== Rig state =======================================================================
const state = {
  account: null,        // captured lib Account (set when the server starts listening)
  rules: [],            // fault rules, matched in order
  log: [],              // last LOG_SIZE requests
  stats: null,
  replicaLagMs: opts.replicaLagMs,   // 0 = one replica that always has the latest write
  msi: { ttlSeconds: opts.tokenTtl, tokenBytes: opts.tokenBytes, fail: null },  // identity endpoint settings
  origin: null,         // "http://127.0.0.1:<port>", the account endpoint without the slash
};
function resetStats() {
  state.stats = { requests: 0, byMethod: {}, byStatus: {}, byMethodAndStatus: {},
    byKind: {}, requestCharge: 0, dropped: 0, faultsFired: 0, faultsByKind: {}, tokensIssued: 0,
    identityRequests: 0, identityRefused: 0, identityFaults: 0,
    aadRefused: { invalid: 0, expired: 0, audience: 0, controlPlane: 0 },
    maxAuthorizationBytes: 0, headersTooLarge: 0, staleReads: 0, sessionNotAvailable: 0 };
}
resetStats();

// ==== Library patches =================================================================

// Capture the Account and advertise http:// (the library hard-codes https://).
const BaseAccount = accountModule.default;
accountModule.default = class RigAccount extends BaseAccount {
  constructor(host, port) {
    super(host, port);
    const endpoint = `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
    const doc = this.read();
    doc.writableLocations.forEach((l) => { l.databaseAccountEndpoint = endpoint; });
    doc.readableLocations.forEach((l) => { l.databaseAccountEndpoint = endpoint; });
    state.account = this;
  }
};

// Real Cosmos etags include the double quotes: "\"<uuid>\"". Quote at storage time so the
// library's own If-Match comparisons (`ifMatch !== data._etag`) compare quoted values.
const itemsSet = Items.prototype._set;
Items.prototype._set = function quotedEtagSet(data) {
  if (typeof data._etag === 'string' && !data._etag.startsWith('"')) data._etag = `"${data._etag}"`;
  return itemsSet.call(this, data);
};

// Every document write gets the next value of a per-container counter: create, replace,
// upsert and patch (they all end in _set) as the document's `_lsn`, a delete as a log position
// of its own. Inside a batch all writes share one LSN, like a transaction committed at one
// log position. The counter is the container's session LSN (one partition-key range).
function nextLsn(docs) {
  if (docs.rigBatchLsn) {
    docs.rigBatchWrote = true;
    return docs.rigBatchLsn;
  }
  docs.rigLsn = (docs.rigLsn || 0) + 1;
  return docs.rigLsn;
}
// A replace (and so an upsert of an existing document, and a patch) deletes the old version,
// then sets the new one under the same rid. `rigReplacing` holds the old version meanwhile, so
// that inner delete is not a write of its own and the history knows what the write replaced.
const itemsReplace = Items.prototype.replace;
const itemsDelete = Items.prototype.delete;
Documents.prototype.replace = function rigReplace(data, original) {
  const old = this._item('/id', data.id, this._getPartition(data)).read();
  this.rigReplacing = old || null;
  try { return itemsReplace.call(this, data, original); } finally { this.rigReplacing = undefined; }
};
Documents.prototype.delete = function rigDelete(idOrRid, partition) {
  if (this.rigReplacing !== undefined) return itemsDelete.call(this, idOrRid, partition);
  rigMaps(this);
  const old = this._item('/id', idOrRid, partition).read();
  const r = itemsDelete.call(this, idOrRid, partition);
  const lsn = nextLsn(this);
  if (old) noteWrite(this, old, lsn);
  return r;
};
Documents.prototype._set = function lsnSet(data) {
  rigMaps(this);
  data._lsn = nextLsn(this);
  noteWrite(this, data, data._lsn, this.rigReplacing !== undefined ? this.rigReplacing : null);
  return Items.prototype._set.call(this, data);
};

// ---- Write history, for lagging replicas (--replica-lag-ms / POST /__rig/config) ---------
// While replicas lag, every write is logged with its time, LSN and the version it replaced
// (null: the document did not exist). A replica that lags N ms has applied every write older
// than N ms; the version of a document at LSN L is the `before` of its first write after L.
// Entries older than the lag are dropped; with lag off nothing is logged.
const docKey = (docs, doc) => `${docs._data.pkKey(doc)}\u0002${doc.id}`;
function noteWrite(docs, doc, lsn, replaced) {
  if (state.replicaLagMs <= 0) return;
  const before = replaced === undefined ? doc : replaced;   // a delete logs the deleted version
  const h = docs.rigHist || (docs.rigHist = []);
  h.push({ lsn, time: Date.now(), key: docKey(docs, doc), before: before ? structuredClone(before) : null });
  if (!docs.rigBatchLsn && h.length > 64) {                  // never while a batch may roll back
    const cutoff = Date.now() - state.replicaLagMs - 1000;
    let n = 0;
    while (n < h.length && h[n].time < cutoff) n += 1;
    if (n > 0) h.splice(0, n);
  }
}

// Container indexes. The library keeps a container's documents in two Maps (`_data`:
// rid -> Item, `_index`: "<pk>:/id:<id>" -> rid) and scans all of `_data` for every query;
// a batch copied both Maps to be able to roll back. At tens of thousands of documents (a
// soak) that made every batch, query and change-feed read cost milliseconds. So:
//   - JournalMap (both Maps): while a batch runs, the value of each key before its first
//     change, so a rollback restores only what the batch touched;
//   - DocMap (`_data`): also the rids of each logical partition, for partition-scoped
//     queries, and an LSN log (one [lsn, rid] per write, in LSN order), for the change feed.
// Neither changes what a request returns, only what it costs.
class JournalMap extends Map {
  constructor(entries) {
    super();
    this.journal = null;
    for (const [k, v] of entries) this.set(k, v);
  }
  note(k) {
    if (this.journal && !this.journal.has(k)) this.journal.set(k, super.has(k) ? [true, super.get(k)] : [false]);
  }
  set(k, v) { this.note(k); return super.set(k, v); }
  delete(k) { this.note(k); return super.delete(k); }
  begin() { this.journal = new Map(); }
  commit() { this.journal = null; }
  rollback() {
    const journal = this.journal;
    this.journal = null;
    for (const [k, [had, v]] of journal) { if (had) this.set(k, v); else this.delete(k); }
  }
}
class DocMap extends JournalMap {
  constructor(entries, paths) {
    super([]);
    this.paths = paths.map((p) => p.slice(1).split('/'));
    this.byPk = new Map();  // partition key -> Set of rids (in the Map's order)
    this.lsnLog = [];       // [lsn, rid] per write, ascending lsn; stale entries stay
    this.logFrom = 0;       // log length when the running batch began
    for (const [k, v] of entries) this.set(k, v);
    this.lsnLog.sort((a, b) => a[0] - b[0]);
  }
  pkKey(doc) { return this.paths.map((p) => pkCanon(getValue(p, doc))).join('\u0001'); }
  unindex(rid, key) {
    const rids = this.byPk.get(key);
    if (rids) { rids.delete(rid); if (rids.size === 0) this.byPk.delete(key); }
  }
  set(rid, item) {
    const doc = item.read();
    const key = this.pkKey(doc);
    const old = super.get(rid);
    if (old && this.pkKey(old.read()) !== key) this.unindex(rid, this.pkKey(old.read()));
    super.set(rid, item);
    if (!this.byPk.has(key)) this.byPk.set(key, new Set());
    this.byPk.get(key).add(rid);
    if (typeof doc._lsn === 'number' && !this.restoring) this.lsnLog.push([doc._lsn, rid]);
    if (!this.journal && this.lsnLog.length > 2 * this.size + 1024) this.compact();
    return this;
  }
  delete(rid) {
    const old = super.get(rid);
    if (old) this.unindex(rid, this.pkKey(old.read()));
    return super.delete(rid);
  }
  begin() { super.begin(); this.logFrom = this.lsnLog.length; }
  rollback() {
    this.lsnLog.length = this.logFrom;  // the batch's writes were the last ones logged
    this.restoring = true;
    try { super.rollback(); } finally { this.restoring = false; }
  }
  compact() {
    this.lsnLog = [...super.entries()].filter(([, it]) => typeof it.read()._lsn === 'number')
      .map(([rid, it]) => [it.read()._lsn, rid]).sort((a, b) => a[0] - b[0]);
  }
  /** The documents of one logical partition (values as in a pk header), in the Map's order. */
  partition(values) {
    const rids = this.byPk.get(values.map(pkCanon).join('\u0001'));
    return rids ? [...rids].map((rid) => super.get(rid).read()) : [];
  }
  /** Current documents last written after lsn `after`, ascending; stops past `max` at an LSN change. */
  changedAfter(after, max, keep) {
    const log = this.lsnLog;
    let lo = 0;
    let hi = log.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (log[mid][0] > after) hi = mid; else lo = mid + 1; }
    const out = [];
    const seen = new Set();
    for (let i = lo; i < log.length; i += 1) {
      const [lsn, rid] = log[i];
      const item = super.get(rid);
      const doc = item && item.read();
      if (!doc || doc._lsn !== lsn || seen.has(rid) || !keep(doc)) continue; // superseded or filtered
      if (max !== undefined && out.length >= max && lsn !== out[out.length - 1]._lsn) break;
      seen.add(rid);
      out.push(doc);
    }
    return out;
  }
}
/** Gives a container's Documents the indexed Maps (once; containers start empty). */
function rigMaps(docs) {
  if (!(docs._data instanceof DocMap)) docs._data = new DocMap(docs._data, pkPaths(docs._parent) || []);
  if (!(docs._index instanceof JournalMap)) docs._index = new JournalMap(docs._index);
  return docs;
}

// O(n) queries. The transformer compiles FROM/JOIN into `.reduce(($, c) => [...$, {c}], [])`,
// copying the accumulator per document. Rewrite every such reducer body to `($.push(...), $)`.
function linearizeReducerBody(node) {
  if (node && node.type === 'ArrayExpression' && node.elements.length > 0 &&
      node.elements[0] && node.elements[0].type === 'SpreadElement' &&
      node.elements[0].argument.type === 'Identifier' && node.elements[0].argument.name === '$') {
    const $ = { type: 'Identifier', name: '$' };
    const push = { type: 'MemberExpression', object: $, property: { type: 'Identifier', name: 'push' }, computed: false };
    return { type: 'SequenceExpression', expressions: [{ type: 'CallExpression', callee: push, arguments: node.elements.slice(1) }, $] };
  }
  if (node && node.type === 'ConditionalExpression') {
    return { ...node, consequent: linearizeReducerBody(node.consequent), alternate: linearizeReducerBody(node.alternate) };
  }
  return node;
}
function linearizeReducers(node) {
  if (!node || typeof node !== 'object') return;
  if (Array.isArray(node)) { node.forEach(linearizeReducers); return; }
  if (node.type === 'CallExpression' && node.callee && node.callee.type === 'MemberExpression' &&
      node.callee.property && node.callee.property.name === 'reduce') {
    const fn = node.arguments[0];
    if (fn && fn.type === 'ArrowFunctionExpression' && fn.params[0] && fn.params[0].name === '$') {
      fn.body = linearizeReducerBody(fn.body);
    }
  }
  Object.keys(node).forEach((k) => linearizeReducers(node[k]));
}
const transform = qTransformer.default;
qTransformer.default = (ast) => { const js = transform(ast); linearizeReducers(js); return js; };
// stripUndefined (applied to every result page) has the same quadratic spread; same semantics here.
qHelpers.stripUndefined = function stripUndefined(obj) {
  if (Array.isArray(obj)) return obj.filter((v) => typeof v !== 'undefined').map(stripUndefined);
  if (!obj || typeof obj !== 'object') return obj;
  const out = {};
  Object.entries(obj).forEach(([k, v]) => { if (typeof v !== 'undefined') out[k] = stripUndefined(v); });
  return out;
};

// ==== Small helpers ===================================================================
const REASONS = { 400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed',
  408: 'RequestTimeout', 409: 'Conflict', 410: 'Gone', 412: 'PreconditionFailed', 413: 'RequestEntityTooLarge',
  424: 'FailedDependency', 429: 'TooManyRequests', 449: 'RetryWith', 500: 'InternalServerError', 503: 'ServiceUnavailable' };

/** A handler result: {status, headers, body, charge?}. Nothing is written until send(). */
function fail(status, message, headers = {}) {
  return { status, headers, body: { code: REASONS[status] || 'Error', message } };
}
const isTrue = (v) => typeof v === 'string' && v.toLowerCase() === 'true';
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });
const jsonBytes = (v) => Buffer.byteLength(JSON.stringify(v));
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

function getCollection(dbId, collId) {
  const coll = state.account.database(dbId).collection(collId);
  return coll.read() ? coll : null;
}
function pkPaths(coll) {
  const pk = coll.read().partitionKey;
  return pk && Array.isArray(pk.paths) && pk.paths.length ? pk.paths : null;
}
// Partition key values compare as JSON; `{}` in a header means "undefined" (no value).
const pkCanon = (v) => (v === undefined ? '{}' : JSON.stringify(v));
function docPk(coll, doc) {
  return (pkPaths(coll) || []).map((p) => getValue(p.slice(1).split('/'), doc));
}
function samePk(a, b) { return a.length === b.length && a.every((v, i) => pkCanon(v) === pkCanon(b[i])); }

/** Parses x-ms-documentdb-partitionkey. Returns {values, raw} | {error} | null (absent). */
function readPkHeader(ctx, coll) {
  const raw = ctx.req.headers['x-ms-documentdb-partitionkey'];
  if (raw === undefined) return null;
  if (!pkPaths(coll)) return { values: null, raw: '[{}]' }; // legacy container: keyed by id
  let values;
  try { values = JSON.parse(raw); } catch (e) { values = undefined; }
  if (!Array.isArray(values) || values.length !== pkPaths(coll).length) {
    return { error: fail(400, `Partition key ${raw} is invalid or doesn't correspond to the definition in the collection.`) };
  }
  return { values, raw };
}
/** Point ops and writes need the pk header (containers without a pk definition excepted). */
function requirePk(ctx, coll) {
  const pk = readPkHeader(ctx, coll);
  if (pk) return pk;
  if (!pkPaths(coll)) return { values: null, raw: '[{}]' };
  return { error: fail(400, 'PartitionKey value must be supplied for this operation.') };
}
const pkMismatch = () => fail(400, 'PartitionKey extracted from document doesn\'t match the one specified in the header.',
  { 'x-ms-substatus': '1001' });

/** Finds a document by id whose partition key equals the header's (strict JSON compare). */
function findDoc(coll, id, pk) {
  let part;
  try { part = parsePartitionKey(pk.raw, id); } catch (e) { return null; }
  const doc = coll.documents._item('/id', id, part).read();
  if (!doc || doc.id !== id) return null;
  if (pk.values && !samePk(docPk(coll, doc), pk.values)) return null;
  return doc;
}

/** id rules and size limit for a document body; returns a failure or null. */
function validateDoc(doc) {
  if (!isObject(doc)) return fail(400, 'The input content is invalid: a document must be a JSON object.');
  if (typeof doc.id !== 'string' || doc.id === '') {
    return fail(400, "The input content is invalid because the required properties - 'id; ' - are missing");
  }
  if (/[/\\?#]/.test(doc.id)) return fail(400, "The input id contains an invalid character ('/', '\\', '?' or '#').");
  if (Buffer.byteLength(doc.id) > MAX_ID_BYTES) return fail(400, `The input id exceeds ${MAX_ID_BYTES} bytes.`);
  if (jsonBytes(doc) > MAX_DOC_BYTES) return fail(413, 'Request size is too large.');
  return null;
}

/** Validates x-ms-continuation (query and read feed). undefined = absent, null = garbage. */
function readContinuation(raw) {
  if (raw === undefined) return undefined;
  try {
    const c = JSON.parse(raw);
    if (!isObject(c) || typeof c.token !== 'string' || !c.token.startsWith('+RID:')) return null;
    const t = qContinuation.decode(c.token);
    return t.RID && Number.isInteger(t.RT) && Number.isInteger(t.TRC) ? c : null;
  } catch (e) {
    return null;
  }
}
/** x-ms-max-item-count: absent -> 100, -1 -> unlimited, positive -> itself, else 400. */
function readPageSize(ctx) {
  const raw = ctx.req.headers['x-ms-max-item-count'];
  if (raw === undefined) return DEFAULT_PAGE;
  const n = Number(raw);
  if (n === -1) return undefined;
  return Number.isInteger(n) && n > 0 ? n : null;
}

// ==== Partition key ranges and splits (README "Partition key ranges and splits") ========
// A document's effective partition key (EPK) is a point of a hash space: the first 4 bytes of
// the sha256 of its canonical pk (DocMap.pkKey), top two bits cleared as hash v2 does, so the
// space is [0, 2^30). A range covers [lo, hi). Bounds are shown as Cosmos shows them:
// "" = 0, "FF" = the end, interior ones as 8 upper-case hex digits (all below "40000000"),
// so they sort as strings. Each container starts with range "0" over everything; only
// POST /__rig/split changes that. The state hangs on the library's Collection object, so a
// deleted and recreated container, or a /__rig/reset, starts over with one range.
const EPK_END = 0x40000000;
const epkHex = (n) => n.toString(16).toUpperCase().padStart(8, '0');
const epkCache = new Map();   // canonical pk -> EPK (a pure function; cleared when large)
function epkOf(key) {
  let e = epkCache.get(key);
  if (e === undefined) {
    e = crypto.createHash('sha256').update(key, 'utf8').digest().readUInt32BE(0) & (EPK_END - 1);
    if (epkCache.size >= 100000) epkCache.clear();
    epkCache.set(key, e);
  }
  return e;
}
const rangeState = new WeakMap();   // Collection -> {current, gone, maxId}
function rangesOf(coll) {
  let st = rangeState.get(coll);
  if (!st) {
    const lib0 = coll.partitionKeyRanges._data.values().next().value;   // the package's range "0"
    const meta = lib0 ? lib0.read() : {};
    st = { current: [{ id: '0', lo: 0, hi: EPK_END, parents: [], fraction: 1, _rid: meta._rid,
      _self: meta._self, _etag: meta._etag, _ts: meta._ts }], gone: new Map(), maxId: 0 };
    rangeState.set(coll, st);
  }
  return st;
}
/** A range as GET .../pkranges shows it. */
function rangeView(r) {
  return { id: r.id, _rid: r._rid, _self: r._self, _etag: r._etag, _ts: r._ts,
    minInclusive: r.lo === 0 ? '' : epkHex(r.lo), maxExclusive: r.hi === EPK_END ? 'FF' : epkHex(r.hi),
    ridPrefix: Number(r.id), throughputFraction: r.fraction, status: 'online', parents: [...r.parents] };
}
/** POST /__rig/split {db, coll, range}: the range gives way to two halves; returns the current ranges. */
function splitRange(body) {
  if (!isObject(body)) throw new Error('body must be a JSON object {"db": ..., "coll": ..., "range": ...}');
  Object.keys(body).forEach((k) => { if (!['db', 'coll', 'range'].includes(k)) throw new Error(`unknown field '${k}'`); });
  ['db', 'coll', 'range'].forEach((k) => {
    if (typeof body[k] !== 'string' || body[k] === '') throw new Error(`${k} must be a non-empty string`);
  });
  const coll = getCollection(body.db, body.coll);
  if (!coll) throw new Error(`no container '${body.coll}' in database '${body.db}'`);
  if (!pkPaths(coll)) throw new Error(`container '${body.coll}' has no partition key definition: its one range cannot split`);
  const st = rangesOf(coll);
  const i = st.current.findIndex((r) => r.id === body.range);
  if (i < 0) {
    throw new Error(st.gone.has(body.range) ? `range '${body.range}' of container '${body.coll}' has already split`
      : `'${body.range}' is not a partition key range of container '${body.coll}'`);
  }
  const r = st.current[i];
  if (r.hi - r.lo < 2) throw new Error(`range '${r.id}' is too narrow to split`);
  const mid = r.lo + Math.floor((r.hi - r.lo) / 2);
  const child = (lo, hi) => {
    st.maxId += 1;
    const rid = coll.partitionKeyRanges._rid(st.maxId + 1);   // the package gave "0" _rid(1)
    return { id: String(st.maxId), lo, hi, parents: [...r.parents, r.id], fraction: r.fraction / 2,
      _rid: rid, _self: coll.partitionKeyRanges._self(rid), _etag: `"${crypto.randomUUID()}"`, _ts: Math.floor(Date.now() / 1000) };
  };
  st.current.splice(i, 1, child(r.lo, mid), child(mid, r.hi));
  st.gone.set(r.id, r);
  return st.current.map(rangeView);
}
/**
 * x-ms-documentdb-partitionkeyrangeid (change feed, queries, read feed): null when absent;
 * else {inRange} (a doc filter, null for a range over the whole space) or {error}: 410/1002
 * for a range that has split, 400 for an id that never was a range of this container.
 * Takes "<id>" and the .NET form "<container _rid>,<id>".
 */
function readRangeHeader(ctx, coll) {
  const raw = ctx.req.headers['x-ms-documentdb-partitionkeyrangeid'];
  if (raw === undefined) return null;
  const comma = raw.indexOf(',');
  const id = (comma < 0 ? raw : raw.slice(comma + 1)).trim();
  const st = rangesOf(coll);
  const r = st.current.find((x) => x.id === id);
  if ((comma >= 0 && raw.slice(0, comma).trim() !== coll.read()._rid) || (!r && !st.gone.has(id))) {
    return { error: fail(400, `The partition key range id '${raw}' (x-ms-documentdb-partitionkeyrangeid) is not a ` +
      'partition key range of this container. Read them with GET .../pkranges.') };
  }
  if (!r) {
    const g = st.gone.get(id);
    const now = st.current.filter((x) => x.lo >= g.lo && x.hi <= g.hi).map((x) => x.id);
    return { error: fail(410, `PartitionKeyRangeGone: partition key range '${id}' has split (now ranges ` +
      `${now.join(', ')}). Read the partition key ranges again and continue on the ranges that replaced it.`,
    { 'x-ms-substatus': '1002' }) };
  }
  if (r.lo === 0 && r.hi === EPK_END) return { inRange: null };
  const docs = rigMaps(coll.documents);
  return { inRange: (d) => { const e = epkOf(docs._data.pkKey(d)); return e >= r.lo && e < r.hi; } };
}
/** x-ms-continuation of GET .../pkranges: {"pkr":"<EPK of the next range's start>"}; null = garbage. */
function readRangesContinuation(raw) {
  try {
    const c = JSON.parse(raw);
    if (!isObject(c) || Object.keys(c).length !== 1 || typeof c.pkr !== 'string' || !/^[0-9A-F]{8}$/.test(c.pkr)) return null;
    const lo = parseInt(c.pkr, 16);
    return lo > 0 && lo < EPK_END ? lo : null;
  } catch (e) {
    return null;
  }
}
/** GET .../pkranges: the current ranges in EPK order, paged. */
function readRanges(ctx, coll) {
  const max = readPageSize(ctx);
  if (max === null) return fail(400, 'Invalid x-ms-max-item-count header.');
  const raw = ctx.req.headers['x-ms-continuation'];
  const from = raw === undefined ? 0 : readRangesContinuation(raw);
  if (from === null) return fail(400, 'Invalid continuation token: echo x-ms-continuation verbatim.');
  const all = rangesOf(coll).current.filter((r) => r.lo >= from);   // a split meanwhile: its halves
  const page = max === undefined ? all : all.slice(0, max);
  const headers = { 'x-ms-item-count': String(page.length) };
  if (page.length < all.length) headers['x-ms-continuation'] = JSON.stringify({ pkr: epkHex(all[page.length].lo) });
  return { status: 200, headers, charge: 1,
    body: { _rid: coll.read()._rid, PartitionKeyRanges: page.map(rangeView), _count: page.length } };
}

// ==== Managed identity and Entra tokens (README "Managed identity") ====================
// The rig plays both App Service's identity endpoint and Entra: it mints JWT-shaped v1.0
// access tokens of a realistic size, and the data plane accepts only tokens it minted
// (a keyed MAC stands in for the RS256 signature), unexpired, for an audience Cosmos accepts.
const TOKEN_KEY = crypto.randomBytes(32);
const TENANT_ID = crypto.randomUUID();
const SUBSCRIPTION = crypto.randomUUID();
const identity = (() => {
  const userAssigned = opts.identityClientId !== null;
  const rg = `/subscriptions/${SUBSCRIPTION}/resourcegroups/cosmos-rig`;
  return {
    type: userAssigned ? 'UserAssigned' : 'SystemAssigned',
    clientId: userAssigned ? opts.identityClientId.toLowerCase() : crypto.randomUUID(),
    objectId: crypto.randomUUID(),
    resourceId: userAssigned ? `${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/cosmos-rig-identity`
      : `${rg}/providers/Microsoft.Web/sites/cosmos-rig-app`,
  };
})();
const KID = crypto.createHash('sha1').update(TOKEN_KEY).digest('base64url');   // 27 chars, like x5t
const b64url = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
/** 256 bytes (an RSA-2048 signature's size) derived from the key and the signed part. */
function tokenSignature(signed) {
  const parts = [];
  for (let i = 0; i < 8; i += 1) parts.push(crypto.createHmac('sha256', TOKEN_KEY).update(`${i}.${signed}`).digest());
  return Buffer.concat(parts).toString('base64url');
}
const pad = (n) => crypto.randomBytes(Math.ceil(n * 0.75) + 3).toString('base64url').slice(0, n);
/** A v1.0 access token for `resource`, exactly state.msi.tokenBytes long, different every time. */
function mintToken(resource, expiresOn) {
  const now = Math.floor(Date.now() / 1000);
  const sigLen = 342;                              // base64url of 256 bytes
  // Base64url lengths are never 1 (mod 4): pick the header spacing that leaves the payload a
  // reachable length. (JSON allows the blank; nobody reads it.)
  let header;
  let payloadLen;
  for (let blanks = 0; blanks < 4; blanks += 1) {
    header = b64url(`{"typ":"JWT","alg":"RS256","x5t":"${KID}","kid":"${KID}"${' '.repeat(blanks)}}`);
    payloadLen = state.msi.tokenBytes - header.length - sigLen - 2;
    if (payloadLen % 4 !== 1) break;
  }
  const claims = {
    aud: resource, iss: `https://sts.windows.net/${TENANT_ID}/`, iat: now, nbf: now, exp: expiresOn,
    aio: pad(56), appid: identity.clientId, appidacr: '2', idp: `https://sts.windows.net/${TENANT_ID}/`,
    idtyp: 'app', oid: identity.objectId, rh: `0.${pad(60)}.`, sub: identity.objectId, tid: TENANT_ID,
    uti: pad(22), ver: '1.0', xms_idrel: '7 8', xms_mirid: identity.resourceId, xms_rd: '',
  };
  const want = Math.floor((payloadLen * 3) / 4);   // JSON bytes whose base64url is payloadLen long
  claims.xms_rd = pad(want - Buffer.byteLength(JSON.stringify(claims)));
  const signed = `${header}.${b64url(claims)}`;
  return `${signed}.${tokenSignature(signed)}`;
}
/** The audiences this account accepts: its own origin (no trailing slash) and the global one. */
function acceptedAudiences() { return [state.origin, 'https://cosmos.azure.com']; }
/** .NET's DateTime.ToString() of a UTC time, as Cosmos prints it: "7/17/2022 5:09:09 PM". */
function dotnetTime(ms) {
  const d = new Date(ms);
  const h = d.getUTCHours() % 12 || 12;
  const p2 = (n) => String(n).padStart(2, '0');
  return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()} ${h}:${p2(d.getUTCMinutes())}:` +
    `${p2(d.getUTCSeconds())} ${d.getUTCHours() < 12 ? 'AM' : 'PM'}`;
}
const ACCOUNT_NAME = 'cosmos-rig';
/** Checks an Entra token on a data-plane request: null when good, else a failure. */
function checkAadToken(token) {
  const refuse = (kind, status, message, sub) => {
    state.stats.aadRefused[kind] += 1;
    return fail(status, `Request blocked by Auth ${ACCOUNT_NAME} : ${message}`, sub ? { 'x-ms-substatus': String(sub) } : {});
  };
  const parts = token.split('.');
  let claims = null;
  if (parts.length === 3 && parts[2].length === 342 &&
      crypto.timingSafeEqual(Buffer.from(tokenSignature(`${parts[0]}.${parts[1]}`)),
        Buffer.from(parts[2].padEnd(342, '=')))) {
    try { claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')); } catch (e) { claims = null; }
  }
  if (!isObject(claims)) {
    return refuse('invalid', 401, 'The provided AAD token could not be validated: it is not a complete token signed by ' +
      `this account's tenant (${parts.length === 3 ? `${token.length} characters` : 'not a JWT'}; cut short, altered, ` +
      'or not issued by the cosmos-rig identity endpoint).');
  }
  const now = Date.now();
  if (claims.exp * 1000 <= now) {
    return refuse('expired', 401, `Provided AAD token has been expired since [${dotnetTime(claims.exp * 1000)} (UTC)]. ` +
      `Current server time is [${dotnetTime(now)} (UTC)]. Please refresh the AAD token.`);
  }
  if (!acceptedAudiences().includes(claims.aud)) {
    return refuse('audience', 401, `Provided AAD token is intended for [${claims.aud}]. This database account accepts ` +
      `tokens intended for [${acceptedAudiences().join(', ')}].`, 5008);
  }
  return null;
}
/** Management operations that Cosmos's data-plane RBAC never covers (how-to-setup-rbac). */
function isControlPlane(ctx) {
  const s = ctx.segments;
  const m = ctx.method;
  if (s[0] === 'offers') return true;                                     // throughput
  if (s[0] !== 'dbs') return false;
  if (s.length === 1) return m === 'POST';                                // create database
  if (s.length === 2) return m !== 'GET';                                 // replace/delete database
  if (s.length === 3 && s[2] === 'colls') return m === 'POST';           // create container
  if (s.length === 4 && s[2] === 'colls') return m !== 'GET';            // replace/delete container
  if (s.length >= 5 && ['udfs', 'triggers'].includes(s[4])) return true;  // create/read/replace/delete
  if (s.length >= 5 && s[4] === 'sprocs') return !(s.length === 6 && m === 'POST'); // all but execute
  return false;
}

/** The body App Service's identity endpoint uses for its own errors. */
const msiError = (status, message) => control(status, { StatusCode: status, Message: message,
  CorrelationId: crypto.randomUUID() });
/**
 * GET /__rig/msi/token: App Service's managed-identity endpoint (IDENTITY_ENDPOINT, api-version
 * 2019-08-01, header X-IDENTITY-HEADER), and its predecessor (MSI_ENDPOINT, 2017-09-01, header
 * `secret`), which App Service still serves at the same address.
 */
async function msiToken(ctx, query) {
  state.stats.identityRequests += 1;
  const f = state.msi.fail;
  if (f && f.count > 0) {
    f.count -= 1;
    if (f.count === 0) state.msi.fail = null;
    state.stats.identityFaults += 1;
    if (f.mode === 'drop') return 'drop';
    if (f.mode === 'delay') await sleep(f.delayMs);
    else return msiError(f.status, `Injected fault (cosmos-rig identity endpoint, status ${f.status}).`);
  }
  const refused = (r) => { state.stats.identityRefused += 1; return r; };
  const version = query.get('api-version');
  if (!version) {
    return refused(control(400, { error: { code: 'ApiVersionUnspecified',
      message: 'An API version is required, but was not specified.', innerError: null } }));
  }
  if (version !== '2019-08-01' && version !== '2017-09-01') {
    return refused(control(400, { error: { code: 'UnsupportedApiVersion', message: 'The HTTP resource that matches ' +
      `the request URI 'http://localhost:8081${ctx.req.url}' does not support the API version '${version}'.`, innerError: null } }));
  }
  const v2017 = version === '2017-09-01';
  const secretHeader = v2017 ? 'secret' : 'x-identity-header';
  if (ctx.req.headers[secretHeader] !== opts.identityHeader) {
    return refused(msiError(400, `The request has no valid ${v2017 ? 'secret' : 'X-IDENTITY-HEADER'} header ` +
      `(cosmos-rig wording; the ${v2017 ? 'MSI_SECRET' : 'IDENTITY_HEADER'} value).`));
  }
  const resource = query.get('resource');
  if (!resource) return refused(msiError(400, "Required query parameter 'resource' is missing (cosmos-rig wording)."));
  if (!/^https?:\/\/[^\s/?#]+(\/[^\s]*)?$/.test(resource)) {
    return refused(msiError(400, `AADSTS500011: The resource principal named ${resource} was not found in the ` +
      `tenant named ${TENANT_ID}. This can happen if the application has not been installed by the administrator ` +
      'of the tenant or consented to by any user in the tenant.'));
  }
  const ids = v2017 ? { clientid: query.get('clientid') }
    : { client_id: query.get('client_id'), mi_res_id: query.get('mi_res_id'),
      object_id: query.get('object_id'), principal_id: query.get('principal_id') };
  const given = Object.entries(ids).filter(([, x]) => x !== null);
  if (given.length > 1) {
    return refused(msiError(400, `Only one of ${Object.keys(ids).join(', ')} may be given (cosmos-rig wording).`));
  }
  let known;
  if (given.length === 0) known = identity.type === 'SystemAssigned';   // no id: the system-assigned one
  else {
    const [name, x] = given[0];
    const want = { clientid: identity.clientId, client_id: identity.clientId, mi_res_id: identity.resourceId,
      object_id: identity.objectId, principal_id: identity.objectId }[name];
    known = x.toLowerCase() === want.toLowerCase();
  }
  if (!known) return refused(msiError(400, 'No MSI found for specified ClientId/ResourceId.'));
  const expiresOn = Math.floor(Date.now() / 1000) + state.msi.ttlSeconds;
  state.stats.tokensIssued += 1;
  const token = mintToken(resource, expiresOn);
  if (v2017) {   // expires_on as the Linux workers print it: "06/20/2019 02:57:58 +00:00"
    const d = new Date(expiresOn * 1000);
    const p2 = (n) => String(n).padStart(2, '0');
    return control(200, { access_token: token, token_type: 'Bearer', resource,
      expires_on: `${p2(d.getUTCMonth() + 1)}/${p2(d.getUTCDate())}/${d.getUTCFullYear()} ` +
        `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} +00:00` });
  }
  return control(200, { access_token: token, expires_on: String(expiresOn), resource, token_type: 'Bearer',
    client_id: identity.clientId });
}

// ==== Authentication (cosmos-rest.md section 1) =======================================
/** resourceType/resourceLink from the percent-DECODED path segments (cosmos-rest.md 1.2). */
function resourceOf(segments) {
  if (segments.length === 0) return { type: '', link: '' };                 // GET /
  if (segments.length % 2 === 1) {                                          // a feed: /dbs, /dbs/x/colls, .../docs
    return { type: segments[segments.length - 1], link: segments.slice(0, -1).join('/') };
  }
  return { type: segments[segments.length - 2], link: segments.join('/') }; // one resource
}
function stringToSign(verb, type, link, date) {
  return `${verb.toLowerCase()}\n${type.toLowerCase()}\n${link}\n${date.toLowerCase()}\n\n`;
}
const RFC1123 = /^(mon|tue|wed|thu|fri|sat|sun), \d{2} (jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec) \d{4} \d{2}:\d{2}:\d{2} gmt$/i;

function checkAuth(ctx) {
  const h = ctx.req.headers;
  if (!h.authorization) {
    return fail(401, 'Required Header authorization is missing. Ensure a valid Authorization token is passed.');
  }
  const date = h['x-ms-date'];
  if (!date) return fail(401, 'Authorization token mandates Date header. Please pass in RFC 1123 style date format.');
  const when = Date.parse(date);
  if (!RFC1123.test(date) || Number.isNaN(when)) {
    return fail(401, 'The input date header is invalid format. Please pass in RFC 1123 style date format.');
  }
  if (Math.abs(Date.now() - when) > CLOCK_SKEW_MS) {
    return fail(403, `The authorization token is not valid at the current time. Please create another token and retry (token start time: ${date}, current server time: ${new Date().toUTCString()}).`);
  }
  // Percent-decode, then split on '&' and on the FIRST '=' (URLSearchParams would turn '+' into ' ').
  let decoded;
  try { decoded = decodeURIComponent(h.authorization); } catch (e) { decoded = ''; }
  const parts = {};
  decoded.split('&').forEach((kv) => {
    const i = kv.indexOf('=');
    if (i > 0) parts[kv.slice(0, i).trim().toLowerCase()] = kv.slice(i + 1);
  });
  if (parts.type === 'master' && parts.sig) {
    const sts = stringToSign(ctx.method, ctx.resource.type, ctx.resource.link, date);
    const expected = crypto.createHmac('sha256', KEY).update(sts, 'utf8').digest('base64');
    if (parts.ver !== '1.0' || parts.sig !== expected) {
      return fail(401, "The input authorization token can't serve the request. The wrong key is being used or the expected payload is not built as per the protocol. For more info: https://aka.ms/cosmosdb-tsg-mac-signature. " +
        `Server used the following payload to sign: '${sts.replace(/\n/g, '\\n')}'`);
    }
  } else if (parts.type === 'aad' && parts.sig) {
    const bad = checkAadToken(parts.sig);
    if (bad) return bad;
  } else {
    return fail(401, 'The authorization header is malformed; expected type=master|aad&ver=1.0&sig=<signature>.');
  }
  if (!h['x-ms-version']) return fail(400, 'Required Header x-ms-version is missing.');
  if (parts.type === 'aad' && isControlPlane(ctx)) {
    state.stats.aadRefused.controlPlane += 1;
    return fail(403, `Request blocked by Auth ${ACCOUNT_NAME} : The given request [${ctx.method} ${ctx.rawPath}] cannot ` +
      'be authorized by AAD token in data plane. Learn more: https://aka.ms/cosmos-native-rbac.', { 'x-ms-substatus': '5300' });
  }
  return null;
}

// ==== Forwarding to the library's own request listener ================================
let libListener = null;

/** Runs the request through the library with a buffered fake req and a capturing res. */
function forward(ctx, extraHeaders = {}) {
  return new Promise((resolve) => {
    const req = Object.assign(new PassThrough(), { method: ctx.method, url: ctx.req.url,
      headers: { ...ctx.req.headers, ...extraHeaders } });
    req.end(ctx.body);
    const headers = {};
    const res = {
      statusCode: 200, finished: false,
      setHeader(n, v) { headers[n.toLowerCase()] = v; },
      getHeader(n) { return headers[n.toLowerCase()]; },
      end(data) {
        this.finished = true;
        let body = data ? JSON.parse(String(data)) : undefined;
        delete headers.connection;
        delete headers['content-type'];
        if (headers['content-location']) headers['content-location'] = String(headers['content-location']).replace(/^https:/, 'http:');
        if (this.statusCode >= 400 && isObject(body)) {   // library errors often lack code/message
          body = { code: body.code || REASONS[this.statusCode] || 'Error',
            message: body.message || (this.statusCode === 404 ? 'Resource Not Found' : REASONS[this.statusCode] || 'Error') };
        }
        resolve({ status: this.statusCode, headers, body });
      },
    };
    libListener(req, res);
  });
}

// ==== Session tokens and lagging replicas (README "Session tokens and replica lag") =====
const SESSION_RANGE = '0';                                   // tokens name range "0", even after splits
const sessionToken = (lsn) => `${SESSION_RANGE}:-1#${lsn}`; // <range>:<version>#<global LSN>
/**
 * The LSN an x-ms-session-token asks for on this container's range: null when absent (or
 * only about other ranges), else the highest LSN of range "0". Takes compound tokens
 * ("0:-1#5,1:-1#7"), vector tokens ("-1#5", "1#5#1=3") and simple ones ("5").
 */
function parseSessionToken(raw) {
  if (raw === undefined || raw.trim() === '') return { lsn: null };
  let lsn = null;
  for (const part of raw.split(',')) {
    const seg = part.trim();
    const i = seg.indexOf(':');
    const tok = i > 0 ? seg.slice(i + 1) : '';
    const m = /^(?:(\d+)|-?\d+#(\d+)(?:#\d+=\d+)*)$/.exec(tok);
    if (!m) return { error: fail(400, `The session token provided '${raw}' is invalid.`, { 'x-ms-substatus': '1001' }) };
    if (seg.slice(0, i) === SESSION_RANGE) lsn = Math.max(lsn === null ? 0 : lsn, Number(m[1] || m[2]));
  }
  return { lsn };
}
/** The LSN the lagging replicas have applied: all writes older than the lag. */
function replicaLsn(docs, latest) {
  const h = docs.rigHist || [];
  const cutoff = Date.now() - state.replicaLagMs;
  for (let i = 0; i < h.length; i += 1) if (h[i].time > cutoff) return h[i].lsn - 1;
  return latest;
}
/**
 * Where a read is served: {lsn, stale} or {error}. A session token ahead of every write is
 * 404/1002. With lag on, a read goes to a replica: one that has reached the token's LSN if a
 * token is given (so a client always reads its own writes), else any, which may lag.
 */
function readPosition(ctx, docs) {
  const latest = docs.rigLsn || 0;
  const t = parseSessionToken(ctx.req.headers['x-ms-session-token']);
  if (t.error) return t;
  if (t.lsn !== null && t.lsn > latest) {
    state.stats.sessionNotAvailable += 1;
    return { error: fail(404, 'The read session is not available for the input session token.',
      { 'x-ms-substatus': '1002', 'x-ms-session-token': sessionToken(latest) }) };
  }
  if (state.replicaLagMs <= 0) return { lsn: latest, stale: false };
  const lsn = Math.min(latest, Math.max(replicaLsn(docs, latest), t.lsn === null ? 0 : t.lsn));
  if (lsn < latest) state.stats.staleReads += 1;
  return { lsn, stale: lsn < latest };
}
/** First history index whose LSN is after `lsn`. */
function histFrom(h, lsn) {
  let lo = 0;
  let hi = h.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (h[mid].lsn > lsn) hi = mid; else lo = mid + 1; }
  return lo;
}
/** The versions, as of LSN `lsn`, of the documents written since (key -> doc or null). */
function versionsAt(docs, lsn) {
  const h = docs.rigHist || [];
  const out = new Map();
  for (let i = histFrom(h, lsn); i < h.length; i += 1) if (!out.has(h[i].key)) out.set(h[i].key, h[i].before);
  return out;
}
/** `items` (the current documents in scope) as a replica at `lsn` has them. */
function snapshot(docs, items, lsn, inScope) {
  const old = versionsAt(docs, lsn);
  if (old.size === 0) return items;
  const out = items.filter((d) => !old.has(docKey(docs, d)));
  old.forEach((d) => { if (d && inScope(d)) out.push(d); });
  return out;
}

// ==== Document handlers ===============================================================
/** Queries (and the plain read feed): partition-scoped, paged, continuation validated. */
function runQuery(ctx, coll, spec, { requireScope }) {
  const h = ctx.req.headers;
  const pk = readPkHeader(ctx, coll);
  if (pk && pk.error) return pk.error;
  if (requireScope && !pk && !isTrue(h['x-ms-documentdb-query-enablecrosspartition']) && pkPaths(coll)) {
    return fail(400, 'Cross partition query is required but disabled. Please set x-ms-documentdb-query-enablecrosspartition to true, specify x-ms-documentdb-partitionkey, or revise your query to avoid this exception.');
  }
  if (!isObject(spec) || typeof spec.query !== 'string' || !spec.query.trim()) return fail(400, 'The query body must be {"query": "...", "parameters": [...]}.');
  if (spec.parameters !== undefined && !(Array.isArray(spec.parameters) &&
      spec.parameters.every((p) => isObject(p) && typeof p.name === 'string' && p.name.startsWith('@')))) {
    return fail(400, 'Query parameters must be an array of {"name": "@x", "value": ...}.');
  }
  const maxItemCount = readPageSize(ctx);
  if (maxItemCount === null) return fail(400, 'Invalid x-ms-max-item-count header.');
  const continuation = readContinuation(h['x-ms-continuation']);
  if (continuation === null) return fail(400, 'Invalid continuation token: echo x-ms-continuation verbatim.');

  const range = readRangeHeader(ctx, coll);
  if (range && range.error) return range.error;
  const inRange = range && range.inRange;

  const docs = rigMaps(coll.documents);
  let items = pk && pk.values && pkPaths(coll) ? docs._data.partition(pk.values)
    : [...docs._data.values()].map((i) => i.read());
  if (pk && pk.values) items = items.filter((d) => samePk(docPk(coll, d), pk.values));
  if (inRange) items = items.filter(inRange);
  if (ctx.pos && ctx.pos.stale) {
    items = snapshot(docs, items, ctx.pos.lsn,
      (d) => (!pk || !pk.values || samePk(docPk(coll, d), pk.values)) && (!inRange || inRange(d)));
  }
  let result;
  try {
    result = docs._getQuery(spec.query).exec(items, { parameters: spec.parameters, udf: docs._userDefinedFunctions(),
      maxItemCount, continuation, compositeIndexes: (coll.read().indexingPolicy || {}).compositeIndexes || [] });
  } catch (e) {
    return fail(400, `Syntax error or unsupported query: ${e.message}`);
  }
  const headers = { 'x-ms-item-count': String(result.result.length) };
  if (result.continuation) headers['x-ms-continuation'] = JSON.stringify(result.continuation);
  return { status: 200, headers, charge: 2.5 + 0.1 * result.result.length,
    body: { _rid: coll.read()._rid, Documents: result.result, _count: result.result.length } };
}

/** Latest-version change feed: docs with _lsn after If-None-Match, ordered by _lsn. */
function changeFeed(ctx, coll) {
  const h = ctx.req.headers;
  if (String(h['a-im']).toLowerCase() !== 'incremental feed') {
    return fail(400, `A-IM '${h['a-im']}' is not supported by cosmos-rig (only "Incremental feed").`);
  }
  const docs = rigMaps(coll.documents);
  const current = ctx.pos ? ctx.pos.lsn : (docs.rigLsn || 0);   // what the serving replica has
  let after = 0;                                       // no If-None-Match: from the beginning
  let since = null;
  const inm = h['if-none-match'];
  if (inm !== undefined && inm.trim() === '*') {
    after = current;                                   // "*": only changes from now on
  } else if (inm !== undefined) {
    const m = /^"?(\d+)"?$/.exec(inm.trim());          // "<lsn>": changes after that lsn
    if (!m) return fail(400, `Invalid If-None-Match '${inm}' for the change feed: use the etag returned by the feed.`);
    after = Number(m[1]);
  } else if (h['if-modified-since'] !== undefined) {
    since = Date.parse(h['if-modified-since']);
    if (Number.isNaN(since)) return fail(400, 'Invalid If-Modified-Since header.');
  }
  const pk = readPkHeader(ctx, coll);
  if (pk && pk.error) return pk.error;
  const max = readPageSize(ctx);
  if (max === null) return fail(400, 'Invalid x-ms-max-item-count header.');
  const range = readRangeHeader(ctx, coll);    // one partition key range: its EPK interval
  if (range && range.error) return range.error;
  const inRange = range && range.inRange;

  const inScope = (d) => (!pk || !pk.values || samePk(docPk(coll, d), pk.values)) && (!inRange || inRange(d));
  const keep = (d) => (since === null || d._ts * 1000 >= since) && inScope(d);
  let changed;
  if (ctx.pos && ctx.pos.stale) {      // a lagging replica: its versions, in LSN order
    const all = snapshot(docs, [...docs._data.values()].map((i) => i.read()), ctx.pos.lsn, inScope);
    const sorted = all.filter((d) => typeof d._lsn === 'number' && d._lsn > after && keep(d)).sort((a, b) => a._lsn - b._lsn);
    changed = [];
    for (const d of sorted) {
      if (max !== undefined && changed.length >= max && d._lsn !== changed[changed.length - 1]._lsn) break;
      changed.push(d);
    }
  } else changed = docs._data.changedAfter(after, max, keep);
  if (changed.length === 0) {
    // Nothing new: 304, same etag (advanced to the container's LSN if other partitions moved on).
    return { status: 304, headers: { etag: `"${Math.max(after, current)}"` }, charge: 1 };
  }
  let n = max === undefined ? changed.length : Math.min(max, changed.length);
  while (n < changed.length && changed[n]._lsn === changed[n - 1]._lsn) n += 1; // keep a batch together
  const page = changed.slice(0, n);
  return { status: 200, charge: 1 + 0.1 * n,
    headers: { etag: `"${page[n - 1]._lsn}"`, 'x-ms-item-count': String(n) },
    body: { _rid: coll.read()._rid, Documents: page, _count: n } };
}

/** Create or upsert: id/size rules, pk header required and equal to the body's value. */
function createDoc(ctx, coll) {
  const bad = validateDoc(ctx.json);
  if (bad) return bad;
  const pk = requirePk(ctx, coll);
  if (pk.error) return pk.error;
  if (pk.values && !samePk(docPk(coll, ctx.json), pk.values)) return pkMismatch();
  return forward(ctx, { 'x-ms-documentdb-partitionkey': pk.raw });
}

/** GET/PUT/PATCH/DELETE on one document: 400 without pk, 404 for missing or other pk. */
function pointOp(ctx, coll, id) {
  const pk = requirePk(ctx, coll);
  if (pk.error) return pk.error;
  let doc = findDoc(coll, id, pk);
  if (ctx.method === 'GET' && ctx.pos && ctx.pos.stale) {   // a lagging replica's version
    const docs = rigMaps(coll.documents);
    const key = `${pk.values ? pk.values.map(pkCanon).join('\u0001') : ''}\u0002${id}`;
    const old = versionsAt(docs, ctx.pos.lsn);
    if (old.has(key)) {
      doc = old.get(key);
      if (!doc) return fail(404, 'Entity with the specified id does not exist in the system.');
      if (ctx.req.headers['if-none-match'] === doc._etag) return { status: 304, headers: { etag: doc._etag }, charge: 1 };
      return { status: 200, headers: { etag: doc._etag }, body: doc, charge: 1 };
    }
  }
  if (!doc) return fail(404, 'Entity with the specified id does not exist in the system.');
  const extra = { 'x-ms-documentdb-partitionkey': pk.raw };
  if (ctx.method === 'GET') {
    if (ctx.req.headers['if-none-match'] === doc._etag) return { status: 304, headers: { etag: doc._etag }, charge: 1 };
    extra['x-ms-documentdb-query-enablecrosspartition'] = 'true'; // skips the library's buggy pk check
  } else if (ctx.method === 'PUT') {
    const bad = validateDoc(ctx.json);
    if (bad) return bad;
    if (ctx.json.id !== id) return fail(400, `The id in the body ('${ctx.json.id}') does not match the id in the URL ('${id}').`);
    if (pk.values && !samePk(docPk(coll, ctx.json), pk.values)) return pkMismatch();
  } // PATCH (body shape checked by the library) and DELETE need nothing more
  return forward(ctx, extra);
}

/** One batch operation through the library's operation functions. */
function runBatchOp(coll, op, pk) {
  const id = op.id !== undefined ? op.id : (op.resourceBody || {}).id;
  const body = op.resourceBody;
  if (['Create', 'Upsert', 'Replace'].includes(op.operationType)) {
    const bad = validateDoc(body);
    if (bad) return { statusCode: bad.status, body: bad.body };
  }
  if (['Read', 'Replace', 'Delete', 'Patch'].includes(op.operationType) && !findDoc(coll, id, pk)) {
    return { statusCode: 404, body: { code: 'NotFound', message: 'Entity with the specified id does not exist in the system.' } };
  }
  const base = { partitionKey: pk.raw, ifMatch: op.ifMatch };
  switch (op.operationType) {
    case 'Create': return docOps.createOperation(coll, { resourceBody: body });
    case 'Upsert': return docOps.upsertOperation(coll, { ...base, resourceBody: body });
    case 'Read': return docOps.readOperation(coll, { ...base, id });
    case 'Delete': return docOps.deleteOperation(coll, { ...base, id });
    case 'Replace':
      if (body.id !== id) return { statusCode: 400, body: { code: 'BadRequest', message: 'id and resourceBody.id differ' } };
      return docOps.replaceOperation(coll, { ...base, resourceBody: body });
    default: { // Patch: resourceBody is {operations, condition?} (or a bare array)
      const operations = Array.isArray(body) ? body : (body || {}).operations;
      if (!Array.isArray(operations)) return { statusCode: 400, body: { code: 'BadRequest', message: 'Patch needs resourceBody.operations' } };
      return patchOperation(coll, { ...base, id, operations, condition: Array.isArray(body) ? undefined : body.condition });
    }
  }
}

/** Transactional batch: validate everything, run ops, roll back atomically on failure. */
function batch(ctx, coll) {
  const h = ctx.req.headers;
  const atomic = isTrue(h['x-ms-cosmos-batch-atomic']);
  const continueOnError = !atomic && isTrue(h['x-ms-cosmos-batch-continue-on-error']);
  if (ctx.body.length > MAX_BATCH_BYTES) return fail(413, 'Request size is too large.');
  const ops = ctx.json;
  if (!Array.isArray(ops) || ops.length === 0) return fail(400, 'A batch body must be a non-empty JSON array of operations.');
  if (ops.length > MAX_BATCH_OPS) return fail(400, `Batch request has more operations than what is supported (${MAX_BATCH_OPS}).`);
  const pk = requirePk(ctx, coll);
  if (pk.error) return pk.error;
  for (let i = 0; i < ops.length; i += 1) {      // whole-request validation before any write
    const op = ops[i];
    if (!isObject(op) || !['Create', 'Upsert', 'Read', 'Replace', 'Delete', 'Patch'].includes(op.operationType)) {
      return fail(400, `Operation type '${isObject(op) ? op.operationType : op}' is not supported in Batch (operation ${i}).`);
    }
    if (op.partitionKey !== undefined) {
      let v;
      try { v = typeof op.partitionKey === 'string' ? JSON.parse(op.partitionKey) : op.partitionKey; } catch (e) { v = undefined; }
      if (!Array.isArray(v) || (pk.values && !samePk(v, pk.values))) {
        return fail(400, `Operation ${i}: all operations in a batch must target the partition key of the request header.`);
      }
    }
    if (['Create', 'Upsert', 'Replace'].includes(op.operationType) && isObject(op.resourceBody) &&
        pk.values && !samePk(docPk(coll, op.resourceBody), pk.values)) {
      return fail(400, `Operation ${i}: the document's partition key does not match the request header.`, { 'x-ms-substatus': '1001' });
    }
    const id = op.id !== undefined ? op.id : (op.resourceBody || {}).id;
    if (typeof id !== 'string' && op.operationType !== 'Create' && op.operationType !== 'Upsert') {
      return fail(400, `Operation ${i}: missing id.`);
    }
  }

  const docs = rigMaps(coll.documents);
  const ridCount = docs._ridCount;
  const histLen = docs.rigHist ? docs.rigHist.length : 0;
  docs._data.begin();
  docs._index.begin();
  docs.rigBatchLsn = (docs.rigLsn || 0) + 1;
  docs.rigBatchWrote = false;
  const results = [];
  let failed = -1;
  try {
    ops.forEach((op, i) => {
      if (failed >= 0 && !continueOnError) { results.push({ statusCode: 424, requestCharge: 0 }); return; }
      let r;
      try { r = runBatchOp(coll, op, pk); } catch (e) { r = { statusCode: 400, body: { message: e.message } }; }
      if (r.statusCode >= 400) {
        results.push({ statusCode: r.statusCode, requestCharge: 1, subStatusCode: 0 });
        if (failed < 0) failed = i;
      } else {
        const out = { statusCode: r.statusCode, requestCharge: op.operationType === 'Read' ? 1 : 5 };
        if (r.body && r.body._etag) { out.eTag = r.body._etag; out.resourceBody = r.body; }
        results.push(out);
      }
    });
  } finally {
    if (atomic && failed >= 0) {                    // roll back what the batch changed
      docs._data.rollback();
      docs._index.rollback();
      docs._ridCount = ridCount;
      if (docs.rigHist) docs.rigHist.length = histLen;   // its writes never happened
    } else {
      docs._data.commit();
      docs._index.commit();
      if (docs.rigBatchWrote) docs.rigLsn = docs.rigBatchLsn; // the batch's writes share one LSN
    }
    docs.rigBatchLsn = 0;
  }
  const final = atomic && failed >= 0
    ? results.map((r, i) => (i === failed ? r : { statusCode: 424, requestCharge: 0 }))
    : results;
  return { status: failed >= 0 ? 207 : 200, headers: {}, body: final,
    charge: final.reduce((s, r) => s + r.requestCharge, 0) || 1 };
}

/** What a request on .../docs does, for the stats' byKind ("events batch", "views replace"). */
function kindOf(ctx, isQuery) {
  const h = ctx.req.headers;
  if (ctx.segments.length === 6) {
    return { GET: 'read', PUT: 'replace', DELETE: 'delete', PATCH: 'patch' }[ctx.method] || ctx.method;
  }
  if (ctx.method === 'GET') return h['a-im'] !== undefined ? 'feed' : 'read feed';
  if (isQuery) return 'query';
  if (isTrue(h['x-ms-documentdb-is-upsert'])) return 'upsert';
  if (isTrue(h['x-ms-cosmos-is-batch-request'])) return 'batch';
  return ctx.method === 'POST' ? 'create' : ctx.method;
}

/** A request on .../docs or .../docs/{id}. */
function docsOp(ctx, coll, isQuery) {
  const s = ctx.segments;
  const h = ctx.req.headers;
  if (s.length === 6) return pointOp(ctx, coll, s[5]);
  if (ctx.method === 'GET') {
    return h['a-im'] !== undefined ? changeFeed(ctx, coll)
      : runQuery(ctx, coll, { query: 'SELECT * FROM c' }, { requireScope: false });
  }
  if (isQuery) return runQuery(ctx, coll, ctx.json, { requireScope: true });
  if (ctx.method === 'POST') {
    if (isTrue(h['x-ms-documentdb-is-upsert'])) return createDoc(ctx, coll);
    if (isTrue(h['x-ms-cosmos-is-batch-request'])) return batch(ctx, coll);
    return createDoc(ctx, coll);
  }
  return forward(ctx);
}

/** Routes an authenticated, fault-free request. */
async function execute(ctx) {
  if (['POST', 'PUT', 'PATCH'].includes(ctx.method)) {
    try { ctx.json = JSON.parse(ctx.body.toString('utf8')); } catch (e) {
      return fail(400, 'The request payload is invalid. Ensure to provide a valid request payload.');
    }
  }
  const s = ctx.segments;
  if (s.length >= 5 && s.length <= 6 && s[0] === 'dbs' && s[2] === 'colls' && s[4] === 'docs') {
    const coll = getCollection(s[1], s[3]);
    if (!coll) return fail(404, 'Owner resource does not exist.', { 'x-ms-substatus': '1003' });
    const docs = rigMaps(coll.documents);
    const h = ctx.req.headers;
    const isQuery = ctx.method === 'POST' &&
      (isTrue(h['x-ms-documentdb-isquery']) || String(h['content-type']).startsWith('application/query+json'));
    if (ctx.method === 'GET' || isQuery) {   // reads: served by a replica (batches: the primary)
      ctx.pos = readPosition(ctx, docs);
      if (ctx.pos.error) return ctx.pos.error;
    }
    ctx.kind = `${s[3]} ${kindOf(ctx, isQuery)}`;
    const result = await docsOp(ctx, coll, isQuery);
    // Every reply says how far the replica that served it has come (writes: the primary).
    result.headers = { 'x-ms-session-token': sessionToken(ctx.pos ? ctx.pos.lsn : (docs.rigLsn || 0)),
      ...result.headers };
    return result;
  }
  if (s.length === 5 && s[0] === 'dbs' && s[2] === 'colls' && s[4] === 'pkranges' && ctx.method === 'GET') {
    const coll = getCollection(s[1], s[3]);
    if (!coll) return fail(404, 'Owner resource does not exist.', { 'x-ms-substatus': '1003' });
    ctx.kind = `${s[3]} pkranges`;
    return readRanges(ctx, coll);
  }
  return forward(ctx);   // databases, containers, udfs, GET /
}

// ==== Fault rules =====================================================================
const RULE_KEYS = ['method', 'path', 'header', 'count', 'mode', 'status', 'retryAfterMs', 'subStatus', 'delayMs'];
function normalizeRule(r, i) {
  const bad = (m) => { throw new Error(`rule ${i}: ${m}`); };
  if (!isObject(r)) bad('must be an object');
  Object.keys(r).forEach((k) => { if (!RULE_KEYS.includes(k)) bad(`unknown field '${k}'`); });
  const rule = { ...r, mode: r.mode === undefined ? 'respond' : r.mode, count: r.count === undefined ? 1 : r.count };
  if (!['respond', 'drop', 'afterForward', 'delay'].includes(rule.mode)) bad(`unknown mode '${rule.mode}'`);
  if (rule.method !== undefined && typeof rule.method !== 'string') bad('method must be a string');
  if (rule.path !== undefined) {
    try { Object.defineProperty(rule, 're', { value: new RegExp(rule.path) }); } catch (e) { bad(`bad path regex: ${e.message}`); }
  }
  if (rule.header !== undefined && !(isObject(rule.header) && Object.values(rule.header).every((v) => typeof v === 'string'))) {
    bad('header must be an object of strings');
  }
  if (!Number.isInteger(rule.count) || rule.count < 1) bad('count must be a positive integer');
  if (rule.status !== undefined && !(Number.isInteger(rule.status) && (rule.status === 0 ||
      (rule.status >= 200 && rule.status <= 599)))) bad('status must be 200..599 (0 = default)');
  ['retryAfterMs', 'subStatus', 'delayMs'].forEach((k) => {
    if (rule[k] !== undefined && !(Number.isInteger(rule[k]) && rule[k] >= 0)) bad(`${k} must be a non-negative integer`);
  });
  if (rule.mode === 'delay' && rule.delayMs === undefined) bad('delay mode needs delayMs');
  return rule;
}
/** First matching rule; its count is decremented and it is removed at 0. */
function takeRule(ctx) {
  const i = state.rules.findIndex((r) => (!r.method || r.method.toUpperCase() === ctx.method) &&
    (!r.re || r.re.test(ctx.rawPath)) &&
    Object.entries(r.header || {}).every(([k, v]) => ctx.req.headers[k.toLowerCase()] === v));
  if (i < 0) return null;
  const rule = state.rules[i];
  rule.count -= 1;
  if (rule.count <= 0) state.rules.splice(i, 1);
  state.stats.faultsFired += 1;
  const kind = rule.mode === 'respond' || rule.mode === 'afterForward'
    ? `${rule.mode} ${rule.status || 503}` : rule.mode;   // e.g. "respond 429", "drop"
  state.stats.faultsByKind[kind] = (state.stats.faultsByKind[kind] || 0) + 1;
  return rule;
}
function faultReply(rule) {
  const status = rule.status || 503;
  const headers = {
    ...(rule.retryAfterMs !== undefined ? { 'x-ms-retry-after-ms': String(rule.retryAfterMs) } : {}),
    ...(rule.subStatus !== undefined ? { 'x-ms-substatus': String(rule.subStatus) } : {}) };
  const msg = status === 429
    ? 'Request rate is large. More Request Units may be needed, so no changes were made. Please retry this request later. (cosmos-rig fault)'
    : `Injected fault (cosmos-rig, mode ${rule.mode}).`;
  return { ...fail(status, msg, headers), charge: 1 };
}

// ==== HTTP plumbing ===================================================================
function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => { size += c.length; if (size <= MAX_BODY_BYTES) chunks.push(c); });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? null : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
function record(ctx, status, fault, charge = 0) {
  const st = state.stats;
  const inc = (o, k) => { o[k] = (o[k] || 0) + 1; };
  if (status === null) st.dropped += 1;
  else {
    st.requests += 1;
    st.requestCharge = Math.round((st.requestCharge + charge) * 100) / 100;
    inc(st.byMethod, ctx.method); inc(st.byStatus, status);
    inc(st.byMethodAndStatus, `${ctx.method} ${status}`);
    if (ctx.kind) inc(st.byKind, ctx.kind);
  }
  state.log.push({ time: new Date().toISOString(), method: ctx.method, path: ctx.rawPath, status,
    ms: Date.now() - ctx.started, ...(fault ? { fault } : {}) });
  if (state.log.length > LOG_SIZE) state.log.shift();
}
function send(res, ctx, result, fault) {
  const { status } = result;
  const headers = { ...result.headers };
  let charge = result.charge;
  if (charge === undefined) charge = status >= 400 || ctx.method === 'GET' ? 1 : 5;
  charge = Math.round(charge * 100) / 100;
  if (ctx.record) {                 // Cosmos-style headers (not on /__rig control replies)
    headers['x-ms-activity-id'] = ctx.activityId;
    headers['x-ms-request-charge'] = charge.toFixed(2);
  }
  let payload = '';
  if (status !== 204 && status !== 304 && result.body !== undefined) {
    payload = typeof result.body === 'string' ? result.body : JSON.stringify(result.body);
    if (!headers['content-type']) headers['content-type'] = 'application/json';
  }
  if (status !== 204 && status !== 304) headers['content-length'] = Buffer.byteLength(payload);
  res.writeHead(status, headers);
  res.end(payload);
  if (ctx.record) record(ctx, status, fault, charge);
}
const control = (status, body) => ({ status, headers: {}, body, charge: 0 });

/** The runtime settings of the identity endpoint, as GET/POST /__rig/msi/config show them. */
function msiConfigView() {
  return { ttlSeconds: state.msi.ttlSeconds, tokenBytes: state.msi.tokenBytes, fail: state.msi.fail,
    identity: identity.type === 'UserAssigned' || opts.identityHeader ? identity : null,
    tenantId: TENANT_ID, audiences: acceptedAudiences() };
}
/** Applies {ttlSeconds?, tokenBytes?, fail?} to the identity endpoint; throws on a bad field. */
function setMsiConfig(body) {
  if (!isObject(body)) throw new Error('body must be a JSON object');
  Object.keys(body).forEach((k) => { if (!['ttlSeconds', 'tokenBytes', 'fail'].includes(k)) throw new Error(`unknown field '${k}'`); });
  const next = { ...state.msi };
  if (body.ttlSeconds !== undefined) {
    if (body.ttlSeconds === null) next.ttlSeconds = opts.tokenTtl;
    else if (Number.isInteger(body.ttlSeconds) && body.ttlSeconds >= 0) next.ttlSeconds = body.ttlSeconds;
    else throw new Error('ttlSeconds must be a non-negative integer, or null for --token-ttl');
  }
  if (body.tokenBytes !== undefined) {
    const n = body.tokenBytes === null ? opts.tokenBytes : body.tokenBytes;
    if (!Number.isInteger(n) || n < MIN_TOKEN_BYTES || n > MAX_TOKEN_BYTES) {
      throw new Error(`tokenBytes must be an integer in ${MIN_TOKEN_BYTES}..${MAX_TOKEN_BYTES}, or null for --token-bytes`);
    }
    next.tokenBytes = n;
  }
  if (body.fail !== undefined) {
    const f = body.fail;
    if (f === null) next.fail = null;
    else if (f === 'drop') next.fail = { mode: 'drop', count: 1 };
    else {
      if (!isObject(f)) throw new Error('fail must be null, "drop" or {status|mode, count?, delayMs?}');
      Object.keys(f).forEach((k) => { if (!['status', 'mode', 'count', 'delayMs'].includes(k)) throw new Error(`fail: unknown field '${k}'`); });
      const mode = f.mode === undefined ? 'respond' : f.mode;
      if (!['respond', 'drop', 'delay'].includes(mode)) throw new Error(`fail: unknown mode '${mode}'`);
      const count = f.count === undefined ? 1 : f.count;
      if (!Number.isInteger(count) || count < 1) throw new Error('fail: count must be a positive integer');
      const g = { mode, count };
      if (mode === 'respond') {
        g.status = f.status === undefined ? 500 : f.status;
        if (!Number.isInteger(g.status) || g.status < 400 || g.status > 599) throw new Error('fail: status must be 400..599');
      }
      if (mode === 'delay') {
        if (!Number.isInteger(f.delayMs) || f.delayMs < 0) throw new Error('fail: delay needs delayMs >= 0');
        g.delayMs = f.delayMs;
      }
      next.fail = g;
    }
  }
  state.msi = next;
}
/** The replica settings, as GET/POST /__rig/config show them. */
const configView = () => ({ replicaLagMs: state.replicaLagMs });
function setConfig(body) {
  if (!isObject(body)) throw new Error('body must be a JSON object');
  Object.keys(body).forEach((k) => { if (k !== 'replicaLagMs') throw new Error(`unknown field '${k}'`); });
  if (body.replicaLagMs !== undefined) {
    const v = body.replicaLagMs === null ? opts.replicaLagMs : body.replicaLagMs;
    if (!Number.isInteger(v) || v < 0) throw new Error('replicaLagMs must be a non-negative integer, or null for --replica-lag-ms');
    state.replicaLagMs = v;
  }
}
const jsonBody = (ctx) => JSON.parse(ctx.body.toString('utf8') || 'null');

/** /__rig/* endpoints (no auth, not counted in stats/log). */
async function handleControl(ctx, query) {
  const p = ctx.rawPath.replace(/\/+$/, '');
  const m = ctx.method;
  const bad = (e) => control(400, { code: 'BadRequest', message: e.message });
  if (p === '/__rig/reset' && m === 'POST') {
    state.account.databases = new Databases(state.account, ['/id']);  // LSN/rid counters go with it
    state.rules = [];
    state.replicaLagMs = opts.replicaLagMs;
    state.msi = { ttlSeconds: opts.tokenTtl, tokenBytes: opts.tokenBytes, fail: null };
    resetStats();
    return control(200, { ok: true });
  }
  if (p === '/__rig/faults' && m === 'GET') return control(200, state.rules);
  if (p === '/__rig/faults' && m === 'POST') {
    try {
      const rules = JSON.parse(ctx.body.toString('utf8'));
      if (!Array.isArray(rules)) throw new Error('body must be a JSON array of rules');
      state.rules = rules.map(normalizeRule);
    } catch (e) { return bad(e); }
    return control(200, state.rules);
  }
  if (p === '/__rig/stats' && m === 'GET') return control(200, state.stats);
  if (p === '/__rig/log' && m === 'GET') return control(200, state.log);
  if (p === '/__rig/log/clear' && m === 'POST') { state.log = []; return control(200, { ok: true }); }
  if (p === '/__rig/split' && m === 'POST') {
    try { return control(200, { ranges: splitRange(jsonBody(ctx)) }); } catch (e) { return bad(e); }
  }
  if (p === '/__rig/config' && m === 'GET') return control(200, configView());
  if (p === '/__rig/config' && m === 'POST') {
    try { setConfig(jsonBody(ctx)); } catch (e) { return bad(e); }
    return control(200, configView());
  }
  if (opts.identityHeader && p === '/__rig/msi/token' && m === 'GET') return msiToken(ctx, query);
  if (opts.identityHeader && p === '/__rig/msi/config' && m === 'GET') return control(200, msiConfigView());
  if (opts.identityHeader && p === '/__rig/msi/config' && m === 'POST') {
    try { setMsiConfig(jsonBody(ctx)); } catch (e) { return bad(e); }
    return control(200, msiConfigView());
  }
  return control(404, { code: 'NotFound', message: `No rig endpoint ${m} ${p}` });
}

// Real Cosmos answers requests whose header block exceeds what its HTTP front end takes
// (16 KB, HTTP.sys's default) with this page, before it looks at anything else.
const MAX_HEADER_BYTES = 16384;
const HEADERS_TOO_LARGE = '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN""http://www.w3.org/TR/html4/strict.dtd">\r\n' +
  '<HTML><HEAD><TITLE>Bad Request</TITLE>\r\n<META HTTP-EQUIV="Content-Type" Content="text/html; charset=us-ascii"></HEAD>\r\n' +
  '<BODY><h2>Bad Request - Request Too Long</h2>\r\n<hr><p>HTTP Error 400. The size of the request headers is too long.</p>\r\n</BODY></HTML>\r\n';
/** Bytes of the request line and header block as sent (names, values, ": " and CRLFs). */
function headerBytes(req) {
  let n = req.method.length + req.url.length + 12;
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) n += req.rawHeaders[i].length + req.rawHeaders[i + 1].length + 4;
  return n + 2;
}

async function onRequest(req, res) {
  const q = req.url.indexOf('?');
  const rawPath = q < 0 ? req.url : req.url.slice(0, q);
  const ctx = { req, method: req.method.toUpperCase(), rawPath, started: Date.now(),
    activityId: crypto.randomUUID(), record: false };
  let fault;
  try {
    const body = await readBody(req);
    ctx.body = body || Buffer.alloc(0);
    if (rawPath === '/__rig' || rawPath.startsWith('/__rig/')) {
      const r = await handleControl(ctx, new URLSearchParams(q < 0 ? '' : req.url.slice(q + 1)));
      if (r === 'drop') req.socket.destroy();
      else send(res, ctx, r);
      return;
    }
    ctx.record = true;
    const authz = req.headers.authorization;
    if (authz !== undefined) {
      state.stats.maxAuthorizationBytes = Math.max(state.stats.maxAuthorizationBytes, Buffer.byteLength(authz));
    }
    if (headerBytes(req) > MAX_HEADER_BYTES) {
      state.stats.headersTooLarge += 1;
      send(res, ctx, { status: 400, headers: { 'content-type': 'text/html; charset=us-ascii' }, body: HEADERS_TOO_LARGE, charge: 0 });
      return;
    }
    if (body === null) { send(res, ctx, fail(413, 'Request size is too large.')); return; }
    try {
      ctx.segments = rawPath.split('/').filter((x) => x !== '').map(decodeURIComponent);
    } catch (e) {
      send(res, ctx, fail(400, 'The request URL contains an invalid percent-encoding.'));
      return;
    }
    ctx.resource = resourceOf(ctx.segments);
    let result = checkAuth(ctx);
    if (!result) {
      const rule = takeRule(ctx);
      fault = rule ? rule.mode : undefined;
      if (!rule) result = await execute(ctx);
      else if (rule.mode === 'respond') result = faultReply(rule);
      else if (rule.mode === 'drop') { req.socket.destroy(); record(ctx, null, 'drop'); return; }
      else if (rule.mode === 'delay') { await sleep(rule.delayMs); result = await execute(ctx); }
      else { await execute(ctx); result = faultReply(rule); } // afterForward: applied, reply lost
    }
    send(res, ctx, result, fault);
  } catch (e) {
    process.stderr.write(`cosmos-rig: internal error on ${req.method} ${req.url}: ${e.stack}\n`);
    if (!res.headersSent) send(res, ctx, fail(500, `cosmos-rig internal error: ${e.message}`), fault);
  }
}

// ==== Start ===========================================================================
// Node's own limit (16 KB by default) would answer 431 first; let the 16 KB rule above decide.
const server = lib.createHttpServer({ keepAlive: true, maxHeaderSize: 64 * 1024 });
[libListener] = server.listeners('request');        // the library's single request listener
server.removeAllListeners('request');
server.on('request', (req, res) => { onRequest(req, res); });
server.keepAliveTimeout = 60000;
server.headersTimeout = 65000;
server.on('error', (e) => { process.stderr.write(`cosmos-rig: ${e.message}\n`); process.exit(1); });
server.listen(opts.port, opts.host, () => {
  const { address, port } = server.address();
  const host = address.includes(':') ? `[${address}]` : address;
  state.origin = `http://${host}:${port}`;
  process.stdout.write(`cosmos-rig listening on http://${host}:${port}\n`);
});
const shutdown = () => { server.close(); server.closeAllConnections(); process.exit(0); };
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
