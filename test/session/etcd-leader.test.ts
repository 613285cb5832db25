import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

// etcd3 (gRPC and protobufjs) costs about half a second and 27 MB at start-up: an agent, a
// `lifeline run` or a SchedulerDriver given HOST:PORT must never load it (issue 12).
const Lazy = suite('session/etcd-leader: etcd3 is loaded only when etcd is used');

const modules = ['../../src/cli/agent.js', '../../src/cli/run.js', '../../src/cli/state.js', '../../src/cli/master.js', '../../src/scheduler/index.js', '../../src/agent/index.js'].map((m) => fileURLToPath(new URL(m, import.meta.url)));

function etcdModulesAfter(script: string): number {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.is(result.status, 0, result.stderr);
  const count = Number(result.stdout.trim().split('\n').at(-1));
  assert.ok(Number.isInteger(count), `stdout: ${JSON.stringify(result.stdout)} stderr: ${result.stderr}`);
  return count;
}

const COUNT = `import { createRequire } from 'node:module'; const require = createRequire(import.meta.url); process.stdout.write(String(Object.keys(require.cache).filter((k) => k.includes('/etcd3/')).length));`;

Lazy('importing the CLI, the agent and the driver loads no etcd3 module', () => {
  const script = `${modules.map((m) => `await import(${JSON.stringify(m)});`).join(' ')} ${COUNT}`;
  assert.is(etcdModulesAfter(script), 0);
});

Lazy('the check sees etcd3 once it is loaded (it is not vacuous)', () => {
  const client = fileURLToPath(new URL('../../src/session/etcd-leader.js', import.meta.url));
  const script = `const { etcdClient } = await import(${JSON.stringify(client)}); (await etcdClient([{ host: '127.0.0.1', port: 1 }])).close(); ${COUNT}`;
  assert.ok(etcdModulesAfter(script) > 0);
});

Lazy.run();
