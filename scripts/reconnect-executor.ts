// The executors of bench-reconnect: real executor runs launched by a real agent, each with its own
// environment and token (DESIGN §2), that note the moment they are subscribed again after the agent
// restarts. Two clients:
//   lifeline  ExecutorDriver as shipped (fs.watch on the socket dir, stat poll when inotify is
//             exhausted, p-retry backoff capped at LIFELINE_SUBSCRIPTION_BACKOFF_MAX);
//   mesos     the baseline: Mesos's executor library policy (src/executor/executor.cpp, backoff()):
//             after the break, an attempt now and then one after every uniform random delay in
//             [0, 2 s) until subscribed. Same transport (AgentConnection), same frames.
// Two ways to run:
//   one process per executor: the agent runs `node reconnect-executor.js --client=… --out=DIR`;
//   --host: one process holding many executors. The agent then runs a stub per executor that drops
//             its environment (`env -0`) into DIR/drop and execs `sleep`, so that the agent still
//             has a live process per run (forked.json names it); the host claims the file (rename),
//             and runs the executor with that environment (ExecutorDriver's internals.env).
// Every re-subscription is appended to OUT/<executorId> as `<k> <Date.now()> <trigger>`.
import fs from 'node:fs';
import path from 'node:path';
import { parseScriptFlags, runScript } from '../harness/lib/args.js';

/** Largest uniform backoff of the baseline: Mesos's MESOS_SUBSCRIPTION_BACKOFF_MAX default (2secs). */
export const MESOS_BACKOFF_MAX_MS = 2_000;

export type ClientKind = 'lifeline' | 'mesos';

interface Recorder {
  /** `attemptAt`: when the attempt that succeeded began (Date.now()). */
  resubscribed(executorId: string, trigger: string, attemptAt: number): void;
}

function recorder(out: string): Recorder {
  const counts = new Map<string, number>();
  return {
    resubscribed(executorId, trigger, attemptAt) {
      const at = Date.now();
      const k = (counts.get(executorId) ?? 0) + 1;
      counts.set(executorId, k);
      // Asynchronous: a host with hundreds of executors must not block its event loop on writes.
      fs.appendFile(path.join(out, executorId), `${k} ${at} ${trigger} ${attemptAt}\n`, () => {});
    },
  };
}

/** Starts one executor with `env`; `done` is called once it has stopped (SHUTDOWN). */
async function startClient(kind: ClientKind, env: NodeJS.ProcessEnv, record: Recorder, done: () => void): Promise<void> {
  if (kind === 'lifeline') await startDriver(env, record, done);
  else await startMesosStyle(env, record, done);
}

async function startDriver(env: NodeJS.ProcessEnv, record: Recorder, done: () => void): Promise<void> {
  const { ExecutorDriver } = await import('../src/executor/index.js');
  const executorId = env.LIFELINE_EXECUTOR_ID ?? '?';
  let trigger = 'immediate';
  let attemptAt = 0;
  const driver = new ExecutorDriver(
    {
      onLaunch: (task) => void driver.update({ taskId: task.taskId, state: 'TASK_RUNNING' }).catch(() => {}),
      onResubscribed: () => record.resubscribed(executorId, trigger, attemptAt),
      onShutdown: () => void driver.stop().then(done),
      onError: (error) => process.stderr.write(`executor ${executorId}: ${error.message}\n`),
    },
    {
      env,
      onAttempt: (why) => {
        trigger = why;
        attemptAt = Date.now();
      },
    },
  );
  await driver.start();
}

