// Credentials files on a real filesystem: a private file of the right shape parses; one that group
// or others can read, that is not a file, is missing, is not JSON or has the wrong shape is
// refused with a FlagError naming the flag and the path — and never quoting the secret.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FlagError } from '../../src/protocol/errors.js';
import { readCredential, readCredentials } from '../../src/session/credentials.js';

const SECRET_TEXT = 'sup3r-s3cret-do-not-print';

let dir: string | undefined;

/** Writes `text` to a file of the temp dir with `mode` (chmod after writing: the umask does not get a say). */
function file(name: string, text: string, mode = 0o600): string {
  dir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'll-cred-'));
  const where = path.join(dir, name);
  fs.writeFileSync(where, text);
  fs.chmodSync(where, mode);
  return where;
}

/** The FlagError `run` threw (fails the test otherwise). */
function flagError(run: () => unknown): FlagError {
  try {
    run();
  } catch (error) {
    assert.instance(error, FlagError);
    assert.is((error as FlagError).code, 'ERR_INVALID_FLAG');
    return error as FlagError;
  }
  assert.unreachable('the file was accepted');
  throw new Error('unreachable');
}

function assertNamesFlagAndPath(error: Error, flag: string, where: string): void {
  assert.ok(error.message.includes(`${flag}=${where}`), `"${error.message}" names ${flag}=${where}`);
}

function assertNoSecret(error: Error): void {
  assert.not.ok(error.message.includes(SECRET_TEXT), `the secret leaked in "${error.message}"`);
  assert.not.ok(String(error.stack).includes(SECRET_TEXT), 'the secret leaked in the stack');
}

const test = suite('session credentials');

test.after.each(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

test('a private --credential file parses to its principal and a Secret', () => {
  const where = file('credential.json', JSON.stringify({ principal: 'agent-1', secret: SECRET_TEXT }));
  const credential = readCredential('--credential', where);
  assert.is(credential.principal, 'agent-1');
  assert.is(credential.secret.bytes().toString('utf8'), SECRET_TEXT);
  assert.not.ok(JSON.stringify(credential).includes(SECRET_TEXT));
});

test('a private --credentials file parses to every principal in order', () => {
  const where = file('credentials.json', JSON.stringify({ credentials: [{ principal: 'agent-1', secret: SECRET_TEXT }, { principal: 'framework@ops', secret: 'other' }] }));
  const credentials = readCredentials('--credentials', where);
  assert.equal(credentials.map((credential) => credential.principal), ['agent-1', 'framework@ops']);
  assert.is(credentials[1]!.secret.bytes().toString('utf8'), 'other');
});

test('a file others can read (0644) is refused naming the flag, the path and chmod 600', () => {
  const where = file('credential.json', JSON.stringify({ principal: 'a', secret: SECRET_TEXT }), 0o644);
  const error = flagError(() => readCredential('--credential', where));
  assertNamesFlagAndPath(error, '--credential', where);
  assert.ok(error.message.includes(`chmod 600 ${where}`), error.message);
  assert.match(error.message, /0644/);
  assertNoSecret(error);
});

test('a file its group can read (0640) is refused the same way, for --credentials too', () => {
  const where = file('credentials.json', JSON.stringify({ credentials: [{ principal: 'a', secret: SECRET_TEXT }] }), 0o640);
  const error = flagError(() => readCredentials('--credentials', where));
  assertNamesFlagAndPath(error, '--credentials', where);
  assert.ok(error.message.includes(`chmod 600 ${where}`), error.message);
  assert.match(error.message, /its group/);
});

test('a directory is refused as not a regular file', () => {
  file('placeholder', '');
  const error = flagError(() => readCredentials('--credentials', dir!));
  assertNamesFlagAndPath(error, '--credentials', dir!);
  assert.match(error.message, /not a regular file/);
});

test('a missing file is refused naming the flag, the path and ENOENT', () => {
  file('placeholder', '');
  const where = path.join(dir!, 'absent.json');
  const error = flagError(() => readCredential('--credential', where));
  assertNamesFlagAndPath(error, '--credential', where);
  assert.match(error.message, /ENOENT/);
});

test('a file that is not JSON is refused without quoting its text', () => {
  const where = file('credential.json', `{"principal": "a", "secret": ${SECRET_TEXT}}`);
  const error = flagError(() => readCredential('--credential', where));
  assertNamesFlagAndPath(error, '--credential', where);
  assert.match(error.message, /not valid JSON/);
  assertNoSecret(error);
  assert.is(error.cause, undefined, "JSON.parse's error (which quotes the text) is not kept as the cause");
});

test('a --credential of the wrong shape is refused naming the field, never the secret', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['missing secret', { principal: 'a' }, /field secret/],
    ['extra field', { principal: 'a', secret: SECRET_TEXT, note: 'x' }, /field note: wrong type or unknown field/],
    ['bad principal', { principal: 'has spaces', secret: SECRET_TEXT }, /field principal: invalid value/],
    ['empty secret', { principal: 'a', secret: '' }, /field secret: invalid value/],
    ['secret not a string', { principal: 'a', secret: 42 }, /field secret: wrong type/],
    ['not an object', SECRET_TEXT, /the file: wrong type/],
    // valibot takes an array for an object with no fields: refused all the same.
    ['an array', [SECRET_TEXT], /field principal: wrong type/],
  ];
  for (const [what, json, expected] of cases) {
    const where = file('credential.json', JSON.stringify(json));
    const error = flagError(() => readCredential('--credential', where));
    assertNamesFlagAndPath(error, '--credential', where);
    assert.match(error.message, expected, `${what}: ${error.message}`);
    assertNoSecret(error);
  }
});

test('a --credentials of the wrong shape is refused naming the field, never the secret', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['empty list', { credentials: [] }, /field credentials: invalid value/],
    ['missing secret', { credentials: [{ principal: 'a' }] }, /field credentials\.0\.secret/],
    ['extra field', { credentials: [{ principal: 'a', secret: SECRET_TEXT, role: 'admin' }] }, /field credentials\.0\.role/],
    ['bad principal', { credentials: [{ principal: 'a', secret: 'x' }, { principal: `${SECRET_TEXT} !`, secret: SECRET_TEXT }] }, /field credentials\.1\.principal: invalid value/],
    ['a bare credential', { principal: 'a', secret: SECRET_TEXT }, /wrong type or unknown field/],
  ];
  for (const [what, json, expected] of cases) {
    const where = file('credentials.json', JSON.stringify(json));
    const error = flagError(() => readCredentials('--credentials', where));
    assertNamesFlagAndPath(error, '--credentials', where);
    assert.match(error.message, expected, `${what}: ${error.message}`);
    assertNoSecret(error);
  }
});

test('a principal listed twice is refused, naming it', () => {
  const where = file('credentials.json', JSON.stringify({ credentials: [{ principal: 'a', secret: SECRET_TEXT }, { principal: 'b', secret: 'y' }, { principal: 'a', secret: 'z' }] }));
  const error = flagError(() => readCredentials('--credentials', where));
  assertNamesFlagAndPath(error, '--credentials', where);
  assert.match(error.message, /principal a twice/);
  assertNoSecret(error);
});

test.run();
