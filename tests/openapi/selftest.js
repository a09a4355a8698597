#!/usr/bin/env node
// The response validator's self-test (CTest openapi_validator_selftest): it
// must pass a good response and fail each doctored one with the message that
// names the mismatch, and fail on an empty or missing log.
//
//   node selftest.js <openapi.json> <testapp dir>
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const [docPath, testappDir] = process.argv.slice(2);
const validator = path.join(__dirname, 'validate.js');
const json = { 'Content-Type': 'application/json' };

function rec(method, target, status, headers, body, extra) {
  return Object.assign(
    { face: 'serve', prefix: 'api', method, target, status, headers, body: JSON.stringify(body) },
    extra || {},
  );
}
const health = rec('GET', '/api/health', 200, json, { status: 'ok', version: '0.1.0' });
const list = { id: 'L1', name: 'Groceries', version: 2, items: [{ id: 'i1', task: 'Milk', status: 'To Do' }] };
const created = { id: 'L1', version: 1, events: [{ type: 'TodoListCreated', version: 1 }] };

// name, log lines (null: no log folder), expected exit, text the output must hold
const cases = [
  ['a good response passes', [health], 0, '1 response(s)'],
  ['documented headers and a route template pass',
    [rec('GET', '/api/todolists/L1?minVersion=2', 200, Object.assign({ ETag: '"2"' }, json), list)], 0, '0 mismatch'],
  ['an unmatched route answered 404 not_found passes',
    [rec('PUT', '/api/todolists', 404, json, { error: 'not_found', message: 'no route' })], 0, '0 mismatch'],
  ['an extra property fails',
    [rec('GET', '/api/health', 200, json, { status: 'ok', version: '1', extra: true })], 1,
    "must NOT have additional properties 'extra'"],
  ['a missing required property fails',
    [rec('POST', '/api/todolists', 201, Object.assign({ ETag: '"1"', Location: '/api/todolists/L1' }, json),
      { id: 'L1', version: 1 })], 1, "must have required property 'events'"],
  ['an undocumented status fails',
    [rec('GET', '/api/health', 418, json, { error: 'teapot', message: 'no' })], 1, 'status 418 is not documented'],
  ['a required header missing fails',
    [rec('GET', '/api/todolists/L1', 200, json, list)], 1, 'required header ETag is missing'],
  ['a malformed header fails',
    [rec('GET', '/api/todolists/L1', 200, Object.assign({ ETag: '2' }, json), list)], 1, 'header ETag'],
  ['Retry-After missing on a 503 fails',
    [rec('GET', '/api/todolists/L1', 503, json, { error: 'store_unavailable', message: 'later' })], 1,
    'required header Retry-After is missing'],
  ['an error code the route does not answer fails',
    [rec('PATCH', '/api/todolists/L1', 409, json, { error: 'list_full', message: 'full' })], 1,
    'must be equal to one of the allowed values'],
  ['an undocumented media type fails',
    [rec('GET', '/api/health', 200, { 'Content-Type': 'text/html' }, '<html></html>')], 1,
    "Content-Type 'text/html' is not documented"],
  ['a body that is not JSON fails',
    [Object.assign(rec('GET', '/api/health', 200, json, null), { body: '{"status":' })], 1, 'the body is not JSON'],
  ['an unmatched route answered 200 fails',
    [rec('GET', '/api/nothing', 200, Object.assign({ ETag: '"1"', Location: '/x' }, json), created)], 1,
    'matches no documented operation, and status 200 is not documented'],
  ['a route under another method is unmatched',
    [rec('DELETE', '/api/health', 200, json, { status: 'ok', version: '1' })], 1, 'matches no documented operation'],
  ['test-only routes are left out, the rest still checked',
    [rec('POST', '/api/test/echo/1', 200, json, { anything: 1 }), health], 0, 'test-only route /test/echo'],
  ['test-only functions are left out by name on the host face',
    [rec('POST', '/api/x', 200, json, { anything: 1 }, { face: 'host', function: 'Echo' }), health], 0,
    'test-only function Echo'],
  ['only test-only answers is an empty check, and fails',
    [rec('POST', '/api/test/echo/1', 200, json, { anything: 1 })], 1, 'would pass vacuously'],
  ['an empty log fails', [], 1, 'would pass vacuously'],
  ['no log folder fails', null, 1, 'no response log'],
];

let failures = 0;
const top = fs.mkdtempSync(path.join(os.tmpdir(), 'openapi-selftest-'));
cases.forEach(([name, lines, wantExit, wantText], i) => {
  const dir = path.join(top, `case${i}`);
  if (lines !== null) {
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'selftest-1.jsonl'), lines.map((l) => JSON.stringify(l) + '\n').join(''));
  }
  const r = spawnSync('node', [validator, docPath, dir, testappDir], { encoding: 'utf8' });
  const out = r.stdout + r.stderr;
  if (r.status !== wantExit || !out.includes(wantText)) {
    failures++;
    console.error(`FAIL: ${name}: exit ${r.status} (want ${wantExit}), output lacks '${wantText}':\n${out}`);
  } else {
    console.log(`ok: ${name}`);
  }
});
fs.rmSync(top, { recursive: true, force: true });
console.log(`${cases.length - failures} of ${cases.length} cases as expected`);
process.exit(failures === 0 ? 0 : 1);
