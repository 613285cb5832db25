// The master's PINGs to a registered agent (Mesos's agent health check): one every ping interval
// on the agent's connection, and after --max_agent_ping_timeouts of them in a row without a PONG
// the connection is dropped, which the endpoint then handles as a disconnection.
import type { Logger } from '../log.js';
import type { AgentEvent } from '../protocol/index.js';

/** What the pings need of a connection (an EndpointSession): a timer while it is open, a way to send and to drop it. */
export interface PingedConnection {
  every(ms: number, fn: () => void): void;
  send(event: AgentEvent): boolean;
  terminate(): void;
}

export interface PingOptions {
  /** PING every this long. */
  intervalMs: number;
  /** This many PINGs in a row without a PONG count as a disconnection. */
  maxPingTimeouts: number;
  logger: Logger;
}

export class AgentPings {
  #awaitingPong = false;
  #missed = 0;

  /** Starts pinging the agent's connection; the timer ends when the connection closes. */
  constructor(connection: PingedConnection, agentId: string, options: PingOptions) {
    const { maxPingTimeouts } = options;
    connection.every(options.intervalMs, () => {
      if (this.#awaitingPong && ++this.#missed >= maxPingTimeouts) {
        options.logger.warn({ agentId, missed: this.#missed }, 'agent did not answer pings: disconnecting it');
        connection.terminate();
        return;
      }
      this.#awaitingPong = true;
      connection.send({ type: 'PING' });
    });
  }

  /** A PONG arrived: the count of missed PINGs starts again. */
  pong(): void {
    this.#awaitingPong = false;
    this.#missed = 0;
  }

  /** PINGs in a row not answered so far. */
  get missed(): number {
    return this.#missed;
  }
}
