// `lifeline run`: a framework that launches one task and follows it to a terminal state, like
// `mesos-execute` (DESIGN §9). The exit code says how the task ended, so scripts can use it.
import { randomBytes } from 'node:crypto';
import { FlagError, USER_PATTERN, isTerminal, show, type AgentStatusEvent, type NewTaskInfo, type Offer, type Resources, type RoutedTaskStatus } from '../protocol/index.js';
import { StateMachine, type Transitions } from '../lifecycle/state-machine.js';
import { parseMasterSpec } from '../protocol/address.js';
import { parseAddress } from '../scheduler/address.js';
import { readPem, splitScheme, type ClientCertificate } from '../session/tls.js';
import { readCredential } from '../session/credentials.js';
import type { Credential } from '../session/authentication.js';
import { SchedulerDriver } from '../scheduler/driver.js';
import { helpText, parseFlags, type FlagSpec } from './flags.js';
import { fetchMasterState, findTask } from './master-api.js';
import { envPrefix, exitCodeOf, takeEnv } from './run-task.js';

export { envPrefix, exitCodeOf, takeEnv } from './run-task.js';

const SPECS = {
  master: { type: 'string', help: 'the master: HOST:PORT, a list HOST:PORT,HOST:PORT, or etcd://HOST:PORT[,HOST:PORT]/PREFIX', required: true },
  command: { type: 'string', help: 'shell command of the task (with --executor: passed to the executor as the task data)' },
  name: { type: 'string', help: 'framework and task name; the task ID is derived from it', default: 'lifeline-run' },
  checkpoint: { type: 'boolean', help: 'checkpoint the framework (its task survives an agent restart)', default: 'false' },
  resources: { type: 'string', help: 'resources of the task: cpus:N;mem:MB[;disk:MB]', default: 'cpus:0.1;mem:32' },
  executor: { type: 'string', help: 'run the task under this custom executor command (/bin/sh -c CMD)' },
  json: { type: 'boolean', help: 'print one JSON object per line instead of readable lines', default: 'false' },
  env: { type: 'string', help: 'KEY=VALUE in the environment of the task (repeatable)' },
  ssl_ca_file: { type: 'string', help: 'with --master=https://HOST:PORT: the CA certificates (PEM) the master\'s must be signed by (default: the system\'s)' },
  ssl_cert_file: { type: 'string', placeholder: 'PATH', help: 'with --master=https://HOST:PORT: the client certificate chain (PEM; with --ssl_key_file) for a master with --ssl_require_cert' },
  ssl_key_file: { type: 'string', placeholder: 'PATH', help: 'the private key of --ssl_cert_file (PEM)' },
  credential: { type: 'string', placeholder: 'PATH', help: 'JSON {"principal": "...", "secret": "..."} to authenticate the framework to a master with --credentials (challenge and HMAC: the secret never crosses the wire); refused if its group or others can read it' },
  user: { type: 'string', help: 'run the executor and task as this user (FrameworkInfo.user; needs an agent run as root with --switch_user)' },
} satisfies Record<string, FlagSpec>;

const USAGE = '--master=HOST:PORT --command=CMD [--name=N] [--checkpoint] [--resources=R] [--executor=CMD] [--env=KEY=VALUE]... [--json]';
/** How often KILL is sent again while the task has not reached a terminal state (a kill can be lost). */
const KILL_RESEND_MS = 2_000;
/** Offers left over once the task is launched are refused for this long. */
const REFUSE_AFTER_LAUNCH_SECONDS = 3_600;
const RESOURCE_KEYS = ['cpus', 'mem', 'disk'] as const;
/** Limits of the wire schemas (TaskInfo.name, CommandInfo.value), checked here to fail as a usage error. */
const MAX_NAME = 1024;
const MAX_COMMAND = 64 * 1024;

