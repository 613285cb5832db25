// The master's web view in Firefox (issue 15: "works in a current Chromium and Firefox"): Debian's
// firefox-esr, headless, driven over WebDriver BiDi by puppeteer-core (which downloads no browser).
// The same live page as in Chromium (web-view.test.ts): during an agent kill -9 and restart it
// shows the agent disconnected and back while the task stays running, then finished, with no
// script or policy error. Without Firefox the test says so in one line and skips; under CI=true
// that is a failure.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { lifeline, removeDir, waitFor, type Proc } from '../helpers.js';
import { startCluster, type Cluster } from './cluster.js';

const BROWSER = process.env.LIFELINE_FIREFOX ?? '/usr/bin/firefox-esr';

interface Ctx {
  cluster?: Cluster;
  run?: Proc;
  browser?: Browser;
  profile?: string;
  release?: string;
}

const View = suite<Ctx>('the master web view in Firefox');

View.after.each(async (ctx) => {
  await ctx.browser?.close().catch(() => {});
  await ctx.run?.stop();
  await ctx.cluster?.stop();
  if (ctx.profile) removeDir(ctx.profile);
  if (ctx.release) removeDir(ctx.release);
});

async function seen(page: Page, selector: string, what: string, timeoutMs = 20_000): Promise<void> {
  await waitFor(async () => (await page.$$(selector)).length > 0, { timeoutMs, intervalMs: 100, message: `Firefox to show ${what} (${selector})` });
}

const HAVE_BROWSER = fs.existsSync(BROWSER);
const MISSING = `web-view-firefox.test: no browser at ${BROWSER}; install one with \`apt-get install firefox-esr\``;
const IN_CI = process.env.CI === 'true';
if (!HAVE_BROWSER && !IN_CI) process.stdout.write(`\n${MISSING}; skipped\n`);
const test = HAVE_BROWSER || IN_CI ? View : View.skip;

test('shows the agent disconnected and back while the task keeps running, then TASK_FINISHED', async (ctx) => {
  if (!HAVE_BROWSER) assert.unreachable(`${MISSING} (CI=true: a skipped browser test is a failure)`);
  ctx.cluster = await startCluster();
  const { cluster } = ctx;
  // The task runs until the test releases it, once the page has shown the agent back: a task on a
  // timer could end while a loaded machine restarts the agent, and a re-registration after the
  // task's last status is rightly not on its timeline.
  ctx.release = fs.mkdtempSync(path.join(os.tmpdir(), 'll-release-'));
  const released = path.join(ctx.release, 'go');
  ctx.run = lifeline(['run', `--master=${cluster.masterAddress}`, '--checkpoint', '--name=web', `--command=i=0; while [ ! -e ${released} ]; do i=$((i+1)); echo $i; sleep 0.2; done`]);

  ctx.profile = fs.mkdtempSync(path.join(os.tmpdir(), 'll-firefox-'));
  ctx.browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: BROWSER,
    headless: true,
    userDataDir: ctx.profile,
    // No first-run pages, updates or telemetry: the test reaches nothing but loopback.
    extraPrefsFirefox: { 'browser.shell.checkDefaultBrowser': false, 'app.update.enabled': false, 'datareporting.policy.dataSubmissionEnabled': false, 'toolkit.telemetry.enabled': false },
  });
  const page = await ctx.browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(String((error as Error).message ?? error)));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  await page.goto(`http://${cluster.masterAddress}/`);
  await seen(page, '.task[data-task-state="TASK_RUNNING"]', 'the task running', 30_000);
  await seen(page, 'tr.agent[data-agent-status="ACTIVE"]', 'the agent active');

  cluster.agent.child.kill('SIGKILL');
  await cluster.agent.waitForExit(10_000);
  await seen(page, 'tr.agent[data-agent-status="DISCONNECTED"]', 'the agent disconnected');
  assert.is((await page.$$('.task[data-task-state="TASK_RUNNING"]')).length, 1, 'the task stays running while its agent is away');

  await cluster.startAgent();
  await seen(page, 'tr.agent[data-agent-status="ACTIVE"]', 'the agent back');
  await seen(page, '.task .timeline line.marker.reregistered', 'the re-registration marked on the task timeline');
  assert.is((await page.$$('.task[data-task-state="TASK_RUNNING"]')).length, 1, 'the task is still running once the agent is back');
  fs.writeFileSync(released, '');
  await seen(page, '.task[data-task-state="TASK_FINISHED"]', 'the task finished', 40_000);
  assert.is((await ctx.run.waitForExit(20_000)).code, 0, `${ctx.run.stdout}\n${ctx.run.stderr}`);
  const recovery = await page.$eval('.recovery.back', (element) => element.textContent ?? '');
  assert.match(recovery, /back at .* \(away \d+\.\d s\); it recovered in \d+ ms: 1 of 1 live executor re-subscribed/);
  assert.equal(errors, [], 'no script or policy errors in Firefox');
});

View.run();
