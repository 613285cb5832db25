// A real master and agent on loopback and a temp dir, as separate processes running the built CLI.
import path from 'node:path';
import { CLI, freePort, getJson, lifeline, Proc, removeDir, tempDir, waitFor } from './helpers.js';

export interface Cluster {
  master: Proc;
  agent: Proc;
  masterAddress: string;
  agentAddress: string;
  workDir: string;
  /** Starts (again) an agent on the same work dir and port, with the given extra flags. */
  startAgent(extraFlags?: string[]): Promise<Proc>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  masterFlags?: string[];
  agentFlags?: string[];
  /** Do not start an agent (start one later with startAgent). */
  noAgent?: boolean;
}

/** A master of this build, or of the release whose CLI main.js is `cli` (test/fixtures/releases/<v>/cli/main.js). */
export async function startMaster(flags: string[] = [], cli: string = CLI): Promise<{ master: Proc; address: string }> {
  const port = await freePort();
  const args = ['master', '--ip=127.0.0.1', `--port=${port}`, ...flags];
  const master = cli === CLI ? lifeline(args) : new Proc(process.execPath, [cli, ...args]);
  const address = `127.0.0.1:${port}`;
  try {
    await waitFor(async () => (await getJson(`http://${address}/health`)).status === 200, {
      timeoutMs: 10_000,
      message: `master /health on ${address}\n${master.stderr}`,
    });
  } catch (error) {
    // Not left running: a live child would keep uvu from ever finishing.
    await master.stop();
    throw error;
  }
  return { master, address };
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const { master, address: masterAddress } = await startMaster(options.masterFlags);
  const workDir = tempDir('ll-e2e-');
  const agentPort = await freePort();
  const agentAddress = `127.0.0.1:${agentPort}`;
  const agents: Proc[] = [];
  const cluster: Cluster = {
    master,
    agent: undefined as unknown as Proc,
    masterAddress,
    agentAddress,
    workDir,
    async startAgent(extraFlags = []) {
      const agent = lifeline([
        'agent',
        `--master=${masterAddress}`,
        `--work_dir=${workDir}`,
        `--runtime_dir=${path.join(workDir, 'rt')}`,
        '--ip=127.0.0.1',
        `--port=${agentPort}`,
        '--registration_backoff_factor=100ms',
        '--resources=cpus:4;mem:4096;disk:10000',
        ...(options.agentFlags ?? []),
        ...extraFlags,
      ]);
      agents.push(agent);
      cluster.agent = agent;
      await waitFor(
        async () => {
          const { status, body } = await getJson(`http://${agentAddress}/state`);
          return status === 200 && (body as { status?: string }).status === 'RUNNING';
        },
        { timeoutMs: 15_000, message: `agent RUNNING on ${agentAddress}\n${agent.stderr.slice(-3000)}` },
      );
      return agent;
    },
    async stop() {
      // SIGUSR1 would shut the executors down too; tests that leave executors behind kill them.
      await Promise.all(agents.map((agent) => agent.stop()));
      await master.stop();
      removeDir(workDir);
    },
  };
  if (!options.noAgent) await cluster.startAgent();
  return cluster;
}
