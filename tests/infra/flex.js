'use strict';
// Checks the templates against what Microsoft publishes for Flex Consumption
// apps (facts.js), on the parse tree of every .bicep file under ROOT/infra,
// and azure.yaml against the templates and scripts/deploy.sh:
//   - every `resource` declares a type@version that a Microsoft Flex
//     Consumption sample uses;
//   - every built-in role id is its documented one, bound to a variable named
//     after the role, and the identity holds each role the app needs;
//   - no app setting or site property that the plan deprecates is set;
//   - maximumInstanceCount and instanceMemoryMB stay within the FC1 bounds,
//     and the plan is FC1;
//   - azd finds the app: the site's azd-service-name tag matches azure.yaml's
//     services, and with none declared, exactly one deploy hook (predeploy or
//     postdeploy) runs scripts/deploy.sh, which reads only outputs that
//     main.bicep declares; main.parameters.json sets only main.bicep's params.
// A syntax error is reported by syntax.js; here it only stops the check.
//
// Usage: node tests/infra/flex.js ROOT
const fs = require('fs');
const path = require('path');
const { loadParser, nodes, position, syntaxErrors, bicepFiles, literal } = require('./bicep');
const facts = require('./facts');

let failures = 0;
const ok = (msg) => console.log(`ok: ${msg}`);
const fail = (msg) => { console.log(`FAIL: ${msg}`); failures++; };

const named = (node) => { const out = []; for (let i = 0; i < node.namedChildCount; i++) out.push(node.namedChild(i)); return out; };
const at = (file, node) => { const p = position(node); return `${file.shown}:${p.line}:${p.col}`; };

// The key of an object_property (identifier or string), or null.
function propertyKey(prop) {
  const key = prop.namedChild(0);
  if (!key) return null;
  return key.type === 'string' ? literal(key) : key.text;
}
const propertyValue = (prop) => prop.namedChild(1);

// The value node of property `key` in object node `obj` (first level only).
function property(obj, key) {
  if (!obj || obj.type !== 'object') return null;
  for (const prop of named(obj)) {
    if (prop.type === 'object_property' && propertyKey(prop) === key) return propertyValue(prop);
  }
  return null;
}

// The object a resource declares (through a loop or a condition), or null.
function resourceBody(decl) {
  for (const n of nodes(decl)) if (n.type === 'object') return n;
  return null;
}

// { name: [args] } of the decorators just above a declaration.
function decoratorsOf(decl) {
  const out = {};
  const prev = decl.previousNamedSibling;
  if (!prev || prev.type !== 'decorators') return out;
  for (const dec of named(prev)) {
    const call = dec.namedChild(0);
    if (!call || call.type !== 'call_expression') continue;
    const args = named(call).find((n) => n.type === 'arguments');
    out[call.namedChild(0).text] = args ? named(args) : [];
  }
  return out;
}

const number = (node) => (node && node.type === 'number' ? Number(node.text) : null);

function readModel(file) {
  const model = { resources: [], params: {}, vars: {}, strings: [], props: [] };
  for (const n of nodes(file.tree.rootNode)) {
    if (n.type === 'resource_declaration') {
      const typeNode = named(n).find((c) => c.type === 'string');
      model.resources.push({ node: n, name: n.namedChild(0).text, typeNode, spec: typeNode ? literal(typeNode) : null, body: resourceBody(n) });
    } else if (n.type === 'parameter_declaration') {
      const kids = named(n);
      model.params[kids[0].text] = { node: n, decorators: decoratorsOf(n), dflt: kids.length > 2 ? kids[kids.length - 1] : null };
    } else if (n.type === 'variable_declaration') {
      const kids = named(n);
      model.vars[kids[0].text] = { node: n, value: kids[kids.length - 1] };
    } else if (n.type === 'string') {
      model.strings.push(n);
    } else if (n.type === 'object_property') {
      model.props.push(n);
    }
  }
  return model;
}

