// Shared by the agent's recovery tests: real Agents (in this process) or the built CLI on one work
// dir, restarted on it; a fake master (a ws server) and fake executors (raw ws clients on the
// agent's real socket) subscribing in the name of real fixture processes, whose pids the agent
// checkpoints and checks. Everything started here is registered for cleanup.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Agent, type AgentOptions } from '../../src/agent/index.js';
import { parseRecordLog } from '../../src/checkpoint/record-log.js';
import type { LogRecord } from '../../src/checkpoint/records.js';
import { createLogger } from '../../src/log.js';
import type { FrameworkInfo, TaskInfo, TaskState } from '../../src/protocol/index.js';
import { FIXTURES, Proc, getJson, lifeline, removeDir, tempDir, waitFor } from '../helpers.js';
import { FakeExecutor, FakeMaster } from './fakes.js';

export interface Recorded {
  pid: number;
  pgid: number;
  sid: number;
  cwd: string;
  env: Record<string, string>;
}

export const RESOURCES = { cpus: 4, mem: 4096, disk: 10_000 };

export class Harness {
  dir = '';
  master: FakeMaster | undefined;
  readonly agents: Agent[] = [];
  readonly executors: FakeExecutor[] = [];
  readonly pids: number[] = [];
  readonly procs: Proc[] = [];

  setUp(): void {
    this.dir = tempDir('ll-rc-');
  }

  async tearDown(): Promise<void> {
    for (const executor of this.executors.splice(0)) executor.terminate();
    await Promise.all(this.procs.splice(0).map((proc) => proc.stop()));
    await Promise.all(this.agents.splice(0).map((agent) => agent.stop().catch(() => {})));
    await this.master?.close();
    this.master = undefined;
    for (const pid of this.pids.splice(0)) {
      try {
        process.kill(-pid, 'SIGCONT');
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone, as it should be
      }
    }
    removeDir(this.dir);
  }

  get workDir(): string {
    return path.join(this.dir, 'work');
  }

  get runtimeDir(): string {
    return path.join(this.dir, 'rt');
  }

  get socketPath(): string {
    return path.join(this.runtimeDir, 'executors', 'agent.sock');
  }

  get meta(): string {
    return path.join(this.workDir, 'meta');
  }

  async startMaster(): Promise<FakeMaster> {
    this.master = await FakeMaster.start();
    return this.master;
  }

  /** An agent on the harness's work dir (not started). */
  async agent(options: Partial<AgentOptions> = {}): Promise<Agent> {
    const agent = new Agent({
      master: this.master!.address,
      workDir: this.workDir,
      runtimeDir: this.runtimeDir,
      port: 0,
      resources: RESOURCES,
      hostname: 'test-host',
      registrationBackoffFactorMs: 50,
      executorShutdownGracePeriodMs: 200,
      executorReregistrationTimeoutMs: 10_000,
      statusUpdateRetryIntervalMinMs: 60_000,
      statusUpdateRetryIntervalMaxMs: 60_000,
      logger: process.env.LIFELINE_TEST_LOG ? await createLogger('agent-test', process.env.LIFELINE_TEST_LOG) : undefined,
      ...options,
    });
    this.agents.push(agent);
    return agent;
  }

  /** Starts an agent and waits until it is registered. */
  async registered(options: Partial<AgentOptions> = {}): Promise<Agent> {
    const agent = await this.agent(options);
    await agent.start();
    await waitFor(() => agent.status === 'RUNNING', { message: 'the agent to register' });
    return agent;
  }

  /** The built CLI as an agent on the harness's work dir. */
  cliAgent(port: number, flags: string[] = []): Proc {
    const proc = lifeline([
      'agent',
      `--master=${this.master!.address}`,
      `--work_dir=${this.workDir}`,
      `--runtime_dir=${this.runtimeDir}`,
      `--port=${port}`,
      '--resources=cpus:4;mem:4096;disk:10000',
      '--hostname=test-host',
      '--registration_backoff_factor=50ms',
      '--executor_shutdown_grace_period=200ms',
      '--status_update_retry_interval_min=1mins',
      ...flags,
    ], { env: { ...process.env, LIFELINE_LOG_LEVEL: process.env.LIFELINE_TEST_LOG ?? 'info' } });
    this.procs.push(proc);
    return proc;
  }

