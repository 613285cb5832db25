// The master's web view in a real browser (Debian's chromium, headless, driven by playwright-core):
// during an agent kill -9 and restart the page shows the agent disconnected and back while the
// task stays running, then the task finished, with the agent's away time marked on its timeline.
// Without a browser the test says so in one line and skips; under CI=true that is a failure.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { lifeline, removeDir, ROOT, waitFor, type Proc } from '../helpers.js';
import { startCluster, type Cluster } from './cluster.js';

const BROWSER = process.env.LIFELINE_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** LIFELINE_UPDATE_SCREENSHOT=1 keeps the final page as docs/web-view.png (the README shows it). */
const SCREENSHOT = process.env.LIFELINE_UPDATE_SCREENSHOT === '1' ? path.join(ROOT, 'docs', 'web-view.png') : undefined;

interface Ctx {
  cluster?: Cluster;
  run?: Proc;
  browser?: BrowserContext;
  profile?: string;
  release?: string;
}

const View = suite<Ctx>('the master web view in a real browser');

View.after.each(async (ctx) => {
  await ctx.browser?.close().catch(() => {});
  await ctx.run?.stop();
  await ctx.cluster?.stop();
  if (ctx.profile) removeDir(ctx.profile);
  if (ctx.release) removeDir(ctx.release);
});

/** Waits until the page holds an element matching `selector` (the view redraws every second). */
async function seen(page: Page, selector: string, what: string, timeoutMs = 20_000): Promise<void> {
  await waitFor(async () => (await page.locator(selector).count()) > 0, { timeoutMs, intervalMs: 100, message: `the page to show ${what} (${selector})` });
}

const HAVE_BROWSER = fs.existsSync(BROWSER);
const MISSING = `web-view.test: no browser at ${BROWSER}; install one with \`apt-get install chromium\``;
const IN_CI = process.env.CI === 'true';
// Without a browser: skipped, and said so in one line; under CI=true the test runs and fails.
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
  const run = ctx.run;

  ctx.profile = fs.mkdtempSync(path.join(os.tmpdir(), 'll-chromium-'));
  ctx.browser = await chromium.launchPersistentContext(ctx.profile, { executablePath: BROWSER, args: ARGS, headless: true, viewport: { width: 1280, height: 900 } });
  const page = ctx.browser.pages()[0] ?? (await ctx.browser.newPage());
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  // A Content-Security-Policy refusal (an inline style, a script from elsewhere) is a console error.
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  await page.goto(`http://${cluster.masterAddress}/`);
  await seen(page, '.task[data-task-state="TASK_RUNNING"]', 'the task running', 30_000);
  await seen(page, 'tr.agent[data-agent-status="ACTIVE"]', 'the agent active');

  cluster.agent.child.kill('SIGKILL');
  await cluster.agent.waitForExit(10_000);
  await seen(page, 'tr.agent[data-agent-status="DISCONNECTED"]', 'the agent disconnected');
  await seen(page, '.recovery.away', 'a recovery event without a return yet');
  assert.is(await page.locator('.task[data-task-state="TASK_RUNNING"]').count(), 1, 'the task stays running while its agent is away');
  assert.match(await page.locator('tr.agent td.recovering').innerText(), /away .* s, waiting up to 75\.0 s/);

  await cluster.startAgent();
  await seen(page, 'tr.agent[data-agent-status="ACTIVE"]', 'the agent back');
  await seen(page, '.recovery.back', 'the recovery event with the agent back');
  await seen(page, '.task .timeline line.marker.disconnected', 'the disconnection marked on the task timeline');
  await seen(page, '.task .timeline line.marker.reregistered', 'the re-registration marked on the task timeline');
  assert.is(await page.locator('.task').getAttribute('data-task-state'), 'TASK_RUNNING', 'the task is still running once the agent is back');
  fs.writeFileSync(released, '');

  await seen(page, '.task[data-task-state="TASK_FINISHED"]', 'the task finished', 40_000);
  const exit = await run.waitForExit(20_000);
  assert.is(exit.code, 0, `${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, /disconnected; the task keeps running there, waiting up to 75s/);
  assert.match(run.stdout, /re-registered after \d+\.\d s/);
  // The history lists every state once, and none of them is a stop between RUNNING and FINISHED.
  const page2 = page.locator('.task details');
  await page2.locator('summary').click();
  const states = await page2.locator('tbody tr td:nth-child(2)').allInnerTexts();
  assert.equal(states, ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
  assert.match(await page.locator('.recovery.back').first().innerText(), /back at .* \(away \d+\.\d s\); it recovered in \d+ ms: 1 of 1 live executor re-subscribed/);

  const shot = SCREENSHOT ?? path.join(ctx.profile, 'web-view.png');
  await page.screenshot({ path: shot, fullPage: true });
  assert.ok(fs.statSync(shot).size > 10_000, 'a screenshot of the page');

  // The agent's node view answers too, from the agent itself.
  await page.goto(`http://${cluster.agentAddress}/`);
  await waitFor(async () => (await page.locator('#agent-status').innerText()) === 'RUNNING', { timeoutMs: 10_000, message: 'the node view to show RUNNING' });
  assert.equal(errors, [], 'no script errors on the pages');
});

View.run();
