// The master under 10,000 random schema-valid calls from fake agents and fake frameworks (a
// seeded generator, real WebSockets on loopback): every event it sends any peer must pass that
// peer's own schema and frame limit, and its last-resort outgoing check must never have to fire.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import * as v from 'valibot';
import {
  AgentCall,
  AgentEvent,
  decodeFrame,
  encode,
  MAX_RESOURCE,
  MAX_TIMER_MS,
  REASONS,
  SchedulerCall,
  SchedulerEvent,
  SOURCES,
  TASK_STATES,
  validate,
} from '../../src/protocol/index.js';
import { Master } from '../../src/master/index.js';
import { SCHEDULER_FRAME_LIMIT, AGENT_FRAME_LIMIT } from '../../src/master/outgoing.js';
import type { Logger } from '../../src/log.js';
import { Random } from '../../harness/lib/random.js';
import { waitFor, withTimeout } from '../helpers.js';

const SEED = Number(process.env.LIFELINE_PROPERTY_SEED ?? 14);
const CALLS = 10_000;
const AGENTS = 4;
const FRAMEWORKS = 4;

type Kind = 'agent' | 'scheduler';

/** One fake peer's current connection; a closed one is replaced by a new connection. */
class FakePeer {
  ws: WebSocket;
  readonly kind: Kind;
  readonly invalid: string[];
  readonly seen: Map<string, number>;
  readonly pools: Pools;
  /** No frame sent yet: the first is a registration call, most of the time. */
  fresh = true;
  /** Offers made to this connection's framework. */
  readonly offers: string[] = [];
  #open: Promise<void>;

  constructor(kind: Kind, url: string, invalid: string[], seen: Map<string, number>, pools: Pools) {
    this.kind = kind;
    this.invalid = invalid;
    this.seen = seen;
    this.pools = pools;
    this.ws = new WebSocket(url, { maxPayload: kind === 'agent' ? AGENT_FRAME_LIMIT : SCHEDULER_FRAME_LIMIT });
    this.ws.on('error', () => {});
    this.#open = new Promise((resolve) => {
      this.ws.once('open', () => resolve());
      this.ws.once('close', () => resolve());
    });
    this.ws.on('message', (data: Buffer) => this.#receive(data));
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  opened(): Promise<void> {
    return withTimeout(this.#open, 5_000, `a ${this.kind} connection opening`);
  }

  send(call: object): Promise<void> {
    this.fresh = false;
    if (!this.isOpen) return Promise.resolve();
    return new Promise((resolve) => this.ws.send(encode(call), () => resolve()));
  }

  #receive(data: Buffer): void {
    try {
      const event = this.kind === 'agent' ? decodeFrame(AgentEvent, data) : decodeFrame(SchedulerEvent, data);
      this.seen.set(event.type, (this.seen.get(event.type) ?? 0) + 1);
      this.pools.learn(event);
      if (event.type === 'OFFERS') this.offers.push(...event.offers.map((offer) => offer.id));
      if (event.type === 'PING' && this.isOpen) this.ws.send(encode({ type: 'PONG' }));
    } catch (error) {
      this.invalid.push(`${this.kind}: ${(error as Error).message}`);
    }
  }
}

/** IDs the master has handed out, so that calls can name real agents, frameworks, offers and updates. */
class Pools {
  agents: string[] = [];
  frameworks: string[] = [];
  offers: string[] = [];
  updates: Array<{ agentId: string; taskId: string; uuid: string }> = [];

  learn(event: v.InferOutput<typeof AgentEvent> | v.InferOutput<typeof SchedulerEvent>): void {
    switch (event.type) {
      case 'REGISTERED':
      case 'REREGISTERED':
        if (!this.agents.includes(event.agentId)) this.agents.push(event.agentId);
        return;
      case 'SUBSCRIBED':
        if (!this.frameworks.includes(event.frameworkId)) this.frameworks.push(event.frameworkId);
        return;
      case 'OFFERS':
        for (const offer of event.offers) this.offers.push(offer.id);
        if (this.offers.length > 5_000) this.offers.splice(0, 2_500);
        return;
      case 'UPDATE':
        if (event.status.uuid && event.status.agentId) this.updates.push({ agentId: event.status.agentId, taskId: event.status.taskId, uuid: event.status.uuid });
        if (this.updates.length > 1_000) this.updates.splice(0, 500);
        return;
      default:
    }
  }
}

