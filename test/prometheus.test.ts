import { createRequire } from 'node:module';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Counter, Gauge, Registry } from '../src/prometheus.js';

const require = createRequire(import.meta.url);

const prometheus = suite('prometheus');

prometheus('exports the very classes of prom-client (one module cache), not copies', () => {
  const prom = require('prom-client') as typeof import('prom-client');
  assert.is(Counter, prom.Counter);
  assert.is(Gauge, prom.Gauge);
  assert.is(Registry, prom.Registry);
});

prometheus('counters and gauges register in a registry of their own and render as text', async () => {
  const registry = new Registry();
  const counter = new Counter({ name: 'test_things_total', help: 'Things', labelNames: ['kind'], registers: [registry] });
  let level = 7;
  new Gauge({
    name: 'test_level',
    help: 'Level',
    registers: [registry],
    collect() {
      this.set(level);
    },
  });
  counter.inc({ kind: 'a' });
  counter.inc({ kind: 'a' }, 2);
  let text = await registry.metrics();
  assert.match(text, /^test_things_total\{kind="a"\} 3$/m);
  assert.match(text, /^test_level 7$/m);
  level = 8;
  text = await registry.metrics();
  assert.match(text, /^test_level 8$/m);
  assert.match(registry.contentType, /^text\/plain/);
});

prometheus('two registries do not share a metric of the same name', async () => {
  const first = new Registry();
  const second = new Registry();
  new Counter({ name: 'test_shared_total', help: 'x', registers: [first] }).inc(5);
  new Counter({ name: 'test_shared_total', help: 'x', registers: [second] });
  assert.match(await first.metrics(), /^test_shared_total 5$/m);
  assert.match(await second.metrics(), /^test_shared_total 0$/m);
});

prometheus('loading it does not load prom-client\'s index or its default collectors', () => {
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  const url = new URL('../src/prometheus.js', import.meta.url).href;
  const script = `await import(${JSON.stringify(url)}); const { createRequire } = await import('node:module');
    const cache = Object.keys(createRequire(import.meta.url).cache);
    console.log(JSON.stringify(cache.filter((file) => /prom-client|opentelemetry/.test(file))));`;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.is(result.status, 0, result.stderr);
  const loaded = JSON.parse(result.stdout) as string[];
  assert.ok(loaded.some((file) => file.endsWith('lib/counter.js')), loaded.join('\n'));
  assert.not.ok(loaded.some((file) => /prom-client[/\\]index\.js$/.test(file)), loaded.join('\n'));
  assert.not.ok(loaded.some((file) => /defaultMetrics|opentelemetry/.test(file)), loaded.join('\n'));
});

prometheus.run();
