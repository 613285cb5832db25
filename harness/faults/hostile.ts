// Fault run "hostile" (issue 4 point 3, docs/reliability.md): thousands of hostile frames and
// connections against a real agent's executor socket and the real master's agent and scheduler
// endpoints, while a legitimate framework launches and finishes tasks through the same master and
// agent and a real executor streams numbered updates through the same socket. Checks: every hostile
// connection is answered (ERROR + 1008, 1009 for an oversize frame, SHUTDOWN for an unknown
// executor, or a close for broken WebSocket framing) and closed within a deadline; the servers stay
// up; the legitimate clients are served throughout (no gap in the executor's acknowledged updates,
// every task finished); peak RSS (VmHWM) of master and agent stays bounded.
//
//   node dist/scripts/faults/hostile.js [--seed=N] [--frames=3000] [--flood=300] [--concurrency=8]
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { encode } from '../../src/protocol/index.js';
import { Scenario } from '../scenario.js';
import { getJson, withTimeout } from '../helpers.js';
import { Random } from '../lib/random.js';
import { printTable } from '../lib/report.js';
import { connectPeer, environOf, progressTask, sendAndWaitClose, trickyIds, writeProgressExecutor, type Peer } from '../lib/fault-cluster.js';
import { memoryOf } from '../lib/proc-usage.js';

export interface HostileOptions {
  seed: number;
  /** Hostile connections, each with one or a few bad frames (or raw bytes). */
  frames: number;
  /** Connections per endpoint that open and never register (held until the server closes them). */
  flood: number;
  /** Hostile connections in flight at once. */
  concurrency: number;
  log?: (line: string) => void;
}

type EndpointName = 'scheduler' | 'agent' | 'executor';

export interface HostileResult {
  seed: number;
  /** Hostile connections by endpoint and category: sent / answered as expected. */
  attempts: Record<string, { sent: number; ok: number }>;
  flood: { opened: number; closedByServer: number };
  legit: { tasksFinished: number; tasksFailed: number; ticks: number; tickGaps: number; tickAcked: number };
  memory: Record<'master' | 'agent', { startMiB: number; peakMiB: number; boundMiB: number }>;
  serversUp: boolean;
  violations: string[];
  wallMs: number;
}

const ANSWER_DEADLINE_MS = 15_000;
/** Peak RSS bound: 3× the RSS after start-up with the legitimate workload running, and never above 256 MiB. */
const RSS_FACTOR = 3;
const RSS_CEILING_MIB = 256;
const MAX_FRAME = 1_048_576;

type Expect = 'error' | 'unauthorized' | 'shutdown-or-error' | 'too-large' | 'close';
interface Attempt {
  endpoint: EndpointName;
  category: string;
  /** WebSocket frames to send on a fresh connection. */
  frames?: Array<Buffer | string>;
  /** Or raw bytes on a raw socket (no WebSocket); `handshake` first completes a real upgrade. */
  raw?: { bytes: Buffer; handshake: boolean };
  expect: Expect;
}

interface Identity {
  frameworkId: string;
  executorId: string;
  containerId: string;
  token: string;
}

/** A msgpack array nested `depth` deep (0x91 = array of one), ending in nil. */
function deepArray(depth: number): Buffer {
  return Buffer.concat([Buffer.alloc(depth, 0x91), Buffer.from([0xc0])]);
}

/** A msgpack map nested `depth` deep: {type: {type: … nil}}. */
function deepMap(depth: number): Buffer {
  const level = Buffer.from([0x81, 0xa4, ...Buffer.from('type')]);
  return Buffer.concat([...Array.from({ length: depth }, () => level), Buffer.from([0xc0])]);
}