/** Schema-valid calls, drawn with a seeded PRNG; the extremes of every bound are likely. */
class Calls {
  readonly #r: Random;
  readonly #pools: Pools;

  constructor(random: Random, pools: Pools) {
    this.#r = random;
    this.#pools = pools;
  }

  id(pool: readonly string[] = []): string {
    const r = this.#r;
    if (pool.length > 0 && r.chance(0.8)) return r.pick(pool);
    if (r.chance(0.05)) return `x${'y'.repeat(199)}`;
    return r.pick(['t1', 't2', 't3', 'e1', 'e2', `id-${r.int(0, 50)}`]);
  }

  uuid(): string {
    return this.#r.bytes(16).toString('hex');
  }

  amount(): number {
    const r = this.#r;
    return r.pick([0, 0.001, 0.0004, 0.5, 1, 3.1415, 1024, MAX_RESOURCE, MAX_RESOURCE - 0.001, r.next() * MAX_RESOURCE, r.int(0, 64)]);
  }

  millis(max: number): number {
    return this.#r.pick([0, 1, 1000, max, Math.floor(this.#r.next() * max)]);
  }

  text(max = 64 * 1024): string {
    const r = this.#r;
    return r.pick(['', 'ok', 'é'.repeat(r.int(0, 300)), 'x'.repeat(max), 'y'.repeat(r.int(0, max))]);
  }

  resources() {
    return this.#r.chance(0.5) ? { cpus: this.amount(), mem: this.amount() } : { cpus: this.amount(), mem: this.amount(), disk: this.amount() };
  }

