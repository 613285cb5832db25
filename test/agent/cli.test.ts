// `lifeline agent` as users run it: the built CLI as a child process, against a fake master.
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AGENT_FLAGS } from '../../src/cli/agent.js';
import { freePort, getJson, lifeline, type Proc, removeDir, tempDir, waitFor } from '../helpers.js';
import { FakeMaster } from './fakes.js';

const test = suite('lifeline agent');
let dir: string;
let master: FakeMaster | undefined;
const procs: Proc[] = [];

function run(args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const proc = lifeline(['agent', ...args], { env: { ...process.env, LIFELINE_LOG_LEVEL: 'warn', ...env } });
  procs.push(proc);
  return proc;
}

test.before.each(() => {
  dir = tempDir('ll-cli-');
});

test.after.each(async () => {
  await Promise.all(procs.splice(0).map((proc) => proc.stop()));
  await master?.close();
  master = undefined;
  removeDir(dir);
});

test('--help lists every flag with its default', async () => {
  const proc = run(['--help']);
  assert.equal(await proc.waitForExit(), { code: 0, signal: null });
  for (const [name, spec] of Object.entries(AGENT_FLAGS)) {
    if ('hidden' in spec && spec.hidden) {
      assert.not.match(proc.stdout, `--${name}`, `benchmark-only --${name} is left out of --help`);
      continue;
    }
    assert.match(proc.stdout, `--${name}`);
    const shown = 'default' in spec ? spec.default : 'defaultHelp' in spec ? spec.defaultHelp : undefined;
    if (shown !== undefined) assert.ok(proc.stdout.includes(`(default: ${shown})`), `default of --${name}`);
  }
  for (const flag of ['--master', '--work_dir', '--checkpoint', '--strict', '--recover', '--recovery_timeout', '--executor_reregistration_timeout',
    '--executor_shutdown_grace_period', '--registration_backoff_factor', '--runtime_dir', '--gc_delay', '--status_update_retry_interval_min',
    '--status_update_retry_interval_max', '--max_frame_bytes', '--port', '--ip', '--resources', '--hostname', '--executor_heartbeat_interval']) {
    assert.match(proc.stdout, flag);
  }
});

for (const [args, named] of [
  [['--bogus=1'], /unknown flag --bogus/],
  [['--resources=cpus:x'], /--resources/],
  [['--resources=gpus:1'], /--resources.*gpus/],
  [['--recover=maybe'], /--recover/],
  [['--recovery_timeout=soon'], /--recovery_timeout/],
  [['--port=http'], /--port/],
  [['--master=nohost'], /--master/],
  [['--max_frame_bytes=10'], /--max_frame_bytes/],
  [['--status_update_retry_interval_min=2mins'], /--status_update_retry_interval_max/],
] as Array<[string[], RegExp]>) {
  test(`exits 2 with one line naming the flag for ${args.join(' ')}`, async () => {
    const proc = run(['--master=127.0.0.1:1', `--work_dir=${dir}`, ...args]);
    assert.is((await proc.waitForExit()).code, 2);
    assert.match(proc.stderr, named);
    assert.is(proc.stderr.trim().split('\n').length, 1, proc.stderr);
  });
}

test('exits 2 when --master or --work_dir is missing', async () => {
  const proc = run([`--work_dir=${dir}`]);
  assert.is((await proc.waitForExit()).code, 2);
  assert.match(proc.stderr, /--master is required/);
});

test('exits 1 naming --runtime_dir when the socket path would be too long', async () => {
  const proc = run(['--master=127.0.0.1:1', `--work_dir=${dir}`, `--runtime_dir=${dir}/${'r'.repeat(110)}`]);
  assert.is((await proc.waitForExit()).code, 1);
  assert.match(proc.stderr, /ERR_SOCKET_PATH_TOO_LONG/);
  assert.match(proc.stderr, /--runtime_dir/);
});

async function startAgent(extra: string[] = []): Promise<{ proc: Proc; url: string }> {
  master ??= await FakeMaster.start();
  const port = await freePort();
  const proc = run([`--work_dir=${dir}`, `--runtime_dir=${path.join(dir, 'rt')}`, `--port=${port}`, '--registration_backoff_factor=50ms', ...extra], {
    LIFELINE_AGENT_MASTER: master.address,
  });
  const url = `http://127.0.0.1:${port}/state`;
  await waitFor(async () => ((await getJson(url)).body as { status?: string }).status === 'RUNNING', { message: `agent RUNNING\n${proc.stderr}` });
  return { proc, url };
}

test('takes flags from the environment, registers, and on SIGUSR1 unregisters and exits 0', async () => {
  const { proc } = await startAgent();
  const register = await master!.waitForCall('REGISTER');
  assert.ok(register.agentInfo.resources.cpus > 0, 'resources were detected');
  proc.signal('SIGUSR1');
  assert.equal(await proc.waitForExit(), { code: 0, signal: null });
  assert.is(master!.callsOf('UNREGISTER').length, 1);
});

test('on SIGTERM stops without unregistering and exits 0', async () => {
  const { proc } = await startAgent(['--resources=cpus:2;mem:100;disk:5']);
  const register = await master!.waitForCall('REGISTER');
  assert.equal(register.agentInfo.resources, { cpus: 2, mem: 100, disk: 5 });
  proc.signal('SIGTERM');
  assert.equal(await proc.waitForExit(), { code: 0, signal: null });
  assert.is(master!.callsOf('UNREGISTER').length, 0);
});

// Found by the security fault run: under umask 000, meta/ and the sandboxes were 0777 and their
// files 0666, so anyone on the host could replace a 0600 token.sha256 or an executor's outbox.
test('drops group and other write from its umask, so nothing it writes is writable by others', async () => {
  master ??= await FakeMaster.start();
  const port = await freePort();
  const previous = process.umask(0o000); // the child inherits it at spawn
  let proc: Proc;
  try {
    proc = run([`--work_dir=${dir}`, `--runtime_dir=${path.join(dir, 'rt')}`, `--port=${port}`, '--resources=cpus:2;mem:100;disk:5'], { LIFELINE_AGENT_MASTER: master.address });
  } finally {
    process.umask(previous);
  }
  await master.waitForCall('REGISTER');
  assert.match(fs.readFileSync(`/proc/${proc.pid}/status`, 'utf8'), /^Umask:\s+0022$/m);
  for (const entry of [path.join(dir, 'meta'), path.join(dir, 'meta', 'boot_id')]) {
    if (fs.existsSync(entry)) assert.is(fs.statSync(entry).mode & 0o022, 0, `${entry} is writable by group or others`);
  }
});

test('exits 1 when another agent listens on the same runtime dir', async () => {
  await startAgent();
  const second = run([`--work_dir=${dir}`, `--runtime_dir=${path.join(dir, 'rt')}`, `--port=${await freePort()}`], { LIFELINE_AGENT_MASTER: master!.address });
  assert.is((await second.waitForExit()).code, 1);
  assert.match(second.stderr, /ERR_AGENT_ALREADY_RUNNING/);
});

test('exits 0 when the master tells it to shut down', async () => {
  const { proc } = await startAgent();
  await master!.waitForCall('REGISTER');
  master!.send({ type: 'SHUTDOWN', message: 'agent removed' });
  assert.equal(await proc.waitForExit(), { code: 0, signal: null });
});

test.run();
