import fs from 'node:fs';
import os from 'node:os';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { detectResources, parseResources, resolveResources } from '../../src/agent/resources.js';
import { FlagError } from '../../src/protocol/index.js';
import { removeDir, tempDir } from '../helpers.js';

const test = suite('resources');

test('parses cpus, mem and disk in any order', () => {
  assert.equal(parseResources('cpus:4;mem:4096;disk:10000'), { cpus: 4, mem: 4096, disk: 10000 });
  assert.equal(parseResources('mem:512; cpus:0.5'), { mem: 512, cpus: 0.5 });
  assert.equal(parseResources(''), {});
});

for (const [bad, why] of [
  ['cpus:x', /not a non-negative number/],
  ['cpus:-1', /not a non-negative number/],
  ['cpus:', /not a non-negative number/],
  ['gpus:1', /unknown resource "gpus"/],
  ['cpus4', /no ":"/],
  ['cpus:1;cpus:2', /cpus given twice/],
] as const) {
  test(`refuses ${JSON.stringify(bad)} with a FlagError naming --resources`, () => {
    try {
      parseResources(bad);
      assert.unreachable(`${bad} was accepted`);
    } catch (error) {
      assert.instance(error, FlagError);
      assert.match((error as Error).message, /--resources/);
      assert.match((error as Error).message, why);
    }
  });
}

test('detects CPUs, memory in MB and the size of the work dir\'s file system, the same at every call', () => {
  const dir = tempDir('ll-res-');
  try {
    const detected = detectResources(dir);
    assert.is(detected.cpus, os.availableParallelism());
    assert.is(detected.mem, Math.floor(os.totalmem() / 1024 / 1024));
    assert.ok(detected.disk > 0);
    // Stable while the file system fills up: a restarted agent compares it with agent.json.
    fs.writeFileSync(`${dir}/filler`, Buffer.alloc(8 * 1024 * 1024));
    assert.is(detectResources(dir).disk, detected.disk);
    // A work dir that does not exist yet: the size of its nearest existing ancestor's file system.
    assert.ok(detectResources(`${dir}/not/yet`).disk > 0);
  } finally {
    removeDir(dir);
  }
});

test('detects only what the flag leaves out', () => {
  const resolved = resolveResources('cpus:2', '/tmp');
  assert.is(resolved.cpus, 2);
  assert.is(resolved.mem, Math.floor(os.totalmem() / 1024 / 1024));
  assert.equal(resolveResources('cpus:1;mem:2;disk:3', '/tmp'), { cpus: 1, mem: 2, disk: 3 });
});

test.run();