  /** A task for a custom executor running a fixture script (`mode`: exit code, or 'wait'). */
  fixtureTask(taskId: string, executorId: string, mode: string, frameworkId = 'f1', fixture = 'agent-executor.mjs'): { task: TaskInfo; out: string } {
    const out = path.join(this.dir, `${executorId}-${randomUUID().slice(0, 8)}.json`);
    const args = fixture === 'agent-executor.mjs' ? [out, mode] : [out, taskId];
    const value = `exec ${[process.execPath, path.join(FIXTURES, fixture), ...args].map((arg) => JSON.stringify(arg)).join(' ')}`;
    return {
      out,
      task: { taskId, name: `task ${taskId}`, agentId: 'agent-1', resources: { cpus: 0.1, mem: 32 }, executor: { executorId, frameworkId, command: { value } } },
    };
  }

  async readRecord(out: string): Promise<Recorded> {
    const record = await waitFor(() => (fs.existsSync(out) ? (JSON.parse(fs.readFileSync(out, 'utf8')) as Recorded) : undefined), {
      message: `the fixture executor to record ${out}`,
    });
    this.pids.push(record.pid);
    return record;
  }

  /** Runs a fixture executor for a task (RUN_TASK from the fake master) and returns what it recorded. */
  async launch(taskId: string, executorId: string, fw: FrameworkInfo & { id: string }, mode = 'wait', fixture?: string) {
    const { task, out } = this.fixtureTask(taskId, executorId, mode, fw.id, fixture);
    this.master!.send({ type: 'RUN_TASK', frameworkInfo: fw, task });
    return { task, record: await this.readRecord(out) };
  }

  /** Launches and subscribes a fake executor in the fixture's name; waits for its LAUNCH. */
  async launchAndSubscribe(taskId: string, executorId: string, fw: FrameworkInfo & { id: string }, fixture?: string) {
    const { task, record } = await this.launch(taskId, executorId, fw, 'wait', fixture);
    const executor = await this.connect();
    executor.send(subscribeCall(record));
    await executor.waitForEvent('SUBSCRIBED');
    await executor.waitForEvent('LAUNCH', (event) => (event.task as TaskInfo).taskId === taskId);
    return { executor, record, task };
  }

  async connect(): Promise<FakeExecutor> {
    const executor = await FakeExecutor.connectWhenListening(this.socketPath);
    this.executors.push(executor);
    return executor;
  }

  /** meta/agents/agent-1/frameworks/<fid>/executors/<eid>/runs/<cid> */
  runDir(record: Recorded, agentId = 'agent-1'): string {
    const env = record.env;
    return path.join(this.meta, 'agents', agentId, 'frameworks', env.LIFELINE_FRAMEWORK_ID!, 'executors', env.LIFELINE_EXECUTOR_ID!, 'runs', env.LIFELINE_CONTAINER_ID!);
  }

  taskUpdates(record: Recorded, taskId: string): string {
    return path.join(this.runDir(record), 'tasks', taskId, 'task.updates');
  }
}

export function framework(id: string, checkpoint: boolean): FrameworkInfo & { id: string } {
  return { id, name: `framework ${id}`, checkpoint };
}

export function subscribeCall(record: Recorded, overrides: Record<string, unknown> = {}) {
  return {
    type: 'SUBSCRIBE',
    frameworkId: record.env.LIFELINE_FRAMEWORK_ID,
    executorId: record.env.LIFELINE_EXECUTOR_ID,
    containerId: record.env.LIFELINE_CONTAINER_ID,
    token: record.env.LIFELINE_EXECUTOR_TOKEN,
    protocol: 1,
    unacknowledgedTasks: [],
    unacknowledgedUpdates: [],
    ...overrides,
  };
}

export function update(taskId: string, state: TaskState, uuid = randomUUID()) {
  return { type: 'UPDATE' as const, status: { taskId, state, uuid, timestamp: Date.now(), source: 'SOURCE_EXECUTOR' as const } };
}

/** The records of a record log as they are on disk right now (synchronous: for checks at an exact moment). */
export function readLog(file: string): LogRecord[] {
  return parseRecordLog(fs.readFileSync(file), { file, strict: true }).records;
}

export async function stateOf(agent: Agent): Promise<{ status: number; body: unknown }> {
  return getJson(`http://127.0.0.1:${agent.httpAddress!.port}/state`);
}

export async function metricsOf(agent: Agent): Promise<string> {
  return (await fetch(`http://127.0.0.1:${agent.httpAddress!.port}/metrics`)).text();
}
