'use strict';
// Parses Bicep with a real grammar: tree-sitter-bicep's WebAssembly build,
// run by web-tree-sitter (no native code, no Bicep CLI). The grammar is
// error tolerant, so a parse always yields a tree; syntax errors show up in it
// as ERROR nodes (text it could not place) and MISSING nodes (a token it had
// to invent, such as a closing brace or a value after '='). syntaxErrors()
// lists both with their positions. The grammar checks syntax only: names,
// types and resource schemas stay with the Bicep compiler (see flex.js for
// what this repository checks beyond syntax).
//
// Versions are pinned in package-lock.json. tree-sitter-bicep 1.1.0 ships a
// grammar of ABI 14; web-tree-sitter 0.25.10 loads ABI 13 to 15 and refuses
// anything else, so a mismatch fails loudly in loadParser().
const fs = require('fs');
const path = require('path');

const here = __dirname;

// The installed package's folder and version (npm ci puts it in node_modules here).
function pkg(name) {
  const dir = path.join(here, 'node_modules', name);
  return { dir, version: JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version };
}

// Returns { parser, describe } once the grammar is loaded; throws when the
// packages are missing (run `make test`, which runs npm ci here) or their
// versions do not fit together.
async function loadParser() {
  const wts = require(require.resolve('web-tree-sitter', { paths: [here] }));
  const grammar = pkg('tree-sitter-bicep');
  await wts.Parser.init();
  const language = await wts.Language.load(path.join(grammar.dir, 'tree-sitter-bicep.wasm'));
  const parser = new wts.Parser();
  parser.setLanguage(language);
  const abi = language.abiVersion;
  const describe = `tree-sitter-bicep ${grammar.version} (ABI ${abi}) on web-tree-sitter ` +
    `${pkg('web-tree-sitter').version} (ABI ${wts.MIN_COMPATIBLE_VERSION}-${wts.LANGUAGE_VERSION})`;
  return { parser, describe };
}

// Every node of the tree, named or not, depth first in source order.
function* nodes(node) {
  yield node;
  for (let i = 0; i < node.childCount; i++) yield* nodes(node.child(i));
}

function position(node) {
  return { line: node.startPosition.row + 1, col: node.startPosition.column + 1 };
}

function snippet(text) {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > 40 ? `${one.slice(0, 40)}...` : one;
}

// The last token before node, or null at the start of the file.
function previousToken(node) {
  let n = node;
  while (n && !n.previousSibling) n = n.parent;
  if (!n) return null;
  n = n.previousSibling;
  while (n.childCount > 0) n = n.child(n.childCount - 1);
  return n;
}

// The syntax errors of a tree: [{ line, col, message }], in source order. An
// ERROR node is reported once, not again for the nodes inside it, except
// MISSING ones.
function syntaxErrors(tree) {
  const errors = [];
  const walk = (node, insideError) => {
    if (node.isMissing) {
      errors.push({ ...position(node), message: `missing '${node.type}'` });
    } else if (node.type === 'ERROR' && !insideError) {
      const prev = previousToken(node);
      const after = prev ? ` (after '${snippet(prev.text)}' at ${prev.startPosition.row + 1}:${prev.startPosition.column + 1})` : '';
      errors.push({ ...position(node), message: `syntax error at '${snippet(node.text)}'${after}` });
    }
    for (let i = 0; i < node.childCount; i++) walk(node.child(i), insideError || node.type === 'ERROR');
  };
  walk(tree.rootNode, false);
  if (errors.length === 0 && tree.rootNode.hasError) {
    errors.push({ ...position(tree.rootNode), message: 'the parser reports an error it did not locate' });
  }
  return errors;
}

// The .bicep files under root (a directory or one file), sorted; skips .git,
// node_modules and build trees.
function bicepFiles(root) {
  if (fs.statSync(root).isFile()) return [root];
  const found = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name === '.git' || entry.name === 'node_modules' || /^build($|-)/.test(entry.name)) continue;
        walk(full);
      } else if (entry.isFile() && entry.name.endsWith('.bicep')) {
        found.push(full);
      }
    }
  };
  walk(root);
  return found.sort();
}

// The text of a string literal without its quotes, or null when the string
// interpolates (its value is not known before deployment).
function literal(node) {
  if (node.type !== 'string') return null;
  let text = '';
  for (let i = 0; i < node.namedChildCount; i++) {
    const child = node.namedChild(i);
    if (child.type === 'interpolation') return null;
    text += child.text;
  }
  return text;
}

module.exports = { loadParser, nodes, position, syntaxErrors, bicepFiles, literal };