function wrongShape(random: Random, type: string): unknown {
  return random.pick<unknown>([
    42,
    'SUBSCRIBE',
    null,
    [type, 1, 2],
    {},
    { type: 7 },
    { type: '' },
    { type: type.toLowerCase() },
    { type },
    { type, status: 'running' },
    { type, frameworkInfo: [] },
    { type, agentInfo: { hostname: '', resources: { cpus: Number.NaN, mem: -1, disk: 1 }, checkpoint: 'yes' } },
    { type, frameworkId: { $gt: '' }, executorId: 1, containerId: true, token: 5, protocol: 'one' },
    { type: '__proto__', __proto__: { polluted: true } },
    { type, constructor: { prototype: { polluted: true } } },
  ]);
}

function validCall(endpoint: EndpointName, ids: Record<string, string>): Record<string, unknown> {
  if (endpoint === 'scheduler') return { type: 'SUBSCRIBE', frameworkInfo: { name: 'hostile', checkpoint: true, ...('frameworkId' in ids ? { id: ids.frameworkId } : {}) } };
  if (endpoint === 'agent') return { type: 'REGISTER', agentInfo: { hostname: 'hostile', resources: { cpus: 1, mem: 1, disk: 1 }, checkpoint: true, ...('agentId' in ids ? { id: ids.agentId } : {}) } };
  return {
    type: 'SUBSCRIBE',
    frameworkId: ids.frameworkId ?? 'fw',
    executorId: ids.executorId ?? 'ex',
    containerId: ids.containerId ?? 'c',
    token: ids.token ?? 'f'.repeat(64),
    protocol: 1,
    unacknowledgedTasks: [],
    unacknowledgedUpdates: [],
  };
}

