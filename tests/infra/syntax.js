'use strict';
// The Bicep syntax gate: parses every .bicep file under each argument (a
// directory or a file) with the tree-sitter Bicep grammar and fails on any
// syntax error, naming file:line:col. Finding no .bicep file at all fails
// too: a gate that parsed nothing has checked nothing.
//
// Usage: node tests/infra/syntax.js PATH...
const fs = require('fs');
const path = require('path');
const { loadParser, syntaxErrors, bicepFiles } = require('./bicep');

async function main(roots) {
  if (roots.length === 0) {
    console.error('usage: node syntax.js PATH...');
    return 2;
  }
  const { parser, describe } = await loadParser();
  // Each file with the name to show: relative to the directory it was found under.
  let files = [];
  for (const root of roots) {
    const base = fs.statSync(root).isDirectory() ? root : path.dirname(root);
    files = files.concat(bicepFiles(root).map((file) => ({ file, shown: path.relative(base, file) })));
  }
  let failures = 0;
  for (const { file, shown } of files) {
    const tree = parser.parse(fs.readFileSync(file, 'utf8'));
    const errors = syntaxErrors(tree);
    for (const e of errors) console.log(`FAIL: ${shown}:${e.line}:${e.col}: ${e.message}`);
    if (errors.length === 0) console.log(`ok: ${shown} parses`);
    failures += errors.length;
    tree.delete();
  }
  if (files.length === 0) {
    console.log(`FAIL: no .bicep file under ${roots.join(' ')}`);
    failures++;
  }
  console.log(`bicep syntax: ${files.length} file(s), ${failures} error(s); ${describe}`);
  return failures === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then((rc) => { process.exitCode = rc; }, (err) => {
  console.error(`FAIL: cannot run the Bicep parser: ${err.message}`);
  console.error('(its packages are installed by `make test`: npm ci in tests/infra)');
  process.exitCode = 1;
});
