// The layering of docs/architecture.md, checked on the sources: scripts/ and test/ both build on
// harness/ and src/, never on each other; harness/ builds on src/ only; and inside src/ the
// arrows point down (cli → components → checkpoint | process | session → protocol | lifecycle).
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT } from '../../harness/helpers.js';

const Layering = suite('Layering of scripts, tests and harness');

/** Every TypeScript and JavaScript source under `dir` (relative to the project root). */
function sources(dir: string): string[] {
  const out: string[] = [];
  const walk = (current: string) => {
    for (const entry of fs.readdirSync(path.join(ROOT, current), { withFileTypes: true })) {
      const rel = path.join(current, entry.name);
      if (entry.isDirectory()) walk(rel);
      else if (/\.(ts|mts|mjs|js)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(rel);
    }
  };
  walk(dir);
  return out;
}

/** Where a file's relative imports, dynamic imports and re-exports point, relative to the project root. */
function importedPaths(file: string): string[] {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const specifiers = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"]([^'"]+)['"]/g)].map((m) => m[1]!);
  return (
    specifiers
      .filter((s) => s.startsWith('.'))
      .map((s) => path.relative(ROOT, path.resolve(ROOT, path.dirname(file), s)))
      // A fixture may import the build of a test helper (dist/test/...): that is still test/.
      .map((rel) => rel.replace(/^dist\//, ''))
  );
}

function offenders(dir: string, forbidden: string[]): string[] {
  const found: string[] = [];
  for (const file of sources(dir)) {
    for (const target of importedPaths(file)) {
      if (forbidden.some((f) => target === f || target.startsWith(`${f}/`))) found.push(`${file} imports ${target}`);
    }
  }
  return found;
}

Layering('finds the imports it checks (the check is not vacuous)', () => {
  assert.ok(importedPaths('test/helpers.ts').includes('harness/helpers.js'));
  assert.ok(importedPaths('scripts/faults.ts').includes('harness/lib/args.js'));
  assert.ok(sources('scripts').length > 0 && sources('test').length > 0 && sources('harness').length > 0);
});

Layering('no file under scripts/ imports test/', () => {
  assert.equal(offenders('scripts', ['test']), []);
});

Layering('no file under test/ imports scripts/', () => {
  assert.equal(offenders('test', ['scripts']), []);
});

Layering('no file under harness/ imports test/ or scripts/', () => {
  assert.equal(offenders('harness', ['test', 'scripts']), []);
});

Layering('the product imports none of harness/, test/ or scripts/', () => {
  assert.equal(offenders('src', ['harness', 'test', 'scripts']), []);
});

Layering('the executor side never imports the agent, the master, the scheduler or the CLI', () => {
  assert.equal(offenders('src/executor', ['src/agent', 'src/master', 'src/scheduler', 'src/cli']), []);
});

Layering('the protocol and the lifecycle primitive import nothing above them', () => {
  const above = ['src/agent', 'src/master', 'src/scheduler', 'src/executor', 'src/checkpoint', 'src/process', 'src/session', 'src/cli'];
  assert.equal([...offenders('src/protocol', above), ...offenders('src/lifecycle', above)], []);
});

Layering('the session layer serves the components and imports none of them', () => {
  assert.equal(offenders('src/session', ['src/agent', 'src/master', 'src/scheduler', 'src/executor', 'src/cli']), []);
});

Layering.run();
