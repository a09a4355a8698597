#!/usr/bin/env node
// Checks every API response the e2e and integration tests received against
// docs/openapi.json (CTest openapi_responses, the cleanup of the fixture the
// tests require).
//
//   node validate.js <openapi.json> <log dir> <testapp dir>
//
// The log dir holds the JSONL files tests/support/hostdrv.c writes (one
// response a line: face, prefix, function, method, target, status, headers,
// body). Each response must match a documented path and method (templates
// matched segment by segment, literals ignoring case, as the host routes), or
// else be the document's `x-unmatched-route` answer (404 not_found); a
// documented status; a documented media type, with a body valid against that
// media type's schema (Ajv, JSON Schema 2020-12, the dialect of OpenAPI 3.1);
// and every header the document marks required, valid against its schema.
// Each mismatch is reported with its file, line and request; any mismatch, or
// no response at all, fails the run.
'use strict';

const fs = require('fs');
const path = require('path');
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats').default;

const [docPath, logDir, testappDir] = process.argv.slice(2);
if (!docPath || !logDir || !testappDir) {
  console.error('usage: validate.js <openapi.json> <log dir> <testapp dir>');
  process.exit(2);
}

const doc = JSON.parse(fs.readFileSync(docPath, 'utf8'));
const DOC_ID = 'https://openapi.invalid/openapi.json';
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
// The whole document as one schema resource, so that "#/components/..." refs
// inside it resolve; each check compiles a $ref to a place in it.
ajv.addSchema(Object.assign({}, doc, { $id: DOC_ID }));
const compiled = new Map();
function validatorAt(pointer) {
  if (!compiled.has(pointer)) {
    compiled.set(pointer, ajv.compile({ $ref: DOC_ID + '#' + pointer }));
  }
  return compiled.get(pointer);
}
const esc = (s) => s.replace(/~/g, '~0').replace(/\//g, '~1');

function deref(obj) {
  while (obj && obj.$ref) {
    obj = obj.$ref
      .slice(2)
      .split('/')
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce((o, k) => o[k], doc);
  }
  return obj;
}

// ---- routes ----

function splitSegments(p) {
  return p.split('/').filter((s, i, a) => s !== '' || (i > 0 && i < a.length - 1));
}

const serverBase = (doc.servers && doc.servers[0] && doc.servers[0].url) || '';
const templates = Object.keys(doc.paths).map((t) => ({
  template: t,
  segments: splitSegments(t),
}));

// The path relative to the route prefix, or null when it is outside the prefix.
function relativePath(target, prefix) {
  let p = target.split(/[?#]/)[0];
  if (p.endsWith('/') && p.length > 1) p = p.slice(0, -1); // as ASP.NET routing
  const pre = '/' + prefix.replace(/^\/+|\/+$/g, '');
  if (pre === '/') return p;
  if (p.toLowerCase() === pre.toLowerCase()) return '/';
  if (!p.toLowerCase().startsWith(pre.toLowerCase() + '/')) return null;
  return p.slice(pre.length);
}

function matchTemplate(segments, rel) {
  const parts = rel.split('/').slice(1);
  if (parts.length !== segments.length) return null;
  let literals = 0;
  for (let i = 0; i < parts.length; i++) {
    const s = segments[i];
    if (/^\{.*\}$/.test(s)) {
      if (parts[i] === '') return null;
    } else if (s.toLowerCase() !== parts[i].toLowerCase()) {
      return null;
    } else {
      literals++;
    }
  }
  return literals;
}

// The documented path template for rel and method: the most literal match.
function findOperation(rel, method) {
  let best = null;
  for (const t of templates) {
    const score = matchTemplate(t.segments, rel);
    const op = doc.paths[t.template][method.toLowerCase()];
    if (score !== null && op && (best === null || score > best.score)) {
      best = { template: t.template, op, score };
    }
  }
  return best;
}

// ---- exclusions ----

// The test app (tests/support/testapp) adds test-only functions (Echo, Sleep,
// Fail) to the handler for protocol edge cases; they are not the API. Their
// answers are left out by function name (host face) and by their routes.
const testFunctions = new Set();
const testRoutes = [];
for (const name of fs.readdirSync(testappDir)) {
  const fj = path.join(testappDir, name, 'function.json');
  if (!fs.existsSync(fj)) continue;
  testFunctions.add(name.toLowerCase());
  for (const b of JSON.parse(fs.readFileSync(fj, 'utf8')).bindings || []) {
    if ((b.type || '').toLowerCase() === 'httptrigger') {
      // "test/echo/{id}/{rest?}": the literal segments before the first parameter.
      const literal = (b.route || name).split('/{')[0].toLowerCase();
      testRoutes.push('/' + literal);
    }
  }
}
function excluded(rec) {
  // GET / is the host protocol's readiness probe, outside the route prefix:
  // `handler serve` answers it as the handler does for the host. Not the API.
  if (rec.method === 'GET' && rec.target.split(/[?#]/)[0] === '/') {
    return 'readiness probe GET /';
  }
  if (rec.function && testFunctions.has(rec.function.toLowerCase())) {
    return 'test-only function ' + rec.function;
  }
  const rel = relativePath(rec.target, rec.prefix || 'api');
  if (rel !== null) {
    const low = rel.toLowerCase();
    const hit = testRoutes.find((r) => low === r || low.startsWith(r + '/'));
    if (hit) return 'test-only route ' + hit;
  }
  return null;
}

// ---- one response ----

function header(rec, name) {
  const key = Object.keys(rec.headers || {}).find(
    (k) => k.toLowerCase() === name.toLowerCase(),
  );
  return key === undefined ? undefined : rec.headers[key];
}

function ajvText(errors) {
  return errors
    .slice(0, 5)
    .map((e) => `${e.instancePath || '(body)'} ${e.message}` +
      (e.params && e.params.additionalProperty ? ` '${e.params.additionalProperty}'` : '') +
      (e.params && e.params.allowedValues ? ` ${JSON.stringify(e.params.allowedValues)}` : ''))
    .join('; ');
}

// The problems of one response against responses (an OpenAPI Responses object at pointer).
function checkResponses(rec, responses, pointer) {
  const status = String(rec.status);
  const key = responses[status] ? status : responses[status[0] + 'XX'] ? status[0] + 'XX' : responses.default ? 'default' : null;
  if (key === null) {
    return [`status ${status} is not documented (documented: ${Object.keys(responses).join(', ')})`];
  }
  const resp = deref(responses[key]);
  const problems = [];
  const respPointer = responses[key].$ref ? responses[key].$ref.slice(1) : `${pointer}/${esc(key)}`;
  for (const [name, h0] of Object.entries(resp.headers || {})) {
    const h = deref(h0);
    const value = header(rec, name);
    if (value === undefined) {
      if (h.required) problems.push(`required header ${name} is missing`);
      continue;
    }
    const hp = h0.$ref ? h0.$ref.slice(1) : `${respPointer}/headers/${esc(name)}`;
    const v = validatorAt(`${hp}/schema`);
    if (!v(value)) problems.push(`header ${name}: ${JSON.stringify(value)}: ${ajvText(v.errors)}`);
  }
  const body = typeof rec.body === 'string' ? rec.body : null;
  if (!resp.content) {
    if (body) problems.push(`a body where the document has none: ${body.slice(0, 120)}`);
    return problems;
  }
  if (body === null) return problems.concat('the body is not text');
  const ctype = (header(rec, 'Content-Type') || '').split(';')[0].trim().toLowerCase();
  const media = Object.keys(resp.content).find((m) => m.toLowerCase() === ctype);
  if (media === undefined) {
    return problems.concat(`Content-Type '${ctype}' is not documented (documented: ${Object.keys(resp.content).join(', ')}); body: ${body.slice(0, 120)}`);
  }
  let value;
  try {
    value = JSON.parse(body);
  } catch (e) {
    return problems.concat(`the body is not JSON: ${body.slice(0, 120)}`);
  }
  const v = validatorAt(`${respPointer}/content/${esc(media)}/schema`);
  if (!v(value)) problems.push(`body: ${ajvText(v.errors)}; body: ${body.slice(0, 200)}`);
  return problems;
}

function check(rec) {
  const rel = relativePath(rec.target, rec.prefix || 'api');
  const found = rel === null ? null : findOperation(rel, rec.method);
  if (found === null) {
    // Not an operation of the document: it must be the unmatched-route answer.
    const problems = checkResponses(rec, doc['x-unmatched-route'].responses, '/x-unmatched-route/responses');
    return {
      operation: `(no route) ${rec.status}`,
      problems: problems.map((p) => `matches no documented operation, and ${p}`),
    };
  }
  const pointer = `/paths/${esc(found.template)}/${rec.method.toLowerCase()}/responses`;
  return {
    operation: `${rec.method.toUpperCase()} ${found.template} ${rec.status}`,
    problems: checkResponses(rec, found.op.responses, pointer).map((p) => `(${found.template}) ${p}`),
  };
}

// ---- the run ----

function main() {
  if (!fs.existsSync(logDir)) {
    console.error(`FAIL: no response log at ${logDir}: the tests that log ran with ES_API_LOG_DIR unset, or did not run`);
    return 1;
  }
  const files = fs.readdirSync(logDir).filter((f) => f.endsWith('.jsonl')).sort();
  let total = 0;
  let checked = 0;
  let failures = 0;
  const skipped = new Map();
  const byOperation = new Map();
  for (const f of files) {
    const lines = fs.readFileSync(path.join(logDir, f), 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (line === '') return;
      total++;
      const where = `${f}:${i + 1}`;
      let rec;
      try {
        rec = JSON.parse(line);
      } catch (e) {
        failures++;
        console.error(`FAIL ${where}: not a JSON line: ${line.slice(0, 120)}`);
        return;
      }
      const why = excluded(rec);
      if (why) {
        skipped.set(why, (skipped.get(why) || 0) + 1);
        return;
      }
      checked++;
      const { operation, problems } = check(rec);
      byOperation.set(operation, (byOperation.get(operation) || 0) + 1);
      for (const p of problems) {
        failures++;
        if (failures <= 200) {
          console.error(`FAIL ${where}: ${rec.method} ${rec.target} (${rec.face}) -> ${rec.status}: ${p}`);
        }
      }
    });
  }
  if (checked === 0) {
    console.error(`FAIL: no API response to check in ${logDir} (${files.length} file(s), ${total} line(s)): the check would pass vacuously`);
    return 1;
  }
  // What the tests covered, so a route or status no test reaches shows.
  for (const op of [...byOperation.keys()].sort()) console.log(`${String(byOperation.get(op)).padStart(7)}  ${op}`);
  for (const [why, n] of skipped) console.log(`left out: ${n} answer(s) of a ${why}`);
  console.log(`${checked} response(s) from ${files.length} file(s) checked against ${path.basename(docPath)} (${serverBase}): ${failures} mismatch(es)`);
  if (failures > 200) console.error(`... ${failures - 200} more mismatch(es) not shown`);
  return failures === 0 ? 0 : 1;
}

process.exit(main());