function makeAttempt(random: Random, real: Identity, other: Identity): Attempt {
  const endpoint = random.pick<EndpointName>(['scheduler', 'agent', 'executor']);
  const registration = endpoint === 'scheduler' ? 'SUBSCRIBE' : endpoint === 'agent' ? 'REGISTER' : 'SUBSCRIBE';
  const categories = ['random bytes', 'text frame', 'truncated msgpack', 'wrong shape', 'huge string', 'huge array', 'many empty containers', 'deep nesting', 'path trick id', 'out of order', 'raw garbage', 'bad websocket framing', 'oversize'];
  if (endpoint === 'executor') categories.push('wrong token', 'replay with another token', 'unknown executor');
  const category = random.pick(categories);
  switch (category) {
    case 'random bytes':
      return { endpoint, category, frames: [random.bytes(random.int(1, 4096))], expect: 'error' };
    case 'text frame':
      return { endpoint, category, frames: [JSON.stringify(validCall(endpoint, {}))], expect: 'error' };
    case 'truncated msgpack': {
      const bytes = encode(validCall(endpoint, {}));
      return { endpoint, category, frames: [bytes.subarray(0, random.int(1, bytes.length - 1))], expect: 'error' };
    }
    case 'wrong shape':
      return { endpoint, category, frames: [encode(wrongShape(random, registration))], expect: 'error' };
    case 'huge string': {
      // In a field the schema reads (an unknown field is dropped, and the frame would be valid).
      const big = 'x'.repeat(random.int(100_000, MAX_FRAME - 1024));
      const call = validCall(endpoint, {});
      const field = random.pick(endpoint === 'executor' ? ['token', 'frameworkId', 'executorId', 'type'] : ['name', 'type']);
      if (field === 'type') call.type = big;
      else if (endpoint === 'scheduler') (call.frameworkInfo as Record<string, unknown>).name = big;
      else if (endpoint === 'agent') (call.agentInfo as Record<string, unknown>).hostname = big;
      else call[field] = big;
      return { endpoint, category: `${category}`, frames: [encode(call)], expect: 'error' };
    }
    case 'huge array': {
      // Up to 200k tiny invalid items in well under a megabyte: validation must not blow up on them.
      const items = Array.from({ length: random.int(20_000, 200_000) }, () => 0);
      const call =
        endpoint === 'scheduler'
          ? random.pick([{ type: 'ACCEPT', offerIds: ['o'], tasks: items }, { type: 'DECLINE', offerIds: items }, { type: 'RECONCILE', taskIds: items }])
          : endpoint === 'agent'
            ? { type: 'REREGISTER', agentInfo: { id: 'a1', hostname: 'h', resources: { cpus: 1, mem: 1, disk: 1 }, checkpoint: true }, frameworks: items, executors: items, tasks: items }
            : { ...validCall('executor', { frameworkId: real.frameworkId, executorId: real.executorId, containerId: real.containerId }), unacknowledgedUpdates: items, unacknowledgedTasks: items };
      return { endpoint, category, frames: [encode(call)], expect: 'error' };
    }
    case 'many empty containers': {
      // One byte per decoded object: the costliest frame to decode that fits the limit.
      const count = random.int(100_000, MAX_FRAME - 64);
      const head = Buffer.from(encode({ type: registration, x: null })).subarray(0, -1);
      const array = Buffer.from([0xdd, (count >>> 24) & 255, (count >>> 16) & 255, (count >>> 8) & 255, count & 255]);
      return { endpoint, category, frames: [Buffer.concat([head, array, Buffer.alloc(count, random.pick([0x80, 0x90]))])], expect: 'error' };
    }
    case 'deep nesting': {
      const depth = random.int(1_000, 200_000);
      return { endpoint, category, frames: [random.chance(0.5) ? deepArray(depth) : deepMap(Math.min(depth, 100_000))], expect: 'error' };
    }
    case 'path trick id': {
      const id = random.pick(trickyIds('/tmp/lifeline-hostile-escape', random));
      const field = endpoint === 'scheduler' ? 'frameworkId' : endpoint === 'agent' ? 'agentId' : random.pick(['frameworkId', 'executorId', 'containerId']);
      return { endpoint, category, frames: [encode(validCall(endpoint, { [field]: id }))], expect: 'error' };
    }
    case 'out of order': {
      const call =
        endpoint === 'scheduler'
          ? random.pick([{ type: 'ACCEPT', offerIds: ['o'], tasks: [] }, { type: 'TEARDOWN' }, { type: 'RECONCILE' }])
          : endpoint === 'agent'
            ? random.pick([{ type: 'PONG' }, { type: 'UNREGISTER' }])
            : random.pick([{ type: 'HEARTBEAT' }, { type: 'MESSAGE', data: randomBytes(8) }]);
      return { endpoint, category, frames: [encode(call)], expect: 'error' };
    }
    case 'raw garbage':
      return { endpoint, category, raw: { bytes: random.bytes(random.int(1, 8192)), handshake: false }, expect: 'close' };
    case 'bad websocket framing': {
      // After a real upgrade: an unmasked client frame, a reserved opcode, RSV bits, or a 2^63 length.
      const variant = random.pick([
        Buffer.from([0x82, 0x03, 1, 2, 3]),
        Buffer.from([0x83, 0x80, 0, 0, 0, 0]),
        Buffer.from([0xf2, 0x80, 0, 0, 0, 0]),
        Buffer.from([0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]),
        Buffer.from([0x88, 0x81, 0, 0, 0, 0, 1]),
      ]);
      return { endpoint, category, raw: { bytes: variant, handshake: true }, expect: 'close' };
    }
    case 'oversize':
      return { endpoint, category, frames: [random.bytes(MAX_FRAME + random.int(1, 200_000))], expect: 'too-large' };
    case 'wrong token':
      return { endpoint, category, frames: [encode(validCall('executor', { ...real, token: random.bytes(32).toString('hex') }))], expect: 'unauthorized' };
    case 'replay with another token': {
      // A real executor's identity with another real executor's token, both connected right now.
      const [who, token] = random.chance(0.5) ? [real, other.token] : [other, real.token];
      return { endpoint, category, frames: [encode(validCall('executor', { frameworkId: who.frameworkId, executorId: who.executorId, containerId: who.containerId, token }))], expect: 'unauthorized' };
    }
    default: // unknown executor: a well-formed SUBSCRIBE from nobody the agent runs
      return { endpoint, category: 'unknown executor', frames: [encode(validCall('executor', { frameworkId: real.frameworkId, executorId: `ghost-${random.int(0, 1e6)}`, containerId: `c-${random.int(0, 1e6)}` }))], expect: 'shutdown-or-error' };
  }
}

