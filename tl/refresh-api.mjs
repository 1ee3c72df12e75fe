#!/usr/bin/env node
// Refreshes tl/api.tl from a published TL schema: the JSON schema that the npm package
// @mtcute/core ships (tl/api-schema.json), converted to TL text.
//
//   node tl/refresh-api.mjs [--version 0.31.0] [--out tl/api.tl] [--from FILE.json]
//
// --from converts a local api-schema.json instead of fetching the package with `npm pack`.
// The first lines of the output record where it came from; tl/README.md lists the layers.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
    const i = args.indexOf(name);
    return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const version = opt('--version', 'latest');
const out = opt('--out', 'tl/api.tl');
let from = opt('--from', null);
let source;
let tmp = null;

if (!from) {
    tmp = mkdtempSync(join(tmpdir(), 'mtp-tl-'));
    const tgz = execFileSync('npm', ['pack', `@mtcute/core@${version}`, '--silent', '--pack-destination', tmp],
        { encoding: 'utf8' }).trim().split('\n').pop();
    execFileSync('tar', ['-xzf', join(tmp, tgz), '-C', tmp, 'package/tl/api-schema.json', 'package/package.json']);
    from = join(tmp, 'package/tl/api-schema.json');
    const pkg = JSON.parse(readFileSync(join(tmp, 'package/package.json'), 'utf8'));
    source = `@mtcute/core ${pkg.version} tl/api-schema.json (npm)`;
} else {
    source = from;
}

const schema = JSON.parse(readFileSync(from, 'utf8'));
const typeText = (a) => {
    let t = a.type === 'int53' ? 'long' : a.type;
    const m = a.typeModifiers || {};
    if (m.isVector) t = `Vector<${t}>`;
    else if (m.isBareVector) t = `vector<${t}>`;
    if (m.predicate) t = `${m.predicate}?${t}`;
    return t;
};
const line = (e) => {
    const parts = [`${e.name}#${(e.id >>> 0).toString(16)}`];
    if (e.generics) for (const g of e.generics) parts.push(`{${g.name}:${g.type}}`);
    for (const a of e.arguments) parts.push(`${a.name}:${typeText(a)}`);
    const m = e.typeModifiers || {};
    const result = m.isVector ? `Vector<${e.type}>` : e.type;
    return `${parts.join(' ')} = ${result};`;
};
const keep = (e) => !e.name.startsWith('mtcute.');
const classes = schema.e.filter((e) => e.kind === 'class' && keep(e));
const methods = schema.e.filter((e) => e.kind === 'method' && keep(e));

const text = [
    `// TL schema, API layer ${schema.l}.`,
    `// Converted from ${source} by tl/refresh-api.mjs.`,
    `// mtcute's own additions (mtcute.*) are left out; 'int53' is written back as 'long'; doc comments are left out;`,
    `// the builtin lines at the top are not in the JSON and were added.`,
    '',
    'boolFalse#bc799737 = Bool;',
    'boolTrue#997275b5 = Bool;',
    'true#3fedd339 = True;',
    'vector#1cb5c415 {t:Type} # [ t ] = Vector t;',
    'null#56730bcc = Null;',
    '',
    ...classes.map(line),
    '',
    '---functions---',
    '',
    ...methods.map(line),
    '',
    '',
].join('\n');
writeFileSync(out, text);
if (tmp) rmSync(tmp, { recursive: true, force: true });
process.stderr.write(`wrote ${out}: layer ${schema.l}, ${classes.length} constructors, ${methods.length} methods, from ${source}\n`);
