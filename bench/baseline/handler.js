'use strict';
/*
 * handler.js - the benchmark baseline: the write path of the original .NET
 * sample, as a small Azure Functions custom handler on the official Cosmos DB
 * SDK (@azure/cosmos), serving the same routes, bodies and answers as the
 * project's C handler for the commands the benchmark sends.
 *
 * Per command, as the sample did (no cache, no snapshot, no retry):
 *   1. query every event of the stream's partition, in version order, following
 *      continuations page by page (the SDK's default page size, as the sample's
 *      LINQ feed iterator);
 *   2. fold them into the list's state;
 *   3. decide (the same rules as domain/todo_decide.c);
 *   4. append the new events with one transactional batch of creates.
 * A batch that fails on a taken version (someone appended meanwhile) is not
 * retried: the sample threw, and here the client gets 409 "conflict".
 *
 * Data model: the project's (docs/event-store.md). Event documents
 * {id "{streamId}:{version}", kind "event", streamId, version, type, schema,
 * data, meta} in the events container, partition key /streamId.
 *
 * Protocol: POST /{FunctionName} with {"Data": {"req": ...}, "Metadata": ...};
 * the answer is 200 {"Outputs": {"res": {statusCode, headers, body}},
 * "Logs": [], "ReturnValue": null}. GET / answers at once (readiness).
 *
 * Settings (environment, as the C handler reads them): FUNCTIONS_CUSTOMHANDLER_PORT,
 * CosmosDB ("AccountEndpoint=...;AccountKey=...;"), COSMOS_DATABASE (eventsourcing),
 * EVENTS_CONTAINER (events), MAX_BODY_BYTES (1 MiB), MAX_ENVELOPE_BYTES (4 MiB),
 * COSMOS_TLS_VERIFY (true), and BASELINE_QUERY_PAGE_SIZE (unset: the service's
 * default page, 100 events). The SDK runs with its default options.
 */
const http = require('node:http');
const https = require('node:https');
const crypto = require('node:crypto');
const { CosmosClient } = require('@azure/cosmos');

const STATUSES = ['To Do', 'In Progress', 'Done'];
const TEXT_MAX_CHARS = 50;
const MASS_UPDATE_MAX = 50;
const EVENT_SCHEMA = 1;
const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

// ---- settings -------------------------------------------------------------------------

function intSetting(name, dflt) {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  if (!/^[0-9]+$/.test(v)) throw new Error(`invalid setting '${name}': expected an integer`);
  return Number(v);
}

/** "AccountEndpoint=...;AccountKey=...;" (names in any case; the key keeps its '='). */
function parseConnection(s) {
  const out = {};
  for (const part of s.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim().toLowerCase()] = part.slice(eq + 1).trim();
  }
  if (!out.accountendpoint || !out.accountkey) {
    throw new Error("invalid setting 'CosmosDB': expected AccountEndpoint=...;AccountKey=...;");
  }
  return { endpoint: out.accountendpoint, key: out.accountkey };
}

function loadSettings() {
  const port = intSetting('FUNCTIONS_CUSTOMHANDLER_PORT', intSetting('FUNCTIONS_HTTPWORKER_PORT', 0));
  if (port < 1 || port > 65535) throw new Error('FUNCTIONS_CUSTOMHANDLER_PORT is not set');
  if (!process.env.CosmosDB) throw new Error("the baseline needs the 'CosmosDB' connection string");
  const pageSize = intSetting('BASELINE_QUERY_PAGE_SIZE', 0);
  const verify = (process.env.COSMOS_TLS_VERIFY || 'true').toLowerCase();
  if (!['true', '1', 'false', '0'].includes(verify)) {
    throw new Error("invalid setting 'COSMOS_TLS_VERIFY': expected true or false");
  }
  return {
    port,
    cosmos: parseConnection(process.env.CosmosDB),
    database: process.env.COSMOS_DATABASE || 'eventsourcing',
    events: process.env.EVENTS_CONTAINER || 'events',
    maxBodyBytes: intSetting('MAX_BODY_BYTES', 1 << 20),
    maxEnvelopeBytes: intSetting('MAX_ENVELOPE_BYTES', 4 << 20),
    pageSize: pageSize > 0 ? pageSize : undefined,
    tlsVerify: verify === 'true' || verify === '1',
  };
}