/** Raw bytes on a raw socket; resolves once the server has closed it (or rejects at the deadline). */
async function rawAttempt(target: { port?: number; path?: string; upgradePath: string }, bytes: Buffer, handshake: boolean): Promise<void> {
  const socket = target.path ? net.connect(target.path) : net.connect(target.port!, '127.0.0.1');
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  try {
    await withTimeout(new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); }), ANSWER_DEADLINE_MS, 'raw connect');
    if (handshake) {
      const key = randomBytes(16).toString('base64');
      socket.write(`GET ${target.upgradePath} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      let head = '';
      await withTimeout(new Promise<void>((resolve) => {
        const onData = (chunk: Buffer) => {
          head += chunk.toString('latin1');
          if (head.includes('\r\n\r\n')) {
            socket.off('data', onData);
            resolve();
          }
        };
        socket.on('data', onData);
      }), ANSWER_DEADLINE_MS, 'the upgrade response');
      if (!head.startsWith('HTTP/1.1 101')) throw new Error(`upgrade refused: ${head.split('\r\n')[0]}`);
    }
    socket.on('data', () => {});
    socket.write(bytes);
    await withTimeout(closed, ANSWER_DEADLINE_MS, 'the server closing a raw connection after garbage');
  } finally {
    socket.destroy();
  }
}

export async function run(options: HostileOptions): Promise<HostileResult> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const random = new Random(options.seed);
  const violations: string[] = [];
  const attempts: HostileResult['attempts'] = {};
  const result: HostileResult = {
    seed: options.seed,
    attempts,
    flood: { opened: 0, closedByServer: 0 },
    legit: { tasksFinished: 0, tasksFailed: 0, ticks: 0, tickGaps: 0, tickAcked: 0 },
    memory: { master: { startMiB: 0, peakMiB: 0, boundMiB: 0 }, agent: { startMiB: 0, peakMiB: 0, boundMiB: 0 } },
    serversUp: false,
    violations,
    wallMs: 0,
  };
  const s = await Scenario.start();
  const flood: Peer[] = [];
  try {
    // LIFELINE_LOG_LEVEL=info: a debug line per hostile connection would only fill the pipe.
    process.env.LIFELINE_LOG_LEVEL ??= 'info';
    await s.startAgent();
    const framework = await s.framework({ name: 'legit', checkpoint: true });
    const script = writeProgressExecutor(s.fixtures);
    await framework.launch([progressTask('ticker', 'ticker', script, framework.frameworkId, 0, 50), progressTask('other', 'other', script, framework.frameworkId, 1)]);
    await framework.waitFor('ticker', 'TASK_RUNNING', { where: (status) => status.message === 'tick 3' });
    await framework.waitFor('other', 'TASK_RUNNING', { where: (status) => status.message === 'progress 1/1' });
    const agentId = (await s.agentState()).id;
    const identity = async (executorId: string): Promise<Identity> => {
      const run = s.runOf(agentId, framework.frameworkId, executorId);
      const forked = JSON.parse(fs.readFileSync(path.join(run.meta, 'forked.json'), 'utf8')) as { pid: number };
      const token = environOf(forked.pid)?.get('LIFELINE_EXECUTOR_TOKEN');
      if (!token) throw new Error(`no token in the environment of executor ${executorId} (pid ${forked.pid})`);
      return { frameworkId: framework.frameworkId, executorId, containerId: run.containerId, token };
    };
    const real = await identity('ticker');
    const other = await identity('other');
    log(`hostile: workload running after ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const masterPid = s.master.pid;
    const agentPid = s.agent!.pid;
    const startMem = { master: memoryOf(masterPid)!, agent: memoryOf(agentPid)! };
    result.memory.master.startMiB = startMem.master.rssMiB;
    result.memory.agent.startMiB = startMem.agent.rssMiB;
    log(`hostile: master RSS ${startMem.master.rssMiB.toFixed(1)} MiB, agent RSS ${startMem.agent.rssMiB.toFixed(1)} MiB at start`);

    const urls: Record<EndpointName, string> = {
      scheduler: `ws://${s.masterAddress}/api/v1/scheduler`,
      agent: `ws://${s.masterAddress}/api/v1/agent`,
      executor: `ws+unix://${path.join(s.runtimeDir, 'executors', 'agent.sock')}:/api/v1/executor`,
    };
    const masterPort = Number(s.masterAddress.split(':')[1]);
    const rawTargets: Record<EndpointName, { port?: number; path?: string; upgradePath: string }> = {
      scheduler: { port: masterPort, upgradePath: '/api/v1/scheduler' },
      agent: { port: masterPort, upgradePath: '/api/v1/agent' },
      executor: { path: path.join(s.runtimeDir, 'executors', 'agent.sock'), upgradePath: '/api/v1/executor' },
    };

    // The legitimate framework keeps launching command tasks through it all.
    let hostileDone = false;
    const legit = (async () => {
      for (let n = 1; !hostileDone || n <= 2; n++) {
        const taskId = `legit-${n}`;
        await framework.launch([{ taskId, name: taskId, resources: { cpus: 0.1, mem: 32 }, command: { value: 'echo legit' } }], 60_000);
        const terminal = await framework.waitTerminal(taskId, 60_000);
        if (terminal.state === 'TASK_FINISHED') result.legit.tasksFinished += 1;
        else {
          result.legit.tasksFailed += 1;
          violations.push(`legitimate task ${taskId} ended ${terminal.state} (${terminal.message ?? ''})`);
        }
      }
    })();

    // Memory sampling (VmHWM is the kernel's own peak; sampling catches a server that died).
    let peak = { master: startMem.master.peakMiB, agent: startMem.agent.peakMiB };
    const sampler = setInterval(() => {
      for (const [name, pid] of [['master', masterPid], ['agent', agentPid]] as const) {
        const mem = memoryOf(pid);
        if (mem) peak[name] = Math.max(peak[name], mem.peakMiB);
      }
    }, 200);

    try {
      // The flood: connections that open and never register, held while the barrage runs.
      const floodOpen = (async () => {
        for (const endpoint of ['scheduler', 'agent', 'executor'] as const) {
          const batch = await Promise.allSettled(Array.from({ length: options.flood }, () => connectPeer(urls[endpoint], ANSWER_DEADLINE_MS)));
          for (const settled of batch) {
            if (settled.status === 'fulfilled') flood.push(settled.value);
            else violations.push(`flood: could not open a connection to ${endpoint}: ${(settled.reason as Error).message}`);
          }
        }
        result.flood.opened = flood.length;
        log(`hostile: ${flood.length} idle connections open`);
      })();

      // The barrage.
      let next = 0;
      const worker = async () => {
        while (next < options.frames) {
          const index = next++;
          const attempt = makeAttempt(random, real, other);
          const key = `${attempt.endpoint} / ${attempt.category}`;
          const figures = (attempts[key] ??= { sent: 0, ok: 0 });
          figures.sent += 1;
          const begun = performance.now();
          const problem = await runAttempt(attempt, urls, rawTargets).catch((error: Error) => `no answer: ${error.message}`);
          const took = performance.now() - begun;
          if (took > 2_000) log(`hostile: ${key} (#${index}) took ${(took / 1000).toFixed(1)} s`);
          if (problem) violations.push(`${key} (#${index}): ${problem}`);
          else figures.ok += 1;
          if (index % 500 === 499) log(`hostile: ${index + 1}/${options.frames} hostile connections, ${violations.length} violations`);
        }
      };
      await Promise.all([floodOpen, ...Array.from({ length: options.concurrency }, worker)]);
      log(`hostile: barrage done after ${((performance.now() - started) / 1000).toFixed(1)} s; waiting for the servers to close the idle connections`);

      // The servers close every idle connection at their registration deadline (agent 5 s, master 10 s).
      const closedCodes = await withTimeout(Promise.all(flood.map((peer) => peer.closed)), 30_000, 'the servers closing the idle flood connections').catch((error: Error) => {
        violations.push(`flood: ${error.message}`);
        return [] as number[];
      });
      result.flood.closedByServer = closedCodes.length;
    } finally {
      hostileDone = true;
      for (const peer of flood) peer.ws.terminate();
    }
    log(`hostile: idle connections closed after ${((performance.now() - started) / 1000).toFixed(1)} s`);
    await withTimeout(legit, 120_000, 'the legitimate framework finishing its last task').catch((error: Error) => violations.push(`legit: ${error.message}`));
    clearInterval(sampler);

    // The real executor: every tick acknowledged to it reached the framework, in order, no gap.
    const tickerRun = s.runOf(agentId, framework.frameworkId, 'ticker');
    s.release(tickerRun, 'ticker');
    log(`hostile: legitimate framework done after ${((performance.now() - started) / 1000).toFixed(1)} s`);
    await framework.waitFor('ticker', 'TASK_FINISHED', { timeoutMs: 20_000 });
    const ticks = framework.of('ticker').map((status) => /^tick (\d+)$/.exec(status.message ?? '')?.[1]).filter((n): n is string => n !== undefined).map(Number);
    const distinct = [...new Set(ticks)];
    result.legit.ticks = distinct.length;
    result.legit.tickGaps = distinct.filter((n, i) => n !== i + 1).length;
    result.legit.tickAcked = Number(fs.readFileSync(path.join(tickerRun.sandbox, 'acked-ticker'), 'utf8'));
    if (result.legit.tickGaps > 0) violations.push(`the real executor's ticks reached the framework with ${result.legit.tickGaps} gaps or reorderings`);
    if (distinct.length < result.legit.tickAcked) violations.push(`the real executor had ${result.legit.tickAcked} ticks acknowledged but the framework saw ${distinct.length}`);
    if (/subscribed again/.test(s.agent!.stderr)) violations.push('a replayed SUBSCRIBE replaced a real executor\'s connection');
    if (result.legit.tasksFinished === 0) violations.push('no legitimate task finished during the run');

    // Servers up, answering, and the agent still registered.
    const masterHealth = await getJson(`http://${s.masterAddress}/health`).catch(() => ({ status: 0 }));
    const agentHealth = await getJson(`http://${s.agentAddress}/health`).catch(() => ({ status: 0 }));
    const agents = (await s.masterState()).agents;
    result.serversUp = !s.master.exit && !s.agent!.exit && masterHealth.status === 200 && agentHealth.status === 200 && agents.length === 1 && agents[0]!.status === 'ACTIVE';
    if (!result.serversUp) violations.push(`servers: master exit ${JSON.stringify(s.master.exit)}, agent exit ${JSON.stringify(s.agent!.exit)}, health ${masterHealth.status}/${agentHealth.status}, agents ${JSON.stringify(agents)}`);

    for (const [name, pid] of [['master', masterPid], ['agent', agentPid]] as const) {
      const mem = memoryOf(pid);
      if (mem) peak[name] = Math.max(peak[name], mem.peakMiB);
      const bound = Math.min(RSS_FACTOR * result.memory[name].startMiB, RSS_CEILING_MIB);
      result.memory[name].peakMiB = peak[name];
      result.memory[name].boundMiB = bound;
      if (peak[name] > bound) violations.push(`${name} peak RSS ${peak[name].toFixed(1)} MiB over its bound ${bound.toFixed(1)} MiB`);
    }
  } finally {
    for (const peer of flood) peer.ws.terminate();
    if (violations.length > 0) log(s.logs(3_000));
    await s.cleanup();
  }
  result.wallMs = performance.now() - started;
  return result;
}

