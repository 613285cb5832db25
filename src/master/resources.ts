// Resource arithmetic for offers and task accounting. Amounts are kept to three decimal places
// (as Mesos does with fixed point), so that 1 - 0.1 - 0.9 is 0 and not 1e-16.
import type { Resources } from '../protocol/index.js';

/** Resources with every amount present (an agent's totals, what is left of an offer). */
export interface Amounts {
  cpus: number;
  mem: number;
  disk: number;
}

/** Mesos offers an agent only when at least this much CPU or memory is free. */
const MIN_OFFER_CPUS = 0.01;
const MIN_OFFER_MEM = 32;

export const EMPTY: Readonly<Amounts> = Object.freeze({ cpus: 0, mem: 0, disk: 0 });

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

export function amounts(resources: Resources): Amounts {
  return { cpus: round(resources.cpus), mem: round(resources.mem), disk: round(resources.disk ?? 0) };
}

export function add(a: Amounts, b: Resources): Amounts {
  return { cpus: round(a.cpus + b.cpus), mem: round(a.mem + b.mem), disk: round(a.disk + (b.disk ?? 0)) };
}

/** `a - b`, never below zero. */
export function subtract(a: Amounts, b: Resources): Amounts {
  return {
    cpus: Math.max(0, round(a.cpus - b.cpus)),
    mem: Math.max(0, round(a.mem - b.mem)),
    disk: Math.max(0, round(a.disk - (b.disk ?? 0))),
  };
}

/** Does `wanted` fit within `available`? */
export function fits(wanted: Resources, available: Amounts): boolean {
  const need = amounts(wanted);
  return need.cpus <= available.cpus && need.mem <= available.mem && need.disk <= available.disk;
}

/** Is this enough to be worth offering? */
export function isOfferable(available: Amounts): boolean {
  return available.cpus >= MIN_OFFER_CPUS || available.mem >= MIN_OFFER_MEM;
}

/** `cpus:0.5;mem:128;disk:0`, the form of the `--resources` flag, for messages. */
export function format(resources: Resources): string {
  const a = amounts(resources);
  return `cpus:${a.cpus};mem:${a.mem};disk:${a.disk}`;
}