// ---- the domain (mirrors domain/todo.c and domain/todo_decide.c) -----------------------

class Refusal {
  constructor(status, code, message) {
    this.status = status;
    this.code = code;
    this.message = message;
  }
}

function newState() {
  return { created: false, deleted: false, name: null, items: new Map() };
}

/** Applies one event; unknown types change nothing. */
function evolve(s, type, data) {
  switch (type) {
    case 'TodoListCreated':
    case 'TodoListRenamed':
      s.created = true;
      s.name = data.name;
      break;
    case 'TodoListDeleted':
      s.deleted = s.created;
      break;
    case 'ItemAdded':
    case 'ItemMovedIn':
    case 'ItemMoveReverted':
      if (!s.items.has(data.itemId)) {
        s.items.set(data.itemId, { id: data.itemId, task: data.task, status: data.status });
      }
      break;
    case 'ItemRemoved':
    case 'ItemMovedOut':
      s.items.delete(data.itemId);
      break;
    case 'TaskRenamed':
      if (s.items.has(data.itemId)) s.items.get(data.itemId).task = data.task;
      break;
    case 'ItemStatusChanged':
      if (s.items.has(data.itemId)) s.items.get(data.itemId).status = data.status;
      break;
    default:
      break;
  }
}

function taskTaken(s, task, exceptId) {
  for (const it of s.items.values()) if (it.task === task && it.id !== exceptId) return true;
  return false;
}

/** (state, command) -> [{type, data}] (empty: nothing to do); throws a Refusal. */
function decide(s, c) {
  if (c.kind === 'create') {
    if (s.created) throw new Refusal(409, 'list_exists', 'the list already exists');
    return [{ type: 'TodoListCreated', data: { name: c.name } }];
  }
  if (!s.created) throw new Refusal(404, 'not_found', 'the list does not exist');
  if (s.deleted) throw new Refusal(410, 'list_deleted', 'the list has been deleted');
  const item = (id) => {
    const it = s.items.get(id);
    if (!it) throw new Refusal(404, 'not_found', `item '${id}' is not in this list`);
    return it;
  };
  const events = [];
  switch (c.kind) {
    case 'rename':
      if (s.name !== c.name) events.push({ type: 'TodoListRenamed', data: { name: c.name } });
      break;
    case 'addItem':
      if (taskTaken(s, c.task)) throw new Refusal(409, 'task_exists', `task '${c.task}' already exists in this list`);
      events.push({ type: 'ItemAdded', data: { itemId: c.itemId, task: c.task, status: 'To Do' } });
      break;
    case 'updateItem': {
      const it = item(c.itemId);
      if (c.task !== undefined && c.task !== it.task) {
        if (taskTaken(s, c.task, it.id)) throw new Refusal(409, 'task_exists', `task '${c.task}' already exists in this list`);
        events.push({ type: 'TaskRenamed', data: { itemId: it.id, task: c.task } });
      }
      if (c.status !== undefined && c.status !== it.status) {
        events.push({ type: 'ItemStatusChanged', data: { itemId: it.id, status: c.status } });
      }
      break;
    }
    case 'setStatuses':
      c.itemIds.forEach(item);
      for (const id of c.itemIds) {
        if (s.items.get(id).status !== c.status) {
          events.push({ type: 'ItemStatusChanged', data: { itemId: id, status: c.status } });
        }
      }
      break;
    default:
      throw new Error(`unknown command '${c.kind}'`);
  }
  return events;
}