/** One hostile connection; returns what went wrong, or undefined when the server answered as it should. */
async function runAttempt(attempt: Attempt, urls: Record<EndpointName, string>, raw: Record<EndpointName, { port?: number; path?: string; upgradePath: string }>): Promise<string | undefined> {
  if (attempt.raw) {
    await rawAttempt(raw[attempt.endpoint], attempt.raw.bytes, attempt.raw.handshake);
    return undefined;
  }
  const answer = await sendAndWaitClose(urls[attempt.endpoint], attempt.frames!, ANSWER_DEADLINE_MS);
  const error = answer.error;
  const described = `close ${answer.code}, events ${JSON.stringify(answer.events.map((e) => ({ type: e.type, code: e.code, message: typeof e.message === 'string' ? e.message.slice(0, 100) : undefined })))}`;
  const hasError = error !== undefined && typeof error.code === 'string' && typeof error.message === 'string' && error.message.length > 0;
  const accepted = answer.events.some((e) => e.type === 'SUBSCRIBED' || e.type === 'REGISTERED' || e.type === 'REREGISTERED');
  if (accepted) return `a hostile frame was accepted: ${described}`;
  switch (attempt.expect) {
    case 'error':
      return answer.code === 1008 && hasError ? undefined : answer.code === 1009 ? undefined : `expected ERROR + close 1008, got ${described}`;
    case 'unauthorized':
      return answer.code === 1008 && error?.code === 'ERR_UNAUTHORIZED' ? undefined : `expected ERR_UNAUTHORIZED + close 1008, got ${described}`;
    case 'shutdown-or-error':
      return answer.events.some((e) => e.type === 'SHUTDOWN') || (answer.code === 1008 && hasError) ? undefined : `expected SHUTDOWN, got ${described}`;
    case 'too-large':
      return answer.code === 1009 ? undefined : `expected close 1009, got ${described}`;
    default:
      return undefined;
  }
}

