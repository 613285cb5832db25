// A real etcd server for the high-availability tests and bench (issue 12): Debian's etcd-server on
// loopback, free ports, a temp data dir, stopped and removed afterwards. Without `etcd` on the PATH
// a test skips with one line saying how to install it, except under CI=true, where that is a failure.
import { spawnSync } from 'node:child_process';
import { freePort, Proc, removeDir, tempDir, waitFor } from '../helpers.js';

export interface EtcdServer {
  proc: Proc;
  /** `127.0.0.1:PORT` of the client endpoint. */
  endpoint: string;
  dataDir: string;
  stop(): Promise<void>;
}

export function etcdAvailable(): boolean {
  return spawnSync('etcd', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Says whether the etcd tests can run; if not, prints one line naming `who` and how to install
 * etcd, or throws under CI=true (a skip in CI would hide a missing dependency).
 */
export function requireEtcd(who: string): boolean {
  if (etcdAvailable()) return true;
  const line = `${who}: skipped, no etcd on the PATH (install it: apt-get install etcd-server)`;
  if (process.env.CI === 'true') throw new Error(`${line}; under CI=true this is a failure`);
  process.stdout.write(`${line}\n`);
  return false;
}

export async function startEtcd(): Promise<EtcdServer> {
  const dataDir = tempDir('ll-etcd-');
  const clientPort = await freePort();
  const peerPort = await freePort();
  const endpoint = `127.0.0.1:${clientPort}`;
  const proc = new Proc('etcd', [
    `--data-dir=${dataDir}`,
    '--name=lifeline-test',
    `--listen-client-urls=http://${endpoint}`,
    `--advertise-client-urls=http://${endpoint}`,
    `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-cluster=lifeline-test=http://127.0.0.1:${peerPort}`,
    '--log-level=error',
  ]);
  const stop = async () => {
    await proc.stop();
    removeDir(dataDir);
  };
  try {
    await waitFor(
      async () => {
        if (proc.exit) throw new Error(`etcd exited: ${proc.stderr.slice(-1000)}`);
        const response = await fetch(`http://${endpoint}/health`);
        return response.ok && ((await response.json()) as { health?: string }).health === 'true';
      },
      { timeoutMs: 15_000, message: `etcd healthy on ${endpoint}` },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { proc, endpoint, dataDir, stop };
}