/** Parses `cpus:N;mem:MB[;disk:MB]`; a bad value is a FlagError naming `flag`. */
export function parseResources(text: string, flag = '--resources'): Resources {
  const bad = (why: string) => new FlagError(`invalid value for ${flag}: ${show(text)} (${why}; expected cpus:N;mem:MB[;disk:MB])`);
  const found: Partial<Record<(typeof RESOURCE_KEYS)[number], number>> = {};
  for (const part of text.split(';')) {
    if (part.trim() === '') continue;
    const colon = part.indexOf(':');
    if (colon === -1) throw bad(`${show(part.trim())} has no ':'`);
    const key = part.slice(0, colon).trim();
    const valueText = part.slice(colon + 1).trim();
    if (!(RESOURCE_KEYS as readonly string[]).includes(key)) throw bad(`unknown resource ${show(key)}`);
    const name = key as (typeof RESOURCE_KEYS)[number];
    if (found[name] !== undefined) throw bad(`${name} is given twice`);
    const value = Number(valueText);
    if (valueText === '' || !Number.isFinite(value) || value < 0) throw bad(`${name} must be a non-negative number, got ${show(valueText)}`);
    found[name] = value;
  }
  if (found.cpus === undefined) throw bad('cpus is missing');
  if (found.mem === undefined) throw bad('mem is missing');
  const resources: Resources = { cpus: found.cpus, mem: found.mem };
  if (found.disk !== undefined) resources.disk = found.disk;
  return resources;
}

export function formatResources(r: Resources): string {
  return `cpus:${r.cpus};mem:${r.mem}${r.disk !== undefined ? `;disk:${r.disk}` : ''}`;
}

/** Does an offer hold at least what the task needs? */
export function fits(offer: Offer, need: Resources): boolean {
  return offer.resources.cpus >= need.cpus && offer.resources.mem >= need.mem && (offer.resources.disk ?? 0) >= (need.disk ?? 0);
}

/** A valid task ID (DESIGN §3) made from a free-form name plus a short random suffix. */
export function taskIdFor(name: string, suffix = randomBytes(4).toString('hex')): string {
  const base = name.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[.-]+/, '').slice(0, 150) || 'task';
  return `${base}-${suffix}`;
}

/** The readable line of a status update: `TIME TASK_ID STATE (source, reason): message`. */
export function formatUpdate(status: RoutedTaskStatus): string {
  const why = [status.source, status.reason].filter((x) => x !== undefined).join(', ');
  return `${new Date(status.timestamp).toISOString()} ${status.taskId} ${status.state}${why ? ` (${why})` : ''}${status.message ? `: ${status.message}` : ''}`;
}

/** The `--json` form of a status update: every field present, null when absent. */
export function jsonUpdate(status: RoutedTaskStatus): string {
  const { taskId, state, reason, source, message, uuid, agentId, executorId, timestamp } = status;
  return JSON.stringify({
    type: 'UPDATE',
    status: {
      taskId,
      state,
      reason: reason ?? null,
      source: source ?? null,
      message: message ?? null,
      uuid: uuid ?? null,
      agentId: agentId ?? null,
      executorId: executorId ?? null,
      timestamp,
    },
  });
}