function checkApiVersions(files) {
  const allowed = new Map(facts.apiVersions.map((e) => [`${e.type.toLowerCase()}@${e.version}`, e]));
  let count = 0;
  for (const f of files) {
    for (const r of f.model.resources) {
      count++;
      const spec = r.spec;
      if (!spec || !spec.includes('@')) {
        fail(`${at(f, r.node)}: resource '${r.name}' must name a literal type@version`);
        continue;
      }
      const [type, version] = spec.split('@');
      const entry = allowed.get(`${type.toLowerCase()}@${version}`);
      if (entry) {
        ok(`${f.shown}: ${spec} (${r.name}) is used by Microsoft: ${entry.source}`);
      } else {
        const known = facts.apiVersions.filter((e) => e.type.toLowerCase() === type.toLowerCase()).map((e) => e.version);
        fail(`${at(f, r.typeNode)}: ${spec} (${r.name}) is not in tests/infra/facts.js, the type@version pairs Microsoft's Flex Consumption samples use` +
          (known.length ? `; known versions of ${type}: ${known.join(', ')}` : `; no Microsoft source for the type ${type}`));
      }
    }
  }
  if (count === 0) fail('no resource declarations found under infra/');
}

function camel(roleName) {
  const words = roleName.split(/[\s-]+/).map((w) => w.toLowerCase());
  return words[0] + words.slice(1).map((w) => w[0].toUpperCase() + w.slice(1)).join('');
}

function checkRoles(files) {
  const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  const byId = new Map(facts.roles.map((r) => [r.id.toLowerCase(), r]));
  const byVar = new Map(facts.roles.map((r) => [camel(r.name), r]));
  for (const f of files) {
    for (const s of f.model.strings) {
      const value = literal(s);
      if (value === null || !guid.test(value)) continue;
      const role = byId.get(value.toLowerCase());
      if (!role) {
        fail(`${at(f, s)}: '${value}' is not the documented id of any built-in role in tests/infra/facts.js`);
        continue;
      }
      const decl = s.parent;
      const varName = decl && decl.type === 'variable_declaration' ? decl.namedChild(0).text : null;
      if (varName === camel(role.name)) {
        ok(`${f.shown}: ${varName} = '${value}' is ${role.name} (${role.source})`);
      } else if (varName && byVar.has(varName)) {
        fail(`${at(f, s)}: ${varName} is named after ${byVar.get(varName).name}, documented as ${byVar.get(varName).id}, but holds '${value}', the id of ${role.name}`);
      } else {
        fail(`${at(f, s)}: '${value}' (${role.name}) must be bound to a variable named after its role: var ${camel(role.name)} = '${value}'`);
      }
    }
  }
  // Every role the app needs is declared and assigned.
  const assigned = new Set();
  for (const f of files) {
    for (const r of f.model.resources) {
      if (!/\/(roleAssignments|sqlRoleAssignments)@/i.test(r.spec || '')) continue;
      for (const n of nodes(r.node)) if (n.type === 'identifier') assigned.add(n.text);
    }
  }
  for (const name of facts.requiredRoles) {
    const v = camel(name);
    const declared = files.some((f) => f.model.vars[v]);
    if (!declared) fail(`the identity needs ${name}: no var ${v} in infra/`);
    else if (!assigned.has(v)) fail(`the identity needs ${name}: var ${v} is declared but no role assignment uses it`);
    else ok(`the identity is assigned ${name}`);
  }
}

