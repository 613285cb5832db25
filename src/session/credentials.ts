// Credentials files (issue 14): the master's --credentials (`{"credentials": [{"principal",
// "secret"}]}`) and a client's --credential (`{"principal", "secret"}`). A file that group or
// others can read is refused: a secret anyone on the host can read proves nothing. Messages name
// the flag, the path and what is wrong, never the secret.
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import * as v from 'valibot';
import { FlagError, Principal } from '../protocol/index.js';
import { Secret, type Credential } from './authentication.js';

const SecretText = v.pipe(v.string(), v.minLength(1), v.maxLength(4096));
const CredentialEntry = v.strictObject({ principal: Principal, secret: SecretText });
const CredentialsFile = v.strictObject({ credentials: v.pipe(v.array(CredentialEntry), v.minLength(1), v.maxLength(100_000)) });

/** Largest credentials file read. */
const MAX_FILE_BYTES = 16 * 1024 * 1024;

function readPrivateJson(flag: string, path: string): unknown {
  // One open file judged and read, so that what is checked is what is read (no swap in between).
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw new FlagError(`cannot read ${flag}=${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new FlagError(`${flag}=${path} is not a regular file`);
    const mode = stats.mode;
    if ((mode & 0o044) !== 0) {
      const readers = [(mode & 0o040) !== 0 && 'its group', (mode & 0o004) !== 0 && 'others'].filter(Boolean).join(' and ');
      throw new FlagError(`${flag}=${path} is readable by ${readers} (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); a secret file must be private: chmod 600 ${path}`);
    }
    if (stats.size > MAX_FILE_BYTES) throw new FlagError(`${flag}=${path} is ${stats.size} bytes, over the ${MAX_FILE_BYTES} bytes a credentials file may have`);
    let text: string;
    try {
      text = readFileSync(fd, 'utf8');
    } catch (error) {
      throw new FlagError(`cannot read ${flag}=${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    try {
      return JSON.parse(text);
    } catch {
      // JSON.parse's message quotes the text, which holds secrets.
      throw new FlagError(`${flag}=${path} is not valid JSON`);
    }
  } finally {
    closeSync(fd);
  }
}

/** Where the first problem is, and what: no received value (it may be a secret). */
function problem(issues: readonly v.BaseIssue<unknown>[]): string {
  const issue = issues[0]!;
  const path = issue.path?.map((item) => String(item.key)).join('.') ?? '';
  const expected = issue.expected ? ` (expected ${issue.expected})` : '';
  return `${path ? `field ${path}` : 'the file'}: ${issue.kind === 'schema' ? 'wrong type or unknown field' : 'invalid value'}${expected}`;
}

/** A client's --credential file: `{"principal": "...", "secret": "..."}`. */
export function readCredential(flag: string, path: string): Credential {
  const json = readPrivateJson(flag, path);
  const result = v.safeParse(CredentialEntry, json);
  if (!result.success) throw new FlagError(`${flag}=${path} must be {"principal": "...", "secret": "..."}: ${problem(result.issues)}`);
  return { principal: result.output.principal, secret: new Secret(result.output.secret) };
}

/** The master's --credentials file: `{"credentials": [{"principal": "...", "secret": "..."}, ...]}`. */
export function readCredentials(flag: string, path: string): Credential[] {
  const json = readPrivateJson(flag, path);
  const result = v.safeParse(CredentialsFile, json);
  if (!result.success) throw new FlagError(`${flag}=${path} must be {"credentials": [{"principal": "...", "secret": "..."}, ...]}: ${problem(result.issues)}`);
  const seen = new Set<string>();
  for (const { principal } of result.output.credentials) {
    if (seen.has(principal)) throw new FlagError(`${flag}=${path} lists principal ${principal} twice`);
    seen.add(principal);
  }
  return result.output.credentials.map(({ principal, secret }) => ({ principal, secret: new Secret(secret) }));
}
