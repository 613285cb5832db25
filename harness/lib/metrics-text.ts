// Prometheus exposition text read by a real parser (parse-prometheus-text-format), as a Prometheus
// server would read it: for the tests and benches that look at an agent's or a master's /metrics.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export interface MetricFamily {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  metrics: Array<{ labels?: Record<string, string>; value?: string; count?: string; sum?: string; buckets?: Record<string, string> }>;
}

const parse = require('parse-prometheus-text-format') as (text: string) => MetricFamily[];

/** The families of a /metrics text, by name. */
export function metricFamilies(text: string): Map<string, MetricFamily> {
  return new Map(parse(text).map((family) => [family.name, family]));
}
