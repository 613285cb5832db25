// The master's HTTP server with mutual TLS (issue 14, point 1): a real HTTPS server on a free port
// with certificates made by openssl; a WSS client presenting a certificate the CA signed (the
// session layer's connectWs with cert/key) connects, one without or with another CA's is refused,
// and each refusal is logged at warn with the client's address and the reason.
import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocketServer } from 'ws';
import type { Logger } from '../../src/log.js';
import { MasterHttpServer } from '../../src/master/http.js';
import { connectWs } from '../../src/session/ws-transport.js';
import { removeDir, tempDir } from '../helpers.js';
import { makeCertificates, type Certificates } from '../e2e/certificates.js';

interface Ctx {
  dir: string;
  files: Certificates;
  server: MasterHttpServer;
  wss: WebSocketServer;
  port: number;
  warnings: Array<Record<string, unknown>>;
}

const Http = suite<Ctx>('master HTTP server with mutual TLS');

function recordingLogger(warnings: Ctx['warnings']): Logger {
  const noop = () => {};
  const logger: Logger = {
    debug: noop, info: noop, error: noop,
    warn: (obj, msg) => warnings.push({ ...(typeof obj === 'object' ? obj : {}), msg: msg ?? obj }),
    child: () => logger,
  };
  return logger;
}

Http.before.each(async (context) => {
  context.dir = tempDir('ll-mtls-http-');
  context.files = makeCertificates(context.dir);
  context.warnings = [];
  context.wss = new WebSocketServer({ noServer: true });
  context.wss.on('error', () => {});
  context.wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.send('hello');
  });
  const tls = { cert: fs.readFileSync(context.files.cert), key: fs.readFileSync(context.files.key), clientCa: fs.readFileSync(context.files.ca) };
  context.server = new MasterHttpServer({
    state: () => ({}),
    metrics: async () => ({ contentType: 'text/plain', body: '' }),
    upgrades: { '/api/v1/agent': (request, socket, head) => context.wss.handleUpgrade(request, socket, head, (ws) => context.wss.emit('connection', ws, request)) },
  }, recordingLogger(context.warnings), tls);
  context.port = await context.server.listen(0, '127.0.0.1');
});
Http.after.each(async (context) => {
  await context.server.close();
  context.wss.close();
  removeDir(context.dir);
});

/** Connects over WSS; resolves with the first message, or with the error when the connection fails. */
function attempt(context: Ctx, client?: { cert: string; key: string }): Promise<{ message?: string; error?: string }> {
  return new Promise((resolve) => {
    let error: string | undefined;
    const transport = connectWs(`wss://127.0.0.1:${context.port}/api/v1/agent`, {
      maxPayload: 1024, handshakeTimeoutMs: 10_000, ca: fs.readFileSync(context.files.ca),
      ...(client && { cert: fs.readFileSync(client.cert), key: fs.readFileSync(client.key) }),
    }, {
      open: () => {},
      message: (data) => {
        resolve({ message: data.toString() });
        transport.close();
      },
      error: (failure) => (error = failure.code ?? failure.message),
      close: () => resolve({ error: error ?? 'closed' }),
    });
  });
}

Http('a client certificate the CA signed gets a connection, and nothing is logged', async (context) => {
  assert.equal(await attempt(context, { cert: context.files.clientCert, key: context.files.clientKey }), { message: 'hello' });
  assert.equal(context.warnings, []);
});

Http('no client certificate: refused, logged with the address and NO_CLIENT_CERTIFICATE; the next good client still connects', async (context) => {
  const result = await attempt(context);
  assert.ok(result.error, 'the connection failed');
  assert.is(context.warnings.length, 1, JSON.stringify(context.warnings));
  assert.match(String(context.warnings[0]!.remote), /^127\.0\.0\.1:\d+$/);
  assert.is(context.warnings[0]!.code, 'NO_CLIENT_CERTIFICATE');
  assert.is(context.warnings[0]!.msg, 'TLS client refused');
  assert.equal(await attempt(context, { cert: context.files.clientCert, key: context.files.clientKey }), { message: 'hello' });
});

Http('a client certificate another CA signed: refused, the reason names --ssl_ca_file', async (context) => {
  const result = await attempt(context, { cert: context.files.strangerCert, key: context.files.strangerKey });
  assert.ok(result.error, 'the connection failed');
  assert.is(context.warnings.length, 1, JSON.stringify(context.warnings));
  assert.is(context.warnings[0]!.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  assert.match(String(context.warnings[0]!.reason), /not signed by --ssl_ca_file/);
});

Http.run();
