import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort, getJson, lifeline, waitFor, type Proc } from '../helpers.js';

const Cli = suite<{ procs: Proc[] }>('lifeline master (CLI)');

Cli.before.each((context) => {
  context.procs = [];
});
Cli.after.each(async ({ procs }) => {
  await Promise.all(procs.map((proc) => proc.stop()));
});

Cli('--help lists every flag with its default and exits 0', async ({ procs }) => {
  const proc = lifeline(['master', '--help']);
  procs.push(proc);
  assert.equal(await proc.waitForExit(), { code: 0, signal: null });
  for (const flag of ['--ip', '--port', '--agent_reregister_timeout', '--agent_ping_timeout', '--max_agent_ping_timeouts', '--allocation_interval', '--max_frame_bytes', '--ssl_cert_file', '--ssl_key_file', '--ssl_require_cert', '--ssl_ca_file']) {
    assert.ok(proc.stdout.includes(flag), `--help mentions ${flag}`);
  }
  assert.match(proc.stdout, /default: 75secs/);
  assert.match(proc.stdout, /default: 5050/);
});

Cli('a bad flag exits 2 with one line naming it', async ({ procs }) => {
  for (const args of [['--no_such_flag=1'], ['--agent_ping_timeout=soon'], ['--port=99999']]) {
    const proc = lifeline(['master', ...args]);
    procs.push(proc);
    assert.equal(await proc.waitForExit(), { code: 2, signal: null }, `exit code for ${args[0]}`);
    const lines = proc.stderr.trim().split('\n');
    assert.is(lines.length, 1, `one line for ${args[0]}: ${proc.stderr}`);
    assert.match(lines[0]!, new RegExp(args[0]!.slice(2).split('=')[0]!));
  }
});

Cli('--ssl_require_cert without TLS or without --ssl_ca_file exits 2 with one line naming the missing flag', async ({ procs }) => {
  const cases: Array<[string[], RegExp]> = [
    [['--ssl_require_cert'], /--ssl_require_cert needs --ssl_cert_file and --ssl_key_file/],
    [['--ssl_require_cert', '--ssl_ca_file=/etc/ca.pem'], /--ssl_require_cert needs --ssl_cert_file and --ssl_key_file/],
    [['--ssl_require_cert', '--ssl_cert_file=/etc/cert.pem', '--ssl_key_file=/etc/key.pem'], /--ssl_require_cert needs --ssl_ca_file/],
    [['--ssl_cert_file=/etc/cert.pem', '--ssl_key_file=/etc/key.pem', '--ssl_ca_file=/etc/ca.pem'], /--ssl_ca_file is only used with --ssl_require_cert/],
  ];
  for (const [args, message] of cases) {
    const proc = lifeline(['master', ...args]);
    procs.push(proc);
    assert.equal(await proc.waitForExit(), { code: 2, signal: null }, `exit code for ${args.join(' ')}`);
    const lines = proc.stderr.trim().split('\n');
    assert.is(lines.length, 1, `one line for ${args.join(' ')}: ${proc.stderr}`);
    assert.match(lines[0]!, message);
  }
});

Cli('serves /health and stops cleanly on SIGTERM', async ({ procs }) => {
  const port = await freePort();
  const proc = lifeline(['master', `--port=${port}`], { env: { ...process.env, LIFELINE_LOG_LEVEL: 'info' } });
  procs.push(proc);
  await waitFor(async () => (await getJson(`http://127.0.0.1:${port}/health`)).status === 200, { message: `master /health\n${proc.stderr}` });
  proc.signal('SIGTERM');
  assert.equal(await proc.waitForExit(), { code: 0, signal: null });
  assert.match(proc.stderr, /master listening/);
  assert.match(proc.stderr, /master stopped/);
});

Cli.run();
