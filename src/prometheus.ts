// The prom-client classes the master and the agent use, loaded from their own modules.
// prom-client's index also loads its default-metrics collectors, and with them @opentelemetry/api:
// about 70 ms of every agent start before anything is read (DESIGN §10: 1,000 executors recovered
// and listening in < 1 s), for metrics that are not needed until it runs: registerProcessMetrics
// loads them after recovery. The classes are the same ones
// the index exports (one module cache), typed by prom-client's own declarations.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';

const require = createRequire(import.meta.url);

export const Counter: typeof Prom.Counter = require('prom-client/lib/counter');
export const Gauge: typeof Prom.Gauge = require('prom-client/lib/gauge');
export const Registry: typeof Prom.Registry = require('prom-client/lib/registry');
export const Histogram: typeof Prom.Histogram = require('prom-client/lib/histogram');
export type Counter<T extends string = string> = Prom.Counter<T>;
export type Histogram<T extends string = string> = Prom.Histogram<T>;
export type Gauge<T extends string = string> = Prom.Gauge<T>;
export type Registry = Prom.Registry;

/**
 * Process and Node.js metrics (prom-client's default collectors: CPU, memory, file descriptors,
 * event-loop lag, GC, heap) in `registry`. Loaded here, when called — once the agent has recovered,
 * the master listens — so that their modules stay off the start-up path.
 */
export function registerProcessMetrics(registry: Registry): void {
  const collectDefaultMetrics = require('prom-client/lib/defaultMetrics') as typeof Prom.collectDefaultMetrics;
  collectDefaultMetrics({ register: registry });
}

let build: { version: string } | undefined;

/** This release's version, from the package.json above this module (read once). */
export function releaseVersion(): string {
  if (!build) {
    build = { version: 'unknown' };
    let dir = new URL('.', import.meta.url);
    for (let depth = 0; depth < 4; depth++, dir = new URL('..', dir)) {
      try {
        const pkg = JSON.parse(fs.readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'lifeline' && typeof pkg.version === 'string') {
          build.version = pkg.version;
          break;
        }
      } catch {
        // not here: one level up
      }
    }
  }
  return build.version;
}

/** `<prefix>_build_info{version,protocol} 1`, the Prometheus idiom for what is running. */
export function registerBuildInfo(registry: Registry, name: string, protocol: number): void {
  const gauge = new Gauge({ name, help: 'Always 1; the labels say which release and protocol version this process runs', labelNames: ['version', 'protocol'], registers: [registry] });
  gauge.set({ version: releaseVersion(), protocol: String(protocol) }, 1);
}