// ---- the event store: the sample's algorithm -------------------------------------------

const streamOf = (listId) => `todolist-${listId}`;

/** Every event of the stream, in version order: one query, page after page. */
async function readStream(container, streamId, pageSize) {
  const query = {
    query: "SELECT * FROM c WHERE c.streamId = @s AND c.kind = 'event' ORDER BY c.version",
    parameters: [{ name: '@s', value: streamId }],
  };
  const it = container.items.query(query, { partitionKey: streamId, maxItemCount: pageSize });
  const events = [];
  while (it.hasMoreResults()) {
    const page = await it.fetchNext();
    for (const doc of page.resources) events.push(doc);
  }
  return events;
}

/** One transactional batch of creates; false when a version was taken meanwhile. */
async function append(container, streamId, version, events, meta) {
  const ops = events.map((e, i) => ({
    operationType: 'Create',
    resourceBody: {
      id: `${streamId}:${version + 1 + i}`,
      kind: 'event',
      streamId,
      version: version + 1 + i,
      type: e.type,
      schema: EVENT_SCHEMA,
      data: e.data,
      meta,
    },
  }));
  const r = await container.items.batch(ops, streamId);
  const failed = (r.result || []).find((op) => op.statusCode !== 424 && (op.statusCode < 200 || op.statusCode > 299));
  if (!failed && r.code >= 200 && r.code < 300 && r.code !== 207) return true;
  if (failed && failed.statusCode === 409) return false;
  const err = new Error(`cannot append to stream '${streamId}': batch answered ${r.code}` +
    (failed ? `, an operation ${failed.statusCode}` : ''));
  err.code = failed ? failed.statusCode : r.code;
  throw err;
}

/** Load, fold, decide, append: the answer {status, body, headers}. */
async function runCommand(ctx, listId, cmd, successStatus, extra) {
  const streamId = streamOf(listId);
  const docs = await readStream(ctx.container, streamId, ctx.settings.pageSize);
  const state = newState();
  let version = 0;
  for (const d of docs) {
    evolve(state, d.type, d.data || {});
    version = d.version;
  }
  const events = decide(state, cmd);
  if (events.length === 0) return success(200, listId, version, [], extra);
  const meta = {
    occurredAt: new Date().toISOString(),
    correlationId: ctx.correlationId,
    causationId: null,
  };
  if (!(await append(ctx.container, streamId, version, events, meta))) {
    throw new Refusal(409, 'conflict', 'the list changed while the command ran; nothing was appended');
  }
  return success(successStatus, listId, version + events.length, events, extra);
}

function success(status, listId, version, events, extra) {
  const body = {
    id: listId,
    version,
    events: events.map((e, i) => ({ type: e.type, version: version - events.length + 1 + i })),
    ...extra,
  };
  return { status, body, headers: { ETag: `"${version}"` } };
}

// ---- request checks (the C handler's, in its order: 413, 415, JSON, fields) -----------

function header(req, name) {
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(req.Headers || {})) {
    if (k.toLowerCase() === want) return Array.isArray(v) ? v.join(', ') : String(v);
  }
  return undefined;
}

function isJsonMediaType(ct) {
  const t = String(ct || '').split(';')[0].trim().toLowerCase();
  return t === 'application/json' || (t.startsWith('application/') && t.endsWith('+json'));
}

const invalid = (message) => new Refusal(400, 'invalid_field', message);

/** The request's JSON object body; throws the first refusal that applies. */
function commandBody(req, settings) {
  const raw = req.Body === undefined || req.Body === null ? ''
    : typeof req.Body === 'string' ? req.Body : JSON.stringify(req.Body);
  const bytes = Buffer.byteLength(raw);
  if (bytes > settings.maxBodyBytes) {
    throw new Refusal(413, 'payload_too_large', `the request body is ${bytes} bytes; the limit is ${settings.maxBodyBytes}`);
  }
  if (!isJsonMediaType(header(req, 'Content-Type'))) {
    throw new Refusal(415, 'unsupported_media_type', 'commands take a JSON body (Content-Type: application/json)');
  }
  let body;
  try {
    body = JSON.parse(raw);
  } catch (e) {
    throw new Refusal(400, 'invalid_json', raw === '' ? 'the body is empty; a JSON object is required' : e.message);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new Refusal(400, 'invalid_json', 'the body must be a JSON object');
  }
  return body;
}