async function startMesosStyle(env: NodeJS.ProcessEnv, record: Recorder, done: () => void): Promise<void> {
  const [{ AgentConnection }, { readExecutorEnvironment }, { EXECUTOR_PROTOCOL_VERSION }, { randomUUID }] = await Promise.all([
    import('../src/executor/connection.js'),
    import('../src/executor/environment.js'),
    import('../src/protocol/index.js'),
    import('node:crypto'),
  ]);
  type Connection = InstanceType<typeof AgentConnection>;
  type Event = Parameters<ConstructorParameters<typeof AgentConnection>[1]['event']>[0];
  const info = readExecutorEnvironment(env);
  let connection: Connection | undefined;
  let subscribed = false;
  let everSubscribed = false;
  let stopped = false;
  let chain: NodeJS.Timeout | undefined;
  let attemptAt = 0;
  let task: Extract<Event, { type: 'LAUNCH' }>['task'] | undefined;
  let unacknowledged: { taskId: string; state: 'TASK_RUNNING'; uuid: string; timestamp: number; source: 'SOURCE_EXECUTOR' } | undefined;
  let first: { resolve: () => void } | undefined;
  const started = new Promise<void>((resolve) => (first = { resolve }));

  const connect = () => {
    if (connection || subscribed || stopped) return; // one attempt in flight at a time
    attemptAt = Date.now();
    const attempt: Connection = new AgentConnection(
      info.agentEndpoint,
      {
        open: () =>
          attempt.send({
            type: 'SUBSCRIBE',
            frameworkId: info.frameworkId,
            executorId: info.executorId,
            containerId: info.containerId,
            token: info.token,
            protocol: EXECUTOR_PROTOCOL_VERSION,
            unacknowledgedTasks: task && unacknowledged ? [task] : [],
            unacknowledgedUpdates: unacknowledged ? [unacknowledged] : [],
          }),
        event: (event) => onEvent(attempt, event),
        malformed: () => {},
        closed: () => {
          if (connection !== attempt) return;
          connection = undefined;
          const was = subscribed;
          subscribed = false;
          // Mesos: disconnected() → backoff(): connect now, then every U[0, max). Its library does
          // the same when the first connection fails (a slow agent launching hundreds of executors
          // at once), so the baseline does too; the agent's registration timeout bounds it.
          if (was || (!everSubscribed && chain === undefined)) backoff();
        },
      },
      { handshakeTimeoutMs: 2_000 },
    );
    connection = attempt;
  };
  const backoff = () => {
    if (subscribed || stopped) return;
    connect();
    chain = setTimeout(backoff, Math.random() * MESOS_BACKOFF_MAX_MS);
  };
  const onEvent = (attempt: Connection, event: Event) => {
    switch (event.type) {
      case 'SUBSCRIBED':
        subscribed = true;
        clearTimeout(chain);
        attempt.startHeartbeats(event.heartbeatIntervalMs);
        if (everSubscribed) record.resubscribed(info.executorId, 'backoff', attemptAt);
        everSubscribed = true;
        first?.resolve();
        if (unacknowledged) attempt.send({ type: 'UPDATE', status: unacknowledged });
        break;
      case 'LAUNCH':
        task = event.task;
        unacknowledged = { taskId: event.task.taskId, state: 'TASK_RUNNING', uuid: randomUUID(), timestamp: Date.now(), source: 'SOURCE_EXECUTOR' };
        attempt.send({ type: 'UPDATE', status: unacknowledged });
        break;
      case 'ACKNOWLEDGED':
        if (unacknowledged?.uuid === event.uuid) unacknowledged = undefined;
        break;
      case 'SHUTDOWN':
      case 'ERROR':
        stopped = true;
        clearTimeout(chain);
        void attempt.close(1000, 'shutdown').then(done);
        break;
      default:
        break;
    }
  };
  connect();
  await started;
}

/** `env -0` output: NAME=value records separated by NUL. */
function parseEnv(text: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const record of text.split('\0')) {
    const eq = record.indexOf('=');
    if (eq > 0) env[record.slice(0, eq)] = record.slice(eq + 1);
  }
  return env;
}

/** A host: claims dropped environments (rename into its own dir, so that two hosts never take the same) and runs them. */
async function host(kind: ClientKind, dropDir: string, out: string, name: string): Promise<void> {
  const mine = path.join(dropDir, name);
  fs.mkdirSync(mine, { recursive: true });
  const record = recorder(out);
  let running = 0;
  const scan = async () => {
    const files = (await fs.promises.readdir(dropDir)).filter((file) => file.endsWith('.env'));
    for (const file of files) {
      const claimed = path.join(mine, file);
      try {
        await fs.promises.rename(path.join(dropDir, file), claimed);
      } catch {
        continue; // another host took it
      }
      const env = parseEnv(await fs.promises.readFile(claimed, 'utf8'));
      await fs.promises.rm(claimed); // it holds a token
      running++;
      startClient(kind, env, record, () => running--).catch((error: unknown) => {
        running--;
        process.stderr.write(`host ${name}: executor ${env.LIFELINE_EXECUTOR_ID}: ${(error as Error).message}\n`);
      });
    }
  };
  // Runs until the bench kills it.
  for (;;) {
    await scan().catch((error: unknown) => process.stderr.write(`host ${name}: ${(error as Error).message}\n`));
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function main(): Promise<number> {
  const flags = parseScriptFlags('reconnect-executor', { client: 'lifeline', out: '', host: false, drop: '', name: 'host' });
  if (flags.client !== 'lifeline' && flags.client !== 'mesos') throw new TypeError(`reconnect-executor: --client must be lifeline or mesos, got ${flags.client}`);
  if (!flags.out) throw new TypeError('reconnect-executor: --out=DIR is required');
  const kind = flags.client as ClientKind;
  if (flags.host) {
    if (!flags.drop) throw new TypeError('reconnect-executor: --host needs --drop=DIR');
    await host(kind, flags.drop, flags.out, flags.name);
    return 0;
  }
  // One process per executor: the agent launched us with the environment of DESIGN §2.
  await startClient(kind, process.env, recorder(flags.out), () => process.exit(0));
  return 0;
}

runScript(main);
