'use strict';
/*
 * compare.js - checks that the baseline answers the benchmark's commands as the
 * project's handler does: starts a Cosmos rig, our handler and the baseline on
 * one database, sends both the same invocations (successes, no-ops and every
 * refusal the commands have), and compares status, ETag, Location and body.
 * Generated ids are masked; error messages must match too, except a JSON parser's
 * own words. Exit status 0 when every answer matches.
 *
 * Usage: node bench/baseline/compare.js [BUILD_DIR]   (default: build)
 * Needs `npm ci` here and in tests/support/cosmos-rig, and a built handler.
 */
const { spawn, execFileSync } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '../..');
const HANDLER = path.resolve(ROOT, process.argv[2] || 'build', 'app/handler');
const KEY = 'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==';
const children = [];

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function startRig() {
  const rig = spawn('node', [path.join(ROOT, 'tests/support/cosmos-rig/rig.js'), '--port', '0', '--key', KEY]);
  children.push(rig);
  return new Promise((resolve, reject) => {
    let out = '';
    rig.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (\S+)/);
      if (m) resolve(m[1]);
    });
    rig.on('exit', () => reject(new Error('the rig did not start')));
  });
}

async function startHandler(cmd, env) {
  const port = await freePort();
  children.push(spawn(cmd, [], { env: { ...env, FUNCTIONS_CUSTOMHANDLER_PORT: String(port) }, stdio: 'ignore' }));
  for (let i = 0; i < 200; i++) {
    try {
      await fetch(`http://127.0.0.1:${port}/`);
      return port;
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  throw new Error(`${cmd} did not start`);
}

async function invoke(port, [fn, method, params, body, contentType = 'application/json']) {
  const req = { Url: 'http://localhost:7071/api/todolists', Method: method, Query: {},
    Headers: contentType ? { 'Content-Type': [contentType] } : {}, Params: params };
  if (body !== undefined) req.Body = body;
  const r = await fetch(`http://127.0.0.1:${port}/${fn}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Azure-Functions-InvocationId': 'compare' },
    body: JSON.stringify({ Data: { req }, Metadata: {} }),
  });
  return (await r.json()).Outputs.res;
}

const J = JSON.stringify;
/* [name, (list, item) => [function, method, params, body, content type?]] in order. */
const CASES = [
  ['create', (l) => ['CreateTodoList', 'POST', {}, J({ id: l, name: '  groceries  ' })]],
  ['create: taken id', (l) => ['CreateTodoList', 'POST', {}, J({ id: l, name: 'groceries' })]],
  ['create: blank name', () => ['CreateTodoList', 'POST', {}, J({ name: ' \t ' })]],
  ['create: name of 51', () => ['CreateTodoList', 'POST', {}, J({ name: 'x'.repeat(51) })]],
  ['create: name not a string', () => ['CreateTodoList', 'POST', {}, J({ name: 5 })]],
  ['create: bad id', () => ['CreateTodoList', 'POST', {}, J({ id: 'a b', name: 'x' })]],
  ['create: no media type', () => ['CreateTodoList', 'POST', {}, J({ name: 'x' }), null]],
  ['create: text/plain', () => ['CreateTodoList', 'POST', {}, J({ name: 'x' }), 'text/plain']],
  ['create: array body', () => ['CreateTodoList', 'POST', {}, '[]']],
  ['create: no body', () => ['CreateTodoList', 'POST', {}, undefined]],
  ['add', (l) => ['AddItem', 'POST', { id: l }, J({ task: 'milk' })]],
  ['add: task taken (trimmed)', (l) => ['AddItem', 'POST', { id: l }, J({ task: ' milk ' })]],
  ['add: +json media type', (l) => ['AddItem', 'POST', { id: l }, J({ task: 'eggs' }), 'application/merge-patch+json; charset=utf-8']],
  ['add: unknown list', () => ['AddItem', 'POST', { id: 'nolist' }, J({ task: 'milk' })]],
  ['add: bad route id', () => ['AddItem', 'POST', { id: 'a.b' }, J({ task: 'milk' })]],
  ['update: status', (l, i) => ['UpdateItem', 'PATCH', { id: l, itemId: i }, J({ status: 'Done' })]],
  ['update: same status', (l, i) => ['UpdateItem', 'PATCH', { id: l, itemId: i }, J({ status: 'Done' })]],
  ['update: task and status', (l, i) => ['UpdateItem', 'PATCH', { id: l, itemId: i }, J({ task: 'oat milk', status: 'In Progress' })]],
  ['update: task taken', (l, i) => ['UpdateItem', 'PATCH', { id: l, itemId: i }, J({ task: 'eggs' })]],
  ['update: neither field', (l, i) => ['UpdateItem', 'PATCH', { id: l, itemId: i }, J({})]],
  ['update: bad status', (l, i) => ['UpdateItem', 'PATCH', { id: l, itemId: i }, J({ status: 'done' })]],
  ['update: unknown item', (l) => ['UpdateItem', 'PATCH', { id: l, itemId: 'zz' }, J({ status: 'Done' })]],
  ['mass: duplicates', (l, i) => ['SetItemStatuses', 'PATCH', { id: l }, J({ itemIds: [i, i], status: 'Done' })]],
  ['mass: already so', (l, i) => ['SetItemStatuses', 'PATCH', { id: l }, J({ itemIds: [i], status: 'Done' })]],
  ['mass: unknown item', (l, i) => ['SetItemStatuses', 'PATCH', { id: l }, J({ itemIds: [i, 'zz'], status: 'To Do' })]],
  ['mass: empty', (l) => ['SetItemStatuses', 'PATCH', { id: l }, J({ itemIds: [], status: 'To Do' })]],
  ['mass: not an array', (l) => ['SetItemStatuses', 'PATCH', { id: l }, J({ itemIds: 'x', status: 'To Do' })]],
  ['mass: bad id', (l) => ['SetItemStatuses', 'PATCH', { id: l }, J({ itemIds: ['a b'], status: 'To Do' })]],
  ['mass: 51 ids', (l) => ['SetItemStatuses', 'PATCH', { id: l }, J({ itemIds: [...Array(51).keys()].map((k) => `i${k}`), status: 'To Do' })]],
  ['mass: no status', (l, i) => ['SetItemStatuses', 'PATCH', { id: l }, J({ itemIds: [i] })]],
  ['rename', (l) => ['RenameTodoList', 'PATCH', { id: l }, J({ name: 'food' })]],
  ['rename: same name', (l) => ['RenameTodoList', 'PATCH', { id: l }, J({ name: 'food' })]],
  ['rename: unknown list', () => ['RenameTodoList', 'PATCH', { id: 'nolist' }, J({ name: 'food' })]],
];

/* The answer with the list id and generated ids masked. */
function masked(res, list) {
  return J({ status: res.statusCode, etag: res.headers.ETag, location: res.headers.Location, body: JSON.parse(res.body) })
    .split(list).join('<list>')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>');
}

async function main() {
  const endpoint = await startRig();
  const env = { ...process.env, CosmosDB: `AccountEndpoint=${endpoint}/;AccountKey=${KEY};`, COSMOS_DATABASE: 'compare' };
  execFileSync(HANDLER, ['init'], { env, stdio: 'ignore' });
  const sides = [
    { name: 'ours', port: await startHandler(HANDLER, env), list: 'ours', item: null },
    { name: 'baseline', port: await startHandler(path.join(__dirname, 'handler'), env), list: 'baseline', item: null },
  ];
  let differ = 0;
  for (const [name, make] of CASES) {
    const got = [];
    for (const s of sides) {
      const res = await invoke(s.port, make(s.list, s.item));
      const itemId = JSON.parse(res.body).itemId;
      if (itemId && !s.item) s.item = itemId;
      got.push(masked(res, s.list));
    }
    if (got[0] === got[1]) {
      console.log(`same  ${name}`);
    } else {
      differ++;
      console.log(`DIFF  ${name}\n      ours:     ${got[0]}\n      baseline: ${got[1]}`);
    }
  }
  console.log(`compare: ${CASES.length - differ} same, ${differ} different`);
  return differ === 0 ? 0 : 1;
}

main().then((code) => { process.exitCode = code; }, (e) => { console.error(`compare: ${e.message}`); process.exitCode = 2; })
  .finally(() => children.forEach((c) => c.kill('SIGTERM')));
