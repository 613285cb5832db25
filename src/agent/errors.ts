// Errors that only the agent raises. The shared ones (protocol, IDs, socket path) live in protocol.
import { InvalidOptionError, LifelineError } from '../protocol/index.js';

/** Another agent answers on the executor socket of this runtime dir. */
export class AgentAlreadyRunningError extends LifelineError {
  constructor(socketPath: string, flag: string) {
    super(
      'ERR_AGENT_ALREADY_RUNNING',
      `another agent is already listening on ${socketPath}; stop it first, or give this agent another ${flag}`,
    );
  }
}

/** The runtime dir cannot hold the executor socket safely (wrong type, owner or mode). */
export class RuntimeDirError extends LifelineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_ENVIRONMENT', message, options);
  }
}

/** A bad `Agent` option; `option` names it, so the CLI can name the flag it came from. */
export class AgentOptionError extends InvalidOptionError {
  readonly option: string;

  constructor(option: string, value: unknown, expected: string) {
    super(option, value, expected);
    this.option = option;
  }
}

/** The checkpointed agent.json names another hostname or other resources than this agent has (DESIGN §4). */
export class AgentInfoChangedError extends LifelineError {
  readonly recorded: { hostname: string; resources: { cpus: number; mem: number; disk: number } };
  readonly current: { hostname: string; resources: { cpus: number; mem: number; disk: number } };

  constructor(
    file: string,
    recorded: { hostname: string; resources: { cpus: number; mem: number; disk: number } },
    current: { hostname: string; resources: { cpus: number; mem: number; disk: number } },
    latestLink: string,
  ) {
    const differences: string[] = [];
    if (recorded.hostname !== current.hostname) {
      differences.push(`hostname ${JSON.stringify(recorded.hostname)} (recorded) vs ${JSON.stringify(current.hostname)} (now)`);
    }
    const show = (r: { cpus: number; mem: number; disk: number }) => `cpus:${r.cpus};mem:${r.mem};disk:${r.disk}`;
    if (show(recorded.resources) !== show(current.resources)) {
      differences.push(`resources ${show(recorded.resources)} (recorded) vs ${show(current.resources)} (now)`);
    }
    super(
      'ERR_RECOVERY',
      `refusing to recover the agent: ${file} records other values than this agent has: ${differences.join('; ')}. ` +
        `Restart with the recorded --hostname/--resources, or remove ${latestLink} to register as a new agent`,
    );
    this.recorded = recorded;
    this.current = current;
  }
}
