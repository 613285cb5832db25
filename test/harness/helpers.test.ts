import net from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort, unseenPort } from '../../harness/helpers.js';

const test = suite('harness helpers: freePort');

test('a port the kernel offers again is skipped: each port is handed out once', async () => {
  const offers = [5001, 5001, 5002, 5001, 5003];
  const seen = new Set<number>();
  const ask = async () => offers.shift()!;
  assert.is(await unseenPort(ask, seen), 5001);
  assert.is(await unseenPort(ask, seen), 5002);
  assert.is(await unseenPort(ask, seen), 5003);
  assert.equal(offers, []);
  assert.equal([...seen], [5001, 5002, 5003]);
});

test('freePort gives distinct loopback ports that can be listened on', async () => {
  const ports = [await freePort(), await freePort(), await freePort()];
  assert.is(new Set(ports).size, 3, `${ports}`);
  for (const port of ports) {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.on('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test.run();
