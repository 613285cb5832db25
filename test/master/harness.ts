// An in-process Master on port 0 with fake agents and schedulers (raw ws peers), all closed by
// stop(): the master's unit tests talk to it exactly as the real agent and driver would.
import { newId, type AgentEvent, type SchedulerEvent } from '../../src/protocol/index.js';
import { Master, type MasterOptions } from '../../src/master/index.js';
import type { MasterState } from '../../src/master/index.js';
import { getJson, removeDir, tempDir } from '../helpers.js';
import { Peer } from './peer.js';

export type AgentPeer = Peer<typeof AgentEvent>;
export type SchedulerPeer = Peer<typeof SchedulerEvent>;

export const AGENT_INFO = { hostname: 'node-1', resources: { cpus: 4, mem: 4096, disk: 10_000 }, checkpoint: true };

export class Harness {
  master!: Master;
  port = 0;
  #peers: Array<Peer<typeof AgentEvent> | Peer<typeof SchedulerEvent>> = [];

  async start(options: MasterOptions = {}): Promise<this> {
    this.master = new Master({ ip: '127.0.0.1', port: 0, ...options });
    ({ port: this.port } = await this.master.start());
    return this;
  }

  async stop(): Promise<void> {
    for (const peer of this.#peers) peer.close();
    this.#peers = [];
    await this.master?.stop();
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  async state(): Promise<MasterState> {
    const { status, body } = await getJson(this.url('/state'));
    if (status !== 200) throw new Error(`/state answered ${status}`);
    return body as MasterState;
  }

  async agentPeer(): Promise<AgentPeer> {
    const peer = Peer.agent(this.port);
    this.#peers.push(peer);
    return peer.open();
  }

  async schedulerPeer(): Promise<SchedulerPeer> {
    const peer = Peer.scheduler(this.port);
    this.#peers.push(peer);
    return peer.open();
  }

  /** A fake agent that has registered; it answers PINGs with PONGs unless told not to. */
  async agent(info: Partial<typeof AGENT_INFO> = {}, { pong = true } = {}): Promise<{ peer: AgentPeer; agentId: string }> {
    const peer = await this.agentPeer();
    if (pong) peer.ws.on('message', () => answerPings(peer));
    peer.send({ type: 'REGISTER', agentInfo: { ...AGENT_INFO, ...info } });
    const { agentId } = await peer.next('REGISTERED');
    return { peer, agentId };
  }

  /** A fake agent re-registering under `agentId`. */
  async reregister(agentId: string, extra: { frameworks?: unknown[]; tasks?: unknown[]; executors?: unknown[] } = {}): Promise<AgentPeer> {
    const peer = await this.agentPeer();
    peer.ws.on('message', () => answerPings(peer));
    peer.send({ type: 'REREGISTER', agentInfo: { ...AGENT_INFO, id: agentId }, frameworks: [], executors: [], tasks: [], ...extra });
    return peer;
  }

  async scheduler(frameworkInfo: { name?: string; checkpoint?: boolean; id?: string; failoverTimeoutMs?: number } = {}): Promise<{ peer: SchedulerPeer; frameworkId: string }> {
    const peer = await this.schedulerPeer();
    peer.send({ type: 'SUBSCRIBE', frameworkInfo: { name: 'test', checkpoint: false, ...frameworkInfo } });
    const { frameworkId } = await peer.next('SUBSCRIBED');
    return { peer, frameworkId };
  }
}

/** The masters and work dirs one test makes: all stopped and removed by close() (in after.each). */
export class TestScope {
  readonly #harnesses: Harness[] = [];
  readonly #dirs: string[] = [];

  constructor(readonly dirPrefix = 'll-master-') {}

  async master(options: MasterOptions = {}): Promise<Harness> {
    const h = new Harness();
    this.#harnesses.push(h);
    return h.start(options);
  }

  workDir(): string {
    const dir = tempDir(this.dirPrefix);
    this.#dirs.push(dir);
    return dir;
  }

  async close(): Promise<void> {
    for (const h of this.#harnesses.splice(0)) await h.stop();
    for (const dir of this.#dirs.splice(0)) removeDir(dir);
  }
}

function answerPings(peer: AgentPeer): void {
  for (const ping of peer.pending('PING')) {
    peer.frames.splice(peer.frames.indexOf(ping), 1);
    peer.send({ type: 'PONG' });
  }
}

export function commandTask(taskId: string, cpus = 1, mem = 128) {
  return { taskId, name: taskId, resources: { cpus, mem }, command: { value: 'sleep 100' } };
}

/** A status as an agent forwards it. */
export function agentStatus(agentId: string, taskId: string, state: string, uuid = newId()) {
  return { taskId, state, uuid, timestamp: Date.now(), source: 'SOURCE_EXECUTOR', agentId, executorId: taskId };
}

/** Subscribes a framework, takes its offer of the agent and launches one command task there. */
export async function launchOne(scheduler: SchedulerPeer, agent: AgentPeer, agentId: string, taskId = 't1') {
  const { offers } = await scheduler.next('OFFERS');
  const offer = offers.find((o) => o.agentId === agentId);
  if (!offer) throw new Error(`no offer for agent ${agentId}`);
  scheduler.send({ type: 'ACCEPT', offerIds: [offer.id], tasks: [commandTask(taskId)] });
  const run = await agent.next('RUN_TASK');
  return { offer, run };
}
