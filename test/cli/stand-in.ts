// A stand-in for the HTTP surface the operator verbs call (the master's /state and kill, an agent's
// /files/read): a real node:http server on 127.0.0.1 that answers from a route function and records
// every request; and capture(), which runs a verb's main() in the test's process with its output
// collected. For the unit tests of the verb modules (tasks, agents, kill, logs) only.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  url: URL;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** An answer: JSON (`json`) or raw text (`text`), with a status (default 200). */
export interface Answer {
  status?: number;
  json?: unknown;
  text?: string;
}

export type Route = (request: Received) => Answer;

export class StandIn {
  readonly received: Received[] = [];
  /** `127.0.0.1:PORT`, as an operator writes --master. */
  readonly address: string;
  readonly #server: http.Server;

  private constructor(server: http.Server) {
    this.#server = server;
    this.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  static async start(route: Route): Promise<StandIn> {
    let self: StandIn | undefined;
    const server = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const received: Received = { method: req.method ?? '', url: new URL(req.url ?? '/', 'http://stand-in'), body, headers: req.headers };
        self?.received.push(received);
        const answer = route(received);
        const text = answer.text ?? JSON.stringify(answer.json ?? null);
        res.writeHead(answer.status ?? 200, { 'content-type': answer.text === undefined ? 'application/json' : 'text/plain' }).end(text);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    self = new StandIn(server);
    return self;
  }

  /** The requests to one path, in order. */
  to(pathname: string): Received[] {
    return this.received.filter((request) => request.url.pathname === pathname);
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

/** The environment without any LIFELINE_* variable, so that none of the runner's leaks into a flag. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('LIFELINE_')) env[name] = value;
  return { ...env, ...extra };
}

/**
 * The cells of each line of a table printed by `table()` of master-api.ts, cut at the columns the
 * header's cells start at: a row whose cells are not aligned under the header comes out wrong.
 */
export function cells(output: string): string[][] {
  const lines = output.replace(/\n$/, '').split('\n');
  const starts = [...lines[0]!.matchAll(/(?:^|(?<=  ))(\S+(?: \S+)*)/g)].map((match) => match.index!);
  return lines.map((line) => starts.map((start, i) => line.slice(start, starts[i + 1] ?? line.length).trim()));
}

/** What a verb's main() did in this process: its exit code (or what it threw) and what it wrote. */
export interface Captured {
  code: number | undefined;
  error: unknown;
  stdout: string;
  stderr: string;
}

/**
 * Runs a verb's main(argv) in this process with what it writes to stdout and stderr collected
 * instead of shown (uvu writes only between tests). A thrown error is returned, not rethrown.
 */
export async function capture(run: () => Promise<number>): Promise<Captured> {
  const result: Captured = { code: undefined, error: undefined, stdout: '', stderr: '' };
  const writes = { stdout: process.stdout.write, stderr: process.stderr.write };
  const collect = (stream: 'stdout' | 'stderr') =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      result[stream] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = collect('stdout');
  process.stderr.write = collect('stderr');
  try {
    result.code = await run();
  } catch (error) {
    result.error = error;
  } finally {
    process.stdout.write = writes.stdout;
    process.stderr.write = writes.stderr;
  }
  return result;
}
