// The three prom-client classes the master and the agent use, loaded from their own modules.
// prom-client's index also loads its default-metrics collectors, and with them @opentelemetry/api:
// about 70 ms of every agent start before anything is read (DESIGN §10: 1,000 executors recovered
// and listening in < 1 s), for metrics lifeline does not register. The classes are the same ones
// the index exports (one module cache), typed by prom-client's own declarations.
import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';

const require = createRequire(import.meta.url);

export const Counter: typeof Prom.Counter = require('prom-client/lib/counter');
export const Gauge: typeof Prom.Gauge = require('prom-client/lib/gauge');
export const Registry: typeof Prom.Registry = require('prom-client/lib/registry');
export type Counter<T extends string = string> = Prom.Counter<T>;
export type Gauge<T extends string = string> = Prom.Gauge<T>;
export type Registry = Prom.Registry;
