// Tasks as another user (issue 14, point 6; Mesos's --switch_user): an agent run as root starts the
// executor and tasks of a framework with FrameworkInfo.user as that user, so that no task can read
// another user's executor token (/proc/<pid>/environ) or files. Users are looked up with getent
// (NSS: /etc/passwd, LDAP…), falling back to /etc/passwd where there is no getent.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LifelineError } from '../protocol/index.js';
import type { Config } from './options.js';

export interface TaskUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** FrameworkInfo.user names no user on this agent, or the agent cannot switch to it. */
export class TaskUserError extends LifelineError {
  constructor(message: string) {
    super('ERR_ENVIRONMENT', message);
  }
}

/** Does this agent start runs as other users (root, --switch_user)? Then paths to sandboxes and the socket must be traversable. */
export function switchesUsers(config: Pick<Config, 'switchUser'>): boolean {
  return config.switchUser && typeof process.getuid === 'function' && process.getuid() === 0;
}

/**
 * The user a run of this framework starts as, or undefined for the agent's own user. Throws
 * TaskUserError for an unknown user, or one the agent (not root) cannot switch to.
 */
export async function runUser(config: Pick<Config, 'switchUser'>, user: string | undefined): Promise<TaskUser | undefined> {
  if (user === undefined || !config.switchUser) return undefined;
  const own = os.userInfo();
  if (!switchesUsers(config)) {
    if (user === own.username) return undefined;
    throw new TaskUserError(`cannot run as user ${JSON.stringify(user)}: the agent runs as ${own.username} (uid ${own.uid}), not root; run the agent as root, or with --switch_user=false to run every task as the agent's user`);
  }
  const found = await lookUp(user);
  if (!found) throw new TaskUserError(`user ${JSON.stringify(user)} (FrameworkInfo.user) does not exist on this agent (${os.hostname()})`);
  return found.uid === own.uid ? undefined : found;
}

async function lookUp(name: string): Promise<TaskUser | undefined> {
  const line = await new Promise<string | undefined | null>((resolve) => {
    execFile('getent', ['passwd', name], { timeout: 5_000 }, (error, stdout) => {
      if (!error) return resolve(stdout);
      // Exit 2: no such user. Anything else (no getent at all): read /etc/passwd instead.
      resolve((error as { code?: unknown }).code === 2 ? undefined : null);
    });
  });
  if (line === undefined) return undefined;
  const text = line ?? (await fs.readFile('/etc/passwd', 'utf8').catch(() => ''));
  for (const entry of text.split('\n')) {
    const [user, , uid, gid, , home] = entry.split(':');
    if (user === name && uid !== undefined && gid !== undefined && /^\d+$/.test(uid) && /^\d+$/.test(gid)) {
      return { name, uid: Number(uid), gid: Number(gid), home: home || '/' };
    }
  }
  return undefined;
}

/**
 * Lets the user reach its sandbox: every directory from `workDir` down to the sandbox's parent
 * gets the search bit for others (0711: pass through, not list); the sandbox itself is theirs, 0700.
 */
export async function openPathTo(workDir: string, sandbox: string, user: TaskUser): Promise<void> {
  const top = path.resolve(workDir);
  for (let dir = path.dirname(sandbox); dir.startsWith(top); dir = path.dirname(dir)) {
    const stat = await fs.stat(dir);
    if ((stat.mode & 0o011) !== 0o011) await fs.chmod(dir, (stat.mode & 0o7777) | 0o011);
    if (dir === top) break;
  }
  await fs.chown(sandbox, user.uid, user.gid);
}

/** Has a launch as another user opened the work dir (0711)? */
export async function isOpenToOthers(workDir: string): Promise<boolean> {
  return ((await fs.stat(workDir)).mode & 0o011) === 0o011;
}

/** What the started process sees as its user (HOME, USER, LOGNAME), as login would set them. */
export function userEnvironment(user: TaskUser): Record<string, string> {
  return { HOME: user.home, USER: user.name, LOGNAME: user.name };
}