function checkDeprecated(files) {
  const settings = new Map(facts.deprecatedAppSettings.map((s) => [s.toUpperCase(), s]));
  const siteProps = new Map(facts.deprecatedSiteProperties.map((s) => [s.toLowerCase(), s]));
  let found = 0;
  for (const f of files) {
    // An app setting appears as a key (Name: value) or as a string ({ name: 'Name', value: ... }).
    for (const p of f.model.props) {
      const key = propertyKey(p);
      if (key && settings.has(key.toUpperCase())) {
        fail(`${at(f, p)}: app setting ${key} is deprecated on Flex Consumption (${facts.src.deprecations})`);
        found++;
      }
    }
    for (const s of f.model.strings) {
      const value = literal(s);
      if (value && settings.has(value.toUpperCase())) {
        fail(`${at(f, s)}: '${value}' names an app setting deprecated on Flex Consumption (${facts.src.deprecations})`);
        found++;
      }
    }
    for (const r of f.model.resources) {
      if (!/^Microsoft\.Web\/sites(\/config)?@/i.test(r.spec || '')) continue;
      for (const n of nodes(r.node)) {
        if (n.type !== 'object_property') continue;
        const key = propertyKey(n);
        if (key && siteProps.has(key.toLowerCase())) {
          fail(`${at(f, n)}: site property ${key} is deprecated on Flex Consumption (${facts.src.deprecations})`);
          found++;
        }
      }
    }
  }
  if (found === 0) ok(`no app setting or site property from "Flex Consumption plan deprecations" is set (${facts.deprecatedAppSettings.length} settings, ${facts.deprecatedSiteProperties.length} properties)`);
}

function checkScale(files) {
  const lim = facts.scale.maximumInstanceCount;
  const mem = facts.scale.instanceMemoryMB;
  const inRange = (v) => v !== null && v >= lim.min && v <= lim.max;
  for (const f of files) {
    const p = f.model.params.maximumInstanceCount;
    if (p) {
      const lo = number((p.decorators.minValue || [])[0]);
      const hi = number((p.decorators.maxValue || [])[0]);
      const dflt = p.dflt ? number(p.dflt) : null;
      if (lo === null || hi === null) fail(`${at(f, p.node)}: param maximumInstanceCount needs @minValue and @maxValue (FC1 allows ${lim.min} to ${lim.max}: ${lim.source})`);
      else if (!inRange(lo) || !inRange(hi) || lo > hi) fail(`${at(f, p.node)}: maximumInstanceCount is bounded to ${lo}..${hi}, outside FC1's ${lim.min}..${lim.max} (${lim.source})`);
      else if (p.dflt && (dflt === null || dflt < lo || dflt > hi)) fail(`${at(f, p.dflt)}: maximumInstanceCount defaults to ${p.dflt.text}, outside ${lo}..${hi}`);
      else ok(`${f.shown}: maximumInstanceCount is bounded to ${lo}..${hi}${p.dflt ? `, default ${dflt}` : ''} (FC1: ${lim.min}..${lim.max}, platform default ${lim.platformDefault})`);
    }
    const m = f.model.params.instanceMemoryMB;
    if (m) {
      const allowed = (m.decorators.allowed || [])[0];
      const values = allowed && allowed.type === 'array' ? named(allowed).map(number) : [];
      const dflt = m.dflt ? number(m.dflt) : null;
      if (values.length === 0) fail(`${at(f, m.node)}: param instanceMemoryMB needs @allowed(${JSON.stringify(mem.allowed)}) or a subset (${mem.source})`);
      else if (values.some((v) => !mem.allowed.includes(v))) fail(`${at(f, m.node)}: instanceMemoryMB allows ${values.join(', ')}; FC1 instances are ${mem.allowed.join(', ')} MB (${mem.source})`);
      else if (m.dflt && !values.includes(dflt)) fail(`${at(f, m.dflt)}: instanceMemoryMB defaults to ${m.dflt.text}, not one of ${values.join(', ')}`);
      else ok(`${f.shown}: instanceMemoryMB is one of ${values.join(', ')} MB${m.dflt ? `, default ${dflt}` : ''}`);
    }
  }
  // The site's own scaleAndConcurrency: a literal within bounds, or a bounded param.
  let sites = 0;
  for (const f of files) {
    for (const prop of f.model.props) {
      if (propertyKey(prop) !== 'scaleAndConcurrency') continue;
      sites++;
      const obj = propertyValue(prop);
      for (const [key, good] of [['maximumInstanceCount', inRange], ['instanceMemoryMB', (v) => mem.allowed.includes(v)]]) {
        const v = property(obj, key);
        if (!v) fail(`${at(f, prop)}: scaleAndConcurrency sets no ${key}`);
        else if (v.type === 'number' && !good(Number(v.text))) fail(`${at(f, v)}: ${key} ${v.text} is outside what FC1 allows (${key === 'instanceMemoryMB' ? mem.source : lim.source})`);
        else if (v.type === 'identifier' && !f.model.params[v.text]) fail(`${at(f, v)}: ${key} takes '${v.text}', which is not a param of ${f.shown} whose bounds this check can see`);
        else if (v.type === 'identifier' && v.text !== key) fail(`${at(f, v)}: ${key} takes param '${v.text}'; name the param ${key} so its bounds are checked`);
        else if (v.type !== 'number' && v.type !== 'identifier') fail(`${at(f, v)}: ${key} must be a number or a bounded param`);
        else ok(`${f.shown}: scaleAndConcurrency.${key} is ${v.text}`);
      }
    }
  }
  if (sites === 0) fail('no functionAppConfig.scaleAndConcurrency in infra/: the site must state its scale and memory');
  // The plan is FC1.
  const plans = files.flatMap((f) => f.model.resources.filter((r) => /^Microsoft\.Web\/serverfarms@/i.test(r.spec || '')).map((r) => ({ f, r })));
  if (plans.length === 0) fail('no Microsoft.Web/serverfarms plan in infra/');
  for (const { f, r } of plans) {
    const sku = property(r.body, 'sku');
    const name = property(sku, 'name');
    const tier = property(sku, 'tier');
    if (name && literal(name) === 'FC1' && tier && literal(tier) === 'FlexConsumption') ok(`${f.shown}: plan '${r.name}' is FC1 (FlexConsumption)`);
    else fail(`${at(f, r.node)}: plan '${r.name}' must have sku { name: 'FC1', tier: 'FlexConsumption' } (${facts.src.flexArm})`);
  }
}

