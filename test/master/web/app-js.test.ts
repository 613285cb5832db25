// The web view's script: a classic browser script (the page loads it with <script defer>, not as a
// module) that parses, keeps to itself, writes text only (never markup from /state), fetches only
// its own origin's /state, and finds every element it draws into on the page.
import vm from 'node:vm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { APP_JS } from '../../../src/master/web/app-js.js';
import { INDEX_HTML } from '../../../src/master/web/index-html.js';

const Script = suite('master/web/app-js: APP_JS');

Script('parses as a classic script, in strict mode, with no import or export', () => {
  assert.not.throws(() => new vm.Script(APP_JS, { filename: 'app.js' }));
  // As a module it would need import/export to mean anything; a classic script cannot hold them.
  assert.not.match(APP_JS, /^\s*(import|export)\b/m);
  assert.match(APP_JS, /^\(function \(\) \{\n  'use strict';/m);
  assert.match(APP_JS, /\}\)\(\);\n$/);
});

Script('defines no global: everything is inside one function run at once', () => {
  const script = new vm.Script(APP_JS);
  // Run with a document and a fetch that record the first calls, then stop the poll loop there.
  const looked: string[] = [];
  const fetched: string[] = [];
  const element = { textContent: '', className: '' };
  const sandbox: Record<string, unknown> = {
    document: { getElementById: (id: string) => (looked.push(id), element) },
    fetch: (url: string) => (fetched.push(url), new Promise(() => {})),
  };
  const context = vm.createContext(sandbox);
  script.runInContext(context);
  assert.equal(Object.keys(sandbox).sort(), ['document', 'fetch'], 'the script added a global');
  assert.equal(looked, ['live']);
  assert.equal(fetched, ['/state'], 'it polls its own origin\'s /state');
});

Script('writes text, never markup, and evaluates nothing', () => {
  for (const sink of [/\.innerHTML\b/, /\.outerHTML\b/, /insertAdjacentHTML/, /document\.write/, /\beval\(/, /new Function\b/, /setTimeout\(\s*['"]/]) {
    assert.not.match(APP_JS, sink, String(sink));
  }
  assert.match(APP_JS, /node\.textContent = attrs\[key\]/);
  assert.match(APP_JS, /document\.createTextNode\(child\)/);
});

Script('fetches nothing but /state, and only relative to the page', () => {
  const fetches = [...APP_JS.matchAll(/fetch\(([^,)]+)/g)].map((match) => match[1]!.trim());
  assert.equal(fetches, ["'/state'"]);
  assert.not.match(APP_JS, /XMLHttpRequest|WebSocket|EventSource|navigator\.sendBeacon/);
});

Script('every element it looks up by ID is on the page', () => {
  const ids = new Set([
    ...[...APP_JS.matchAll(/getElementById\('([^']+)'\)/g)].map((match) => match[1]!),
    ...[...APP_JS.matchAll(/querySelector\('#([\w-]+)/g)].map((match) => match[1]!),
  ]);
  assert.ok(ids.size >= 8, `found ${[...ids].join(', ')}`);
  for (const id of ids) assert.ok(INDEX_HTML.includes(` id="${id}"`), `#${id} is not on the page`);
});

Script.run();
