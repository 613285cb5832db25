// Real `lifeline master` processes for the high-availability tests and bench (issue 12): started on
// a given port (so that a restarted master is where clients expect it), killed with SIGKILL, and
// asked over HTTP whether they lead.
import { getJson, lifeline, waitFor, type Proc } from '../helpers.js';

export interface MasterState {
  leader?: string | null;
  leading?: boolean;
  epoch?: number;
  agents: Array<{ id: string; status: string }>;
  frameworks: Array<{ id: string; status: string; tasks: Array<{ id: string; state: string }> }>;
}

/** Starts `lifeline master` on 127.0.0.1:port and waits for /health. */
export async function startMasterAt(port: number, flags: string[] = [], timeoutMs = 15_000): Promise<Proc> {
  const master = lifeline(['master', '--ip=127.0.0.1', `--port=${port}`, ...flags]);
  try {
    await waitFor(async () => master.exit === undefined && (await getJson(`http://127.0.0.1:${port}/health`)).status === 200, {
      timeoutMs,
      message: `master /health on 127.0.0.1:${port}\n${master.stderr.slice(-3000)}`,
    });
  } catch (error) {
    await master.stop();
    throw error;
  }
  return master;
}

/** SIGKILL, and wait until it is gone (its port is then free again). */
export async function kill9(proc: Proc): Promise<void> {
  proc.signal('SIGKILL');
  await proc.waitForExit(10_000);
}

export async function masterState(port: number): Promise<MasterState | undefined> {
  try {
    const { status, body } = await getJson(`http://127.0.0.1:${port}/state`);
    return status === 200 ? (body as MasterState) : undefined;
  } catch {
    return undefined;
  }
}
