// Shared by the unit tests of the agent's node model and the flows that take it: a real NodeModel
// on a real temp work dir (with a real Checkpointer when checkpointing), what it forwarded to the
// "master" captured, and a fake executor connection (a unit-test mock) that records what it is sent.
import path from 'node:path';
import { Checkpointer } from '../../src/checkpoint/checkpointer.js';
import type { ExecutorConnection } from '../../src/agent/executor-endpoint.js';
import { ExecutorRun, type ExecutorRunInit, type Framework } from '../../src/agent/executor-run.js';
import { AgentMetrics } from '../../src/agent/metrics.js';
import { hashToken } from '../../src/agent/token.js';
import { NodeModel } from '../../src/agent/node-model.js';
import { validateOptions, type AgentOptions } from '../../src/agent/options.js';
import type { StatusUpdate } from '../../src/agent/status-update-manager.js';
import type { Logger } from '../../src/log.js';
import type { ExecutorEvent, TaskInfo } from '../../src/protocol/index.js';
import { removeDir, tempDir } from '../helpers.js';

export const RESOURCES = { cpus: 2, mem: 1024, disk: 1000 };
/** The token of every run the harness makes. */
export const TOKEN = 'token-of-the-run';

export class ModelHarness {
  readonly dir = tempDir('ll-nm-');
  readonly forwarded: StatusUpdate[] = [];
  readonly model: NodeModel;
  readonly checkpointer: Checkpointer | undefined;
  /** Whether the "master" takes forwarded updates (false: the link is down). */
  connected = true;
  /** What the model logged at warn and error (pino's levels: 40, 50), as {level, msg}. */
  readonly #logged: Array<{ level: number; msg: string }> = [];

  constructor(options: Partial<AgentOptions> = {}) {
    const config = validateOptions({ master: '127.0.0.1:1', workDir: path.join(this.dir, 'work'), runtimeDir: path.join(this.dir, 'rt'), resources: RESOURCES, hostname: 'node-1', ...options });
    this.checkpointer = config.checkpoint ? new Checkpointer({ workDir: config.workDir, batching: config.checkpointBatching }) : undefined;
    const metrics = new AgentMetrics({ registered: () => 1, executors: () => ({}), pendingUpdates: () => 0, executorConnections: () => 0 });
    this.model = new NodeModel({
      config,
      checkpointer: this.checkpointer,
      logger: recordingLogger(this.#logged),
      metrics,
      forward: (update) => {
        if (!this.connected) return false;
        this.forwarded.push(update);
        return true;
      },
    });
  }

  /** Lines logged at warn (40) or error (50). */
  logLines(): ReadonlyArray<{ level: number; msg: string }> {
    return this.#logged;
  }

  get workDir(): string {
    return this.model.config.workDir;
  }

  /** The states forwarded for a task, in order. */
  statesOf(taskId: string): string[] {
    return this.forwarded.filter((update) => update.status.taskId === taskId).map((update) => update.status.state);
  }

  framework(id = 'fw-1', checkpoint = false): Framework {
    return this.model.frameworkFor({ id, name: id, checkpoint });
  }

  /** A run of executor `executorId` put into the model as LAUNCHING (no process). */
  run(framework: Framework, executorId = 'ex-1', init: { containerId?: string; checkpoint?: boolean; tokenHash?: string; recovered?: ExecutorRunInit['recovered'] } = {}): ExecutorRun {
    const containerId = init.containerId ?? `c-${executorId}`;
    const checkpoint = init.checkpoint ?? false;
    const agentId = this.model.id ?? 'agent-1';
    const run = new ExecutorRun({
      info: { executorId, frameworkId: framework.info.id, command: { value: 'true' } },
      framework,
      containerId,
      tokenHash: init.tokenHash ?? hashToken(TOKEN),
      sandbox: path.join(this.dir, 'sandboxes', executorId, containerId),
      commandTask: false,
      checkpoint,
      ...(checkpoint && { ref: { agentId, frameworkId: framework.info.id, executorId, containerId } }),
      ...(init.recovered && { recovered: init.recovered }),
    });
    framework.executors.set(executorId, run);
    return run;
  }

  /** Writes agent.json, framework.json, executor.json and the run dir of a checkpointing run (as the launcher does); its tasks follow. */
  async checkpoint(run: ExecutorRun): Promise<void> {
    const cp = this.checkpointer!;
    const ref = run.ref!;
    await cp.checkpointAgent({ id: ref.agentId, hostname: 'node-1', resources: RESOURCES, checkpoint: true });
    await cp.checkpointFramework({ agentId: ref.agentId }, run.framework.info);
    await cp.checkpointExecutor({ agentId: ref.agentId, frameworkId: ref.frameworkId, executorId: ref.executorId }, run.info, { generated: run.commandTask });
    await cp.checkpointRun(ref, { tokenHash: run.tokenHash });
  }

  async close(): Promise<void> {
    this.model.markStopped();
    this.model.clearTimers();
    await this.model.updates.idle();
    this.model.updates.close();
    await this.checkpointer?.close().catch(() => {});
    removeDir(this.dir);
  }
}

export function task(taskId: string, agentId = 'agent-1', extra: Partial<TaskInfo> = {}): TaskInfo {
  return { taskId, name: taskId, agentId, resources: { cpus: 0.1, mem: 16, disk: 0 }, ...extra };
}

/** A stand-in for an executor's connection (unit tests only): open, and recording what it is sent. */
export class FakeConnection {
  readonly sent: ExecutorEvent[] = [];
  isOpen = true;
  accepted: { frameworkId: string; executorId: string; containerId: string } | undefined;
  failed: { code: string; message: string } | undefined;
  closedWith: { code: number; reason: string } | undefined;
  shutdown: { gracePeriodMs: number; reason: string } | undefined;
  readonly closed = Promise.resolve();

  send(event: ExecutorEvent): boolean {
    if (!this.isOpen) return false;
    this.sent.push(event);
    return true;
  }

  accept(identity: { frameworkId: string; executorId: string; containerId: string }): void {
    this.accepted = identity;
  }

  fail(code: string, message: string): void {
    this.failed = { code, message };
    this.isOpen = false;
  }

  shutdownAndClose(gracePeriodMs: number, reason: string): void {
    this.shutdown = { gracePeriodMs, reason };
    this.isOpen = false;
  }

  close(code = 1000, reason = ''): void {
    this.closedWith = { code, reason };
    this.isOpen = false;
  }

  sentOf<T extends ExecutorEvent['type']>(type: T): Array<Extract<ExecutorEvent, { type: T }>> {
    return this.sent.filter((event): event is Extract<ExecutorEvent, { type: T }> => event.type === type);
  }

  get asConnection(): ExecutorConnection {
    return this as unknown as ExecutorConnection;
  }
}

/** A Logger that keeps warn and error lines (the rest is dropped), for tests that check what is logged. */
function recordingLogger(into: Array<{ level: number; msg: string }>): Logger {
  const keep = (level: number) => (obj: object | string, msg?: string) => {
    into.push({ level, msg: typeof obj === 'string' ? obj : (msg ?? '') });
  };
  const logger: Logger = { debug: () => {}, info: () => {}, warn: keep(40), error: keep(50), child: () => logger };
  return logger;
}