function routeId(req, name) {
  const v = (req.Params || {})[name];
  if (typeof v !== 'string' || !ID_RE.test(v)) throw invalid(`'${name}' must be 1 to 64 of A-Z a-z 0-9 _ -`);
  return v;
}

/** A name or task: trimmed, then 1 to 50 code points. undefined when absent and optional. */
function text(body, name, required) {
  const v = body[name];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string') throw invalid(`'${name}' is required and must be a string`);
  const t = v.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
  const chars = [...t].length;
  if (chars < 1 || chars > TEXT_MAX_CHARS) {
    throw invalid(`'${name}' must be 1 to ${TEXT_MAX_CHARS} characters after trimming`);
  }
  return t;
}

function status(body, name, required) {
  const v = body[name];
  if (v === undefined && !required) return undefined;
  if (!STATUSES.includes(v)) throw invalid(`'${name}' must be one of "To Do", "In Progress", "Done"`);
  return v;
}

// ---- the functions --------------------------------------------------------------------

const functions = {
  async CreateTodoList(ctx, req) {
    const body = commandBody(req, ctx.settings);
    const name = text(body, 'name', true);
    if (body.id !== undefined && (typeof body.id !== 'string' || !ID_RE.test(body.id))) {
      throw invalid("'id' must be 1 to 64 of A-Z a-z 0-9 _ -");
    }
    const id = body.id !== undefined ? body.id : crypto.randomUUID();
    const r = await runCommand(ctx, id, { kind: 'create', name }, 201, {});
    if (r.status === 201) r.headers.Location = `/api/todolists/${id}`;
    return r;
  },
  async RenameTodoList(ctx, req) {
    const body = commandBody(req, ctx.settings);
    const id = routeId(req, 'id');
    return runCommand(ctx, id, { kind: 'rename', name: text(body, 'name', true) }, 200, {});
  },
  async AddItem(ctx, req) {
    const body = commandBody(req, ctx.settings);
    const id = routeId(req, 'id');
    const task = text(body, 'task', true);
    const itemId = crypto.randomUUID();
    return runCommand(ctx, id, { kind: 'addItem', task, itemId }, 201, { itemId });
  },
  async UpdateItem(ctx, req) {
    const body = commandBody(req, ctx.settings);
    const id = routeId(req, 'id');
    const itemId = routeId(req, 'itemId');
    const task = text(body, 'task', false);
    const st = status(body, 'status', false);
    if (task === undefined && st === undefined) throw invalid("give 'task', 'status' or both");
    return runCommand(ctx, id, { kind: 'updateItem', itemId, task, status: st }, 200, {});
  },
  async SetItemStatuses(ctx, req) {
    const body = commandBody(req, ctx.settings);
    const id = routeId(req, 'id');
    if (!Array.isArray(body.itemIds)) throw invalid("'itemIds' is required and must be an array of ids");
    const ids = [];
    for (const v of body.itemIds) {
      if (typeof v !== 'string' || !ID_RE.test(v)) throw invalid("'itemIds' must hold ids (1 to 64 of A-Z a-z 0-9 _ -)");
      if (ids.includes(v)) continue;
      if (ids.length === MASS_UPDATE_MAX) throw invalid(`'itemIds' may name at most ${MASS_UPDATE_MAX} distinct items`);
      ids.push(v);
    }
    if (ids.length === 0) throw invalid("'itemIds' must name at least one item");
    const st = status(body, 'status', true);
    return runCommand(ctx, id, { kind: 'setStatuses', itemIds: ids, status: st }, 200, {});
  },
};

