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