export function printReport(result: HostileResult): void {
  const rows = Object.entries(result.attempts)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([key, f]) => [key, f.sent, f.ok]);
  rows.push(['total', rows.reduce((s, r) => s + (r[1] as number), 0), rows.reduce((s, r) => s + (r[2] as number), 0)]);
  printTable(`hostile frames, seed ${result.seed}: connections per endpoint / category`, ['endpoint / category', 'sent', 'answered as expected'], rows);
  const m = result.memory;
  printTable('checks', ['figure', 'value'], [
    ['idle connections opened / closed by the server at its deadline', `${result.flood.opened} / ${result.flood.closedByServer}`],
    ['legitimate tasks finished / failed', `${result.legit.tasksFinished} / ${result.legit.tasksFailed}`],
    ["real executor's updates acknowledged / seen by the framework / gaps", `${result.legit.tickAcked} / ${result.legit.ticks} / ${result.legit.tickGaps}`],
    ['master RSS at start / peak (VmHWM) / bound, MiB', `${m.master.startMiB.toFixed(1)} / ${m.master.peakMiB.toFixed(1)} / ${m.master.boundMiB.toFixed(1)}`],
    ['agent RSS at start / peak (VmHWM) / bound, MiB', `${m.agent.startMiB.toFixed(1)} / ${m.agent.peakMiB.toFixed(1)} / ${m.agent.boundMiB.toFixed(1)}`],
    ['servers up and answering at the end', result.serversUp ? 'yes' : 'NO'],
    ['violations', result.violations.length],
    ['wall time', `${(result.wallMs / 1000).toFixed(1)} s`],
  ]);
  for (const violation of result.violations.slice(0, 50)) process.stdout.write(`VIOLATION ${violation}\n`);
  if (result.violations.length > 50) process.stdout.write(`… and ${result.violations.length - 50} more\n`);
}