// ---- the custom-handler protocol ------------------------------------------------------

function hostReply(res, out) {
  const payload = JSON.stringify({
    Outputs: { res: { statusCode: out.status, headers: { 'Content-Type': 'application/json', ...out.headers }, body: JSON.stringify(out.body) } },
    Logs: [],
    ReturnValue: null,
  });
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) });
  res.end(payload);
}

const errorOut = (status, code, message, headers = {}) => ({ status, body: { error: code, message }, headers });

/** A thrown refusal or store failure as the client's answer (503 when the store is out of reach). */
function failureOut(fn, e) {
  if (e instanceof Refusal) return errorOut(e.status, e.code, e.message);
  process.stderr.write(`${fn} failed: ${e && e.message}\n`);
  const unavailable = [401, 403, 408, 429, 449, 503].includes(e.code) || typeof e.code === 'string' || e.code >= 500;
  return unavailable
    ? errorOut(503, 'store_unavailable', 'the event store is unavailable; retry later', { 'Retry-After': '1' })
    : errorOut(500, 'internal_error', 'the event store failed');
}

async function invoke(ctx, name, envelope, invocationId) {
  const req = envelope && envelope.Data && envelope.Data.req;
  if (!req || typeof req !== 'object') return errorOut(400, 'invalid_json', 'the invocation carries no http request');
  const corr = header(req, 'X-Correlation-Id');
  const call = { ...ctx, correlationId: corr ? corr : invocationId || null };
  if (corr && Buffer.byteLength(corr) > 256) return errorOut(400, 'invalid_field', 'X-Correlation-Id is longer than 256 bytes');
  try {
    return await functions[name](call, req);
  } catch (e) {
    return failureOut(name, e);
  }
}

function serve(settings) {
  const { endpoint, key } = settings.cosmos;
  const options = { endpoint, key };
  if (!settings.tlsVerify && endpoint.toLowerCase().startsWith('https:')) {
    // An emulator's self-signed certificate (COSMOS_TLS_VERIFY=false), as the C handler allows.
    options.agent = new https.Agent({ keepAlive: true, rejectUnauthorized: false });
  }
  const client = new CosmosClient(options);
  const ctx = { settings, container: client.database(settings.database).container(settings.events) };
  const server = http.createServer((req, res) => {
    const path = req.url.split('?')[0];
    if (path === '/') {
      req.resume();
      res.writeHead(req.method === 'GET' || req.method === 'HEAD' ? 200 : 405, { 'Content-Type': 'application/json' });
      res.end('{"status":"ready"}');
      return;
    }
    const name = path.slice(1);
    if (!Object.prototype.hasOwnProperty.call(functions, name) || req.method !== 'POST') {
      req.resume();
      res.writeHead(req.method !== 'POST' ? 405 : 404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: 'not_found', message: 'no such function' }));
      return;
    }
    const chunks = [];
    let size = 0;
    req.on('data', (c) => { size += c.length; if (size <= settings.maxEnvelopeBytes) chunks.push(c); });
    req.on('end', async () => {
      if (size > settings.maxEnvelopeBytes) {
        hostReply(res, errorOut(413, 'payload_too_large', 'the request is too large'));
        return;
      }
      let envelope;
      try {
        envelope = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch (e) {
        res.writeHead(400, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: 'invalid_envelope', message: e.message }));
        return;
      }
      hostReply(res, await invoke(ctx, name, envelope, req.headers['x-azure-functions-invocationid']));
    });
  });
  // The host keeps its connections open between invocations.
  server.keepAliveTimeout = 120000;
  server.headersTimeout = 125000;
  server.listen(settings.port, '127.0.0.1');
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

try {
  serve(loadSettings());
} catch (e) {
  process.stderr.write(`baseline: ${e.message}\n`);
  process.exit(1);
}