  agentInfo(id?: string) {
    return { ...(id ? { id } : {}), hostname: this.#r.pick(['h', 'node-1', 'n'.repeat(1024)]), resources: { cpus: this.amount(), mem: this.amount(), disk: this.amount() }, checkpoint: this.#r.chance(0.5) };
  }

  frameworkInfo(id?: string) {
    const r = this.#r;
    return { ...(id ? { id } : {}), name: r.pick(['fw', 'f'.repeat(1024)]), checkpoint: r.chance(0.5), ...(r.chance(0.5) ? { failoverTimeoutMs: this.millis(2 ** 47) } : {}) };
  }

  task(frameworkId: string, withAgent: boolean) {
    const r = this.#r;
    const executorId = this.id();
    const body = r.chance(0.5)
      ? { command: { value: r.pick(['true', 'sleep 1', 'c'.repeat(64 * 1024)]) } }
      : { executor: { executorId, frameworkId: r.chance(0.9) ? frameworkId : this.id(), command: { value: 'x' }, ...(r.chance(0.5) ? { shutdownGracePeriodMs: this.millis(MAX_TIMER_MS) } : {}) } };
    return {
      taskId: this.id(),
      name: r.pick(['', 'task']),
      ...(withAgent ? { agentId: this.id(this.#pools.agents) } : {}),
      resources: r.chance(0.5) ? { cpus: 0.01, mem: 1 } : this.resources(),
      ...body,
      ...(r.chance(0.3) ? { killPolicy: { gracePeriodMs: this.millis(MAX_TIMER_MS) } } : {}),
      ...(r.chance(0.2) ? { data: r.bytes(r.int(0, 64)) } : {}),
    };
  }

  status(agentId: string) {
    const r = this.#r;
    return {
      taskId: this.id(),
      state: r.pick(TASK_STATES),
      uuid: this.uuid(),
      timestamp: this.millis(2 ** 47),
      ...(r.chance(0.5) ? { source: r.pick(SOURCES) } : {}),
      ...(r.chance(0.5) ? { reason: r.pick(REASONS) } : {}),
      ...(r.chance(0.5) ? { message: this.text() } : {}),
      ...(r.chance(0.2) ? { data: r.bytes(r.int(0, 32)) } : {}),
      agentId,
      executorId: this.id(),
    };
  }

  agentCall(agentId: string | undefined, fresh: boolean): object {
    const r = this.#r;
    const p = this.#pools;
    const id = agentId ?? this.id(p.agents);
    const kind = fresh && r.chance(0.9) ? r.pick(['REGISTER', 'REGISTER', 'REREGISTER']) : r.pick(['REGISTER', 'REREGISTER', 'STATUS_UPDATE', 'STATUS_UPDATE', 'STATUS_UPDATE', 'EXECUTOR_MESSAGE', 'UNREGISTER', 'PONG', 'PONG']);
    switch (kind) {
      case 'REGISTER':
        return { type: 'REGISTER', agentInfo: this.agentInfo(r.chance(0.2) ? id : undefined) };
      case 'REREGISTER': {
        const frameworkId = this.id(p.frameworks);
        return {
          type: 'REREGISTER',
          agentInfo: this.agentInfo(id),
          frameworks: r.chance(0.5) ? [this.frameworkInfo(frameworkId)] : [],
          executors: [],
          tasks: Array.from({ length: r.int(0, 3) }, () => ({
            frameworkId,
            executorId: this.id(),
            task: { ...this.task(frameworkId, false), agentId: id },
            state: r.pick(TASK_STATES),
            ...(r.chance(0.3) ? { unacknowledgedState: r.pick(TASK_STATES), unacknowledgedUuid: this.uuid() } : {}),
          })),
        };
      }
      case 'STATUS_UPDATE':
        return { type: 'STATUS_UPDATE', frameworkId: this.id(p.frameworks), status: this.status(id) };
      case 'EXECUTOR_MESSAGE':
        return { type: 'EXECUTOR_MESSAGE', frameworkId: this.id(p.frameworks), executorId: this.id(), data: r.bytes(r.int(0, 128)) };
      default:
        return { type: kind };
    }
  }

  schedulerCall(frameworkId: string | undefined, fresh: boolean, own: string[]): object {
    const r = this.#r;
    const p = this.#pools;
    const id = frameworkId ?? this.id(p.frameworks);
    const kind = fresh && r.chance(0.9) ? 'SUBSCRIBE' : r.pick(['SUBSCRIBE', 'ACCEPT', 'ACCEPT', 'ACCEPT', 'DECLINE', 'KILL', 'ACKNOWLEDGE', 'RECONCILE', 'MESSAGE', 'TEARDOWN']);
    switch (kind) {
      case 'SUBSCRIBE':
        return { type: 'SUBSCRIBE', frameworkInfo: this.frameworkInfo(r.chance(0.5) ? id : undefined) };
      case 'ACCEPT': {
        // Sometimes hundreds of stale offers: their reasons once made a TASK_DROPPED over 64 KiB.
        const count = r.chance(0.1) ? r.int(500, 2_000) : r.int(1, 3);
        const offerIds = own.length && r.chance(0.6)
          ? [own.pop()!]
          : Array.from({ length: count }, () => (r.chance(0.7) && p.offers.length ? r.pick(p.offers) : `o-${r.int(0, 1e6)}`));
        return { type: 'ACCEPT', offerIds, tasks: Array.from({ length: r.int(0, 3) }, () => this.task(id, r.chance(0.3))) };
      }
      case 'DECLINE':
        return { type: 'DECLINE', offerIds: p.offers.slice(-r.int(0, 5)), ...(r.chance(0.5) ? { refuseSeconds: r.pick([0, 0.5, 5, 365 * 24 * 3600]) } : {}) };
      case 'KILL':
        return { type: 'KILL', taskId: this.id() };
      case 'ACKNOWLEDGE': {
        const known = p.updates.length && r.chance(0.7) ? r.pick(p.updates) : { agentId: this.id(p.agents), taskId: this.id(), uuid: this.uuid() };
        return { type: 'ACKNOWLEDGE', ...known };
      }
      case 'RECONCILE':
        return r.chance(0.5) ? { type: 'RECONCILE' } : { type: 'RECONCILE', taskIds: Array.from({ length: r.int(0, 20) }, () => this.id()) };
      case 'MESSAGE':
        return { type: 'MESSAGE', agentId: this.id(p.agents), executorId: this.id(), data: r.bytes(r.int(0, 128)) };
      default:
        return { type: 'TEARDOWN' };
    }
  }
}

function recordingLogger(lines: string[]): Logger {
  const logger: Logger = {
    debug: () => {},
    info: () => {},
    warn: () => {},
    error: (obj, msg) => void lines.push(`${msg ?? ''} ${JSON.stringify(obj)}`),
    child: () => logger,
  };
  return logger;
}

test(`every event the master sends passes its receiver's schema over ${CALLS} random valid calls (seed ${SEED})`, async () => {
  const errors: string[] = [];
  const master = new Master({ ip: '127.0.0.1', port: 0, allocationIntervalMs: 50, logger: recordingLogger(errors) });
  const { port } = await master.start();
  const invalid: string[] = [];
  const seen = new Map<string, number>();
  const pools = new Pools();
  const random = new Random(SEED);
  const calls = new Calls(random, pools);
  const url = (kind: Kind) => `ws://127.0.0.1:${port}/api/v1/${kind}`;
  const peers: FakePeer[] = [];
  const slots: FakePeer[] = [];
  const connect = (kind: Kind) => {
    const peer = new FakePeer(kind, url(kind), invalid, seen, pools);
    peers.push(peer);
    return peer;
  };
  for (let i = 0; i < AGENTS; i++) slots.push(connect('agent'));
  for (let i = 0; i < FRAMEWORKS; i++) slots.push(connect('scheduler'));
  try {
    for (let n = 0; n < CALLS; n++) {
      const slot = random.int(0, slots.length - 1);
      let peer = slots[slot]!;
      await peer.opened();
      if (!peer.isOpen) {
        peer = slots[slot] = connect(peer.kind);
        await peer.opened();
      }
      const own = random.chance(0.8);
      const call = peer.kind === 'agent'
        ? calls.agentCall(own ? pools.agents.at(-1 - (slot % AGENTS)) : undefined, peer.fresh)
        : calls.schedulerCall(own ? pools.frameworks.at(-1 - (slot % FRAMEWORKS)) : undefined, peer.fresh, peer.offers);
      // The generator's own check: only calls the schema accepts count.
      if (peer.kind === 'agent') validate(AgentCall, call, 'frame');
      else validate(SchedulerCall, call, 'frame');
      await peer.send(call);
      if (n % 200 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // Quiet: no new event for 300 ms (the allocation loop keeps offering, so only events other than OFFERS count).
    let last = -1;
    await waitFor(
      async () => {
        const total = [...seen.entries()].filter(([type]) => type !== 'OFFERS' && type !== 'HEARTBEAT' && type !== 'PING').reduce((sum, [, count]) => sum + count, 0);
        const quiet = total === last;
        last = total;
        await new Promise((resolve) => setTimeout(resolve, 300));
        return quiet || undefined;
      },
      { timeoutMs: 30_000, message: 'the master going quiet' },
    );
  } finally {
    for (const peer of peers) peer.ws.terminate();
    await master.stop();
  }
  assert.equal(invalid.slice(0, 5), [], `${invalid.length} events failed their receiver's schema`);
  assert.equal(errors.filter((line) => line.includes('event not sent')).slice(0, 5), [], "the master's outgoing check had to drop events it built");
  for (const type of ['REGISTERED', 'SUBSCRIBED', 'OFFERS', 'UPDATE', 'RUN_TASK', 'ERROR']) {
    assert.ok((seen.get(type) ?? 0) > 0, `no ${type} event in the run (${JSON.stringify([...seen])})`);
  }
});

test.run();
