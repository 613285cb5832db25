// A master that does not lead (a standby, or one still campaigning) serves /health and /state and
// refuses every API connection with ERROR ERR_NOT_LEADER naming the leader, then closes it (1013,
// "try again later"), so agents and schedulers go to the leader instead (issue 12).
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { encode } from '../protocol/index.js';
import type { Logger } from '../log.js';

export class StandbyRefusals {
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  readonly #logger: Logger;
  readonly #leader: () => string | undefined;

  constructor(leader: () => string | undefined, logger: Logger) {
    this.#leader = leader;
    this.#logger = logger;
    this.#wss.on('error', (error) => logger.debug({ err: error }, 'standby websocket server error'));
  }

  refuse(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.#wss.handleUpgrade(request, socket, head, (ws) => {
      ws.on('error', () => {});
      const leader = this.#leader();
      const message = leader ? `this master is not the leader; the leader is ${leader}` : 'this master is not the leader, and no master leads right now; try again';
      this.#logger.debug({ path: request.url, leader }, 'API connection refused: not the leader');
      ws.send(encode({ type: 'ERROR', code: 'ERR_NOT_LEADER', message, ...(leader && { leader }) }), { binary: true });
      ws.close(1013, 'not the leader');
      const timer = setTimeout(() => ws.terminate(), 1_000);
      ws.on('close', () => clearTimeout(timer));
    });
  }

  close(): void {
    for (const client of this.#wss.clients) client.terminate();
    this.#wss.close();
  }
}