export async function main(argv: string[]): Promise<number> {
  const { env, rest } = takeEnv(argv);
  const { flags, help } = parseFlags('run', SPECS, rest);
  // Only LIFELINE_RUN_ENV can still be in flags.env (one KEY=VALUE): the command line's are taken.
  if (env.length === 0 && flags.env !== undefined) env.push(...takeEnv([`--env=${flags.env}`]).env);
  if (help) {
    process.stdout.write(helpText('run', USAGE, SPECS));
    return 0;
  }
  parseMasterSpec(splitScheme(flags.master).address, '--master');
  if (flags.command === undefined && flags.executor === undefined) {
    throw new FlagError('flag --command is required for lifeline run (or give --executor)');
  }
  if (flags.command !== undefined && flags.command.trim() === '' && flags.executor === undefined) {
    throw new FlagError('invalid value for --command: "" (expected a shell command)');
  }
  if (flags.executor !== undefined && flags.executor.trim() === '') {
    throw new FlagError('invalid value for --executor: "" (expected a shell command)');
  }
  if (flags.name.length > MAX_NAME) throw new FlagError(`invalid value for --name: ${show(flags.name)} (at most ${MAX_NAME} characters)`);
  for (const flag of ['command', 'executor'] as const) {
    const value = flags[flag];
    if (value !== undefined && value.length > MAX_COMMAND) throw new FlagError(`invalid value for --${flag}: ${show(value)} (at most ${MAX_COMMAND} characters)`);
  }
  const need = parseResources(flags.resources);
  if (flags.user !== undefined && !USER_PATTERN.test(flags.user)) throw new FlagError(`invalid value for --user: ${show(flags.user)} (expected a user name)`);
  if ((flags.ssl_cert_file === undefined) !== (flags.ssl_key_file === undefined)) {
    throw new FlagError('--ssl_cert_file and --ssl_key_file go together: give both (a client certificate) or neither');
  }
  return new Run({
    user: flags.user,
    ...(flags.credential !== undefined && { credential: readCredential('--credential', flags.credential) }),
    ca: flags.ssl_ca_file === undefined ? undefined : readPem('--ssl_ca_file', flags.ssl_ca_file),
    ...(flags.ssl_cert_file !== undefined && flags.ssl_key_file !== undefined && {
      clientCertificate: { cert: readPem('--ssl_cert_file', flags.ssl_cert_file), key: readPem('--ssl_key_file', flags.ssl_key_file) },
    }),
    master: flags.master,
    command: flags.command,
    name: flags.name,
    checkpoint: flags.checkpoint,
    need,
    executor: flags.executor,
    json: flags.json,
    env,
  }).run();
}

interface RunOptions {
  master: string;
  ca?: Buffer | undefined;
  clientCertificate?: ClientCertificate;
  credential?: Credential;
  user?: string | undefined;
  command: string | undefined;
  name: string;
  checkpoint: boolean;
  need: Resources;
  executor: string | undefined;
  json: boolean;
  env: Array<[string, string]>;
}

/** One run: SUBSCRIBING (waiting for the master) → WAITING_FOR_OFFER → LAUNCHED → (KILLING) → DONE. */
type Phase = 'SUBSCRIBING' | 'WAITING_FOR_OFFER' | 'LAUNCHED' | 'KILLING' | 'DONE';

const PHASES: Transitions<Phase> = {
  SUBSCRIBING: ['WAITING_FOR_OFFER', 'DONE'],
  WAITING_FOR_OFFER: ['LAUNCHED', 'DONE'],
  LAUNCHED: ['KILLING', 'DONE'],
  KILLING: ['DONE'],
  DONE: [],
};

class Run {
  readonly #o: RunOptions;
  readonly #taskId: string;
  readonly #driver: SchedulerDriver;
  readonly #phase = new StateMachine<Phase>('lifeline run', 'SUBSCRIBING', PHASES);
  #subscriptions = 0;
  #lastConnectionError: string | undefined;
  #killTimer: NodeJS.Timeout | undefined;
  #finish!: (code: number) => void;
  readonly #done: Promise<number>;
  readonly #unfitAgents = new Set<string>();
  /** The agent the task was launched on. */
  #agentId: string | undefined;
  #sandboxShown = false;
  readonly #onSignal = (signal: NodeJS.Signals) => this.#signal(signal);