function checkAzd(root, files) {
  // The azd-service-name tags of the sites.
  const tags = [];
  const sites = files.flatMap((f) => f.model.resources.filter((r) => /^Microsoft\.Web\/sites@/i.test(r.spec || '')).map((r) => ({ f, r })));
  for (const { f, r } of sites) {
    const tagsNode = property(r.body, 'tags');
    let value = null;
    if (tagsNode) {
      for (const n of nodes(tagsNode)) {
        if (n.type === 'object_property' && propertyKey(n) === 'azd-service-name') value = literal(propertyValue(n));
      }
    }
    if (value) { tags.push(value); ok(`${f.shown}: site '${r.name}' carries azd-service-name '${value}'`); }
    else fail(`${at(f, r.node)}: site '${r.name}' needs the tag azd-service-name (a literal), which azd uses to find a service's app`);
  }
  if (sites.length === 0) fail('no Microsoft.Web/sites in infra/');

  const yamlFile = path.join(root, 'azure.yaml');
  let project;
  try {
    project = require(require.resolve('yaml', { paths: [__dirname] })).parse(fs.readFileSync(yamlFile, 'utf8')) || {};
  } catch (err) {
    fail(`azure.yaml: ${err.message}`);
    return;
  }
  const services = Object.keys(project.services || {});
  for (const s of services) {
    if (tags.includes(s)) ok(`azure.yaml: service '${s}' matches the site's azd-service-name`);
    else fail(`azure.yaml: service '${s}' has no site tagged azd-service-name '${s}' (tags: ${tags.join(', ') || 'none'})`);
  }
  if (services.length > 0) {
    for (const t of tags) if (!services.includes(t)) fail(`the site is tagged azd-service-name '${t}', but azure.yaml declares no service '${t}' (services: ${services.join(', ')})`);
  }

  // Which project hooks run scripts/deploy.sh.
  const hooks = project.hooks || {};
  const runs = (h) => [h, h && h.posix, h && h.windows].filter(Boolean).map((x) => String(x.run || '')).join(' ');
  const deploying = Object.keys(hooks).filter((name) => /scripts\/deploy\.sh/.test(runs(hooks[name])));
  if (services.length === 0) {
    if (deploying.length === 1 && (deploying[0] === 'predeploy' || deploying[0] === 'postdeploy')) {
      ok(`azure.yaml: no service; the ${deploying[0]} hook runs scripts/deploy.sh, so both azd deploy and azd up ship the code`);
    } else {
      fail(`azure.yaml: with no service, exactly one predeploy or postdeploy hook must run scripts/deploy.sh (found: ${deploying.join(', ') || 'none'}); a provision hook would skip azd deploy and ship code on azd provision`);
    }
  } else if (deploying.length > 0) {
    fail(`azure.yaml: hooks ${deploying.join(', ')} run scripts/deploy.sh although azd deploys the declared services`);
  }
  for (const name of deploying) {
    const h = hooks[name];
    const cont = [h, h.posix].filter(Boolean).some((x) => x.continueOnError === true);
    if (cont) fail(`azure.yaml: hook ${name} has continueOnError: true, so a failed deploy would look like success`);
  }

  const main = files.find((f) => path.basename(f.path) === 'main.bicep');
  if (!main) {
    fail('no infra/main.bicep, the template azd provisions');
    return;
  }
  // main.parameters.json names only params of main.bicep: azd passes the
  // template's params and silently drops any other name, so a misspelled one
  // would never reach the deployment.
  const paramsFile = path.join(root, 'infra', 'main.parameters.json');
  if (fs.existsSync(paramsFile)) {
    let given = {};
    try {
      given = JSON.parse(fs.readFileSync(paramsFile, 'utf8')).parameters || {};
    } catch (err) {
      fail(`infra/main.parameters.json: ${err.message}`);
    }
    for (const name of Object.keys(given)) {
      if (main.model.params[name]) ok(`infra/main.parameters.json sets ${name}, a param of main.bicep`);
      else fail(`infra/main.parameters.json sets '${name}', which main.bicep does not declare (azd drops it unused)`);
    }
  }

  // deploy.sh reads only outputs that main.bicep declares (azd passes outputs as variables).
  const deploy = path.join(root, 'scripts', 'deploy.sh');
  if (!fs.existsSync(deploy)) return;
  const needed = [...fs.readFileSync(deploy, 'utf8').matchAll(/\$\{(AZURE_[A-Z_]+):\?/g)].map((m) => m[1]);
  const outputs = new Set();
  for (const n of nodes(main.tree.rootNode)) if (n.type === 'output_declaration') outputs.add(n.namedChild(0).text);
  if (needed.length === 0) fail('scripts/deploy.sh requires no AZURE_* variable; it cannot know which app to deploy to');
  for (const v of needed) {
    if (outputs.has(v)) ok(`scripts/deploy.sh reads ${v}, an output of main.bicep`);
    else fail(`scripts/deploy.sh needs ${v}, which main.bicep does not output`);
  }
}

async function main(root) {
  if (!root) {
    console.error('usage: node flex.js ROOT');
    return 2;
  }
  const { parser } = await loadParser();
  const infra = path.join(root, 'infra');
  const files = fs.existsSync(infra) ? bicepFiles(infra).map((p) => {
    const tree = parser.parse(fs.readFileSync(p, 'utf8'));
    return { path: p, shown: path.relative(root, p), tree };
  }) : [];
  if (files.length === 0) {
    fail(`no .bicep files under ${infra}`);
  } else {
    const broken = files.filter((f) => syntaxErrors(f.tree).length > 0);
    for (const f of broken) fail(`${f.shown} has syntax errors (see syntax.js); not checking further`);
    if (broken.length === 0) {
      for (const f of files) f.model = readModel(f);
      checkApiVersions(files);
      checkRoles(files);
      checkDeprecated(files);
      checkScale(files);
      checkAzd(root, files);
    }
  }
  console.log(`flex check: ${failures} failure(s)`);
  return failures === 0 ? 0 : 1;
}

main(process.argv[2]).then((rc) => { process.exitCode = rc; }, (err) => {
  console.error(`FAIL: cannot run the Flex Consumption check: ${err.stack || err.message}`);
  console.error('(its packages are installed by `make test`: npm ci in tests/infra)');
  process.exitCode = 1;
});