  constructor(options: RunOptions) {
    this.#o = options;
    this.#taskId = taskIdFor(options.name);
    let exitCode: number | undefined;
    this.#done = new Promise<number>((resolve) => {
      this.#finish = (code) => {
        if (exitCode !== undefined) return;
        exitCode = code;
        this.#phase.transition('DONE');
        clearInterval(this.#killTimer);
        process.off('SIGINT', this.#onSignal);
        process.off('SIGTERM', this.#onSignal);
        void this.#driver.stop().then(() => resolve(code));
      };
    });
    this.#driver = new SchedulerDriver({
      master: options.master,
      ...(options.ca !== undefined && { ca: options.ca }),
      ...(options.clientCertificate && { cert: options.clientCertificate.cert, key: options.clientCertificate.key }),
      ...(options.credential && { credential: { principal: options.credential.principal, secret: options.credential.secret.bytes().toString('utf8') } }),
      frameworkInfo: { name: options.name, checkpoint: options.checkpoint, ...(options.user !== undefined && { user: options.user }) },
      // Acknowledged here, before the driver stops, so the terminal update's ack is never lost.
      autoAcknowledge: false,
      onSubscribed: (frameworkId) => this.#subscribed(frameworkId),
      onOffers: (offers) => this.#offers(offers),
      onUpdate: (status) => this.#update(status),
      onAgentStatus: (event) => this.#agentStatus(event),
      onFailure: (event) => {
        this.#warn(`failure reported by the master: ${event.message ?? `executor ${event.executorId ?? '?'} on agent ${event.agentId ?? '?'}`}`);
      },
      onDisconnected: () => this.#warn(`lost the connection to the master at ${options.master}; reconnecting`),
      onError: (error) => this.#error(error),
    });
  }

  async run(): Promise<number> {
    process.on('SIGINT', this.#onSignal);
    process.on('SIGTERM', this.#onSignal);
    this.#driver.start().catch(() => {
      // Refused by the master (reported by onError, which finishes the run) or stopped by a signal.
    });
    return this.#done;
  }

  #subscribed(frameworkId: string): void {
    this.#subscriptions += 1;
    this.#lastConnectionError = undefined;
    if (this.#o.json) this.#out(JSON.stringify({ type: 'SUBSCRIBED', frameworkId }));
    else this.#out(`${now()} subscribed to ${this.#o.master} as framework ${frameworkId}`);
    if (this.#phase.is('SUBSCRIBING')) {
      this.#phase.transition('WAITING_FOR_OFFER');
    } else if (this.#phase.is('LAUNCHED', 'KILLING') && this.#subscriptions > 1) {
      // An update the master made while we were away may not be resent: ask for the latest.
      this.#driver.reconcile([this.#taskId]);
    }
  }

  #offers(offers: Offer[]): void {
    const unused: string[] = [];
    for (const offer of offers) {
      if (this.#phase.is('WAITING_FOR_OFFER') && fits(offer, this.#o.need)) {
        this.#launch(offer);
        continue;
      }
      if (this.#phase.is('WAITING_FOR_OFFER') && !this.#unfitAgents.has(offer.agentId)) {
        this.#unfitAgents.add(offer.agentId);
        this.#warn(`offer from agent ${offer.agentId} (${offer.hostname}) has ${formatResources(offer.resources)}, too little for ${formatResources(this.#o.need)}; waiting for another`);
      }
      unused.push(offer.id);
    }
    if (unused.length > 0 && !this.#phase.is('DONE')) {
      this.#driver.decline(unused, this.#phase.is('WAITING_FOR_OFFER') ? undefined : REFUSE_AFTER_LAUNCH_SECONDS);
    }
  }

  #launch(offer: Offer): void {
    const frameworkId = this.#driver.frameworkId!;
    const task: NewTaskInfo = { taskId: this.#taskId, name: this.#o.name, agentId: offer.agentId, resources: this.#o.need };
    const prefix = envPrefix(this.#o.env);
    if (this.#o.executor !== undefined) {
      task.executor = { executorId: `${this.#taskId}-executor`, frameworkId, command: { value: prefix + this.#o.executor } };
      if (this.#o.command !== undefined) task.data = Buffer.from(this.#o.command, 'utf8') as Uint8Array<ArrayBuffer>;
    } else {
      task.command = { value: prefix + this.#o.command! };
    }
    this.#agentId = offer.agentId;
    this.#phase.transition('LAUNCHED');
    this.#driver.accept([offer.id], [task]);
    if (!this.#o.json) this.#out(`${now()} launching task ${this.#taskId} on agent ${offer.agentId} (${offer.hostname}) with ${formatResources(this.#o.need)}`);
  }

  #update(status: RoutedTaskStatus): void {
    if (this.#phase.is('DONE')) return;
    if (status.uuid !== undefined && status.agentId !== undefined) this.#driver.acknowledge(status);
    if (status.taskId !== this.#taskId) return;
    this.#out(this.#o.json ? jsonUpdate(status) : formatUpdate(status));
    if (isTerminal(status.state)) this.#finish(exitCodeOf(status));
    else if (status.state === 'TASK_RUNNING' && !this.#o.json && !this.#sandboxShown) void this.#showSandbox();
  }

  /** Once, when the task runs: where its output is (the master learned it from the agent). */
  async #showSandbox(): Promise<void> {
    this.#sandboxShown = true;
    try {
      // One master, plain or https:// (a list or etcd:// gets no hint); read as the framework's principal.
      const { secure, address } = splitScheme(this.#o.master);
      const master = parseAddress(address);
      if (!master) return;
      const options = { ...(this.#o.credential && { credential: this.#o.credential }), ...(this.#o.ca !== undefined && { ca: this.#o.ca }) };
      const { task } = findTask(await fetchMasterState({ ...master, ...(secure && { secure }) }, this.#o.master, options), this.#taskId, this.#driver.frameworkId);
      if (task.sandbox && !this.#phase.is('DONE')) {
        this.#out(`${now()} sandbox ${task.sandbox} on agent ${task.agentId} (lifeline logs ${this.#taskId} --master=${this.#o.master})`);
      }
    } catch {
      // Only a hint: an older master, or one that is away for a moment.
    }
  }

  /** The master says the task's agent went away, came back, or was removed. */
  #agentStatus(event: AgentStatusEvent): void {
    if (this.#phase.is('DONE') || event.agentId !== this.#agentId) return;
    if (this.#o.json) {
      this.#out(JSON.stringify({ ...event, type: 'AGENT_STATUS' }));
      return;
    }
    const agent = `agent ${event.agentId}${event.hostname ? ` (${event.hostname})` : ''}`;
    const at = new Date(event.timestamp).toISOString();
    switch (event.status) {
      case 'DISCONNECTED': {
        const wait = event.reregisterTimeoutMs !== undefined ? `, waiting up to ${seconds(event.reregisterTimeoutMs)} for it to re-register` : '';
        const keeps = this.#o.checkpoint ? 'the task keeps running there' : 'the framework does not checkpoint, so the task is lost';
        this.#out(`${at} ${agent} disconnected; ${keeps}${this.#o.checkpoint ? wait : ''}`);
        return;
      }
      case 'REREGISTERED':
        this.#out(`${at} ${agent} re-registered${event.awayMs !== undefined ? ` after ${(event.awayMs / 1000).toFixed(1)} s` : ''}`);
        return;
      case 'REMOVED':
        this.#out(`${at} ${agent} was removed by the master (it did not come back in time)`);
        return;
    }
  }

  #signal(signal: NodeJS.Signals): void {
    if (this.#phase.is('DONE')) return;
    if (this.#phase.is('SUBSCRIBING', 'WAITING_FOR_OFFER')) {
      this.#warn(`${signal}: no task was launched`);
      this.#finish(1);
      return;
    }
    if (this.#phase.is('KILLING')) {
      this.#warn(`${signal} again: exiting without waiting for task ${this.#taskId} to end`);
      this.#finish(1);
      return;
    }
    this.#phase.transition('KILLING');
    this.#warn(`${signal}: killing task ${this.#taskId} (again to exit without waiting)`);
    const kill = () => {
      if (this.#driver.state !== 'STOPPED') this.#driver.kill(this.#taskId);
    };
    kill();
    this.#killTimer = setInterval(kill, KILL_RESEND_MS);
  }

  #error(error: Error): void {
    const code = (error as { code?: string }).code;
    if (this.#driver.state === 'STOPPED') {
      this.#warn(`${error.message}`);
      this.#finish(1);
    } else if (code === 'ERR_CONNECTION') {
      // Said once per distinct failure: the driver retries with backoff for as long as it takes.
      if (error.message !== this.#lastConnectionError) this.#warn(`${error.message}; retrying`);
      this.#lastConnectionError = error.message;
    } else {
      this.#warn(error.message);
    }
  }

  #out(line: string): void {
    process.stdout.write(`${line}\n`);
  }

  #warn(line: string): void {
    process.stderr.write(`lifeline run: ${line}\n`);
  }
}

/** 75000 → "75s", 1500 → "1.5s". */
function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))}s`;
}

function now(): string {
  return new Date().toISOString();
}
