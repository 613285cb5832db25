// The agent's node view (the page at /): self-contained, and its script run against a small
// stand-in document (this unit test's fake: elements by the markup's own IDs, textContent,
// appendChild) with fetch answering as the agent's /state and /files/read do, so that what it shows
// for a given /state is checked without a browser. The page in a real browser, served by a real
// agent, is the e2e tests' business.
import vm from 'node:vm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { NODE_VIEW_HTML } from '../../src/agent/node-view.js';
import type { AgentState } from '../../src/agent/state-view.js';
import { waitFor, withTimeout } from '../helpers.js';

const SCRIPT = (() => {
  const scripts = [...NODE_VIEW_HTML.matchAll(/<script>([\s\S]*?)<\/script>/g)];
  assert.is(scripts.length, 1, 'one inline script');
  return scripts[0]![1]!;
})();
/** The markup without the script: what the document holds before the script runs. */
const MARKUP = NODE_VIEW_HTML.replace(/<script>[\s\S]*?<\/script>/, '');

class FakeElement {
  readonly children: FakeElement[] = [];
  className = '';
  hidden = false;
  onclick: (() => void) | null = null;
  #text = '';

  constructor(readonly tag: string) {}

  appendChild(child: FakeElement): FakeElement {
    this.children.push(child);
    return child;
  }

  get textContent(): string {
    return this.#text + this.children.map((child) => child.textContent).join('');
  }

  set textContent(value: string) {
    this.children.length = 0;
    this.#text = String(value);
  }
}

/** The document the page's markup makes: its elements with an ID, and the executors table's body. */
function fakeDocument() {
  const byId = new Map<string, FakeElement>();
  for (const [, tag, attributes] of MARKUP.matchAll(/<(\w+)\s([^>]*)>/g)) {
    const id = /\bid="([^"]+)"/.exec(attributes!)?.[1];
    if (!id) continue;
    const element = new FakeElement(tag!);
    element.hidden = /(?:^|\s)hidden(?:\s|$)/.test(attributes!);
    byId.set(id, element);
  }
  const tbody = byId.get('executors')!.appendChild(new FakeElement('tbody'));
  return {
    byId,
    tbody,
    getElementById: (id: string) => byId.get(id) ?? null,
    querySelector: (selector: string) => {
      if (selector === '#executors tbody') return tbody;
      throw new Error(`the fake document does not know the selector ${selector}`);
    },
    createElement: (tag: string) => new FakeElement(tag),
    createTextNode: (text: string) => Object.assign(new FakeElement('#text'), { textContent: text }),
  };
}

type Answer = { status: number; body: unknown } | Error;

/** Runs the page's script; `answer` says what the agent answers each request (real Response objects). */
function openPage(answer: (url: string) => Answer) {
  const document = fakeDocument();
  const requests: string[] = [];
  const timers: Array<{ fn: () => void; ms: number }> = [];
  let timerSet: () => void = () => {};
  const context = {
    document,
    fetch: async (url: string) => {
      requests.push(url);
      const result = answer(url);
      if (result instanceof Error) throw result;
      return new Response(JSON.stringify(result.body), { status: result.status, headers: { 'content-type': 'application/json' } });
    },
    // The page polls again after 1.5 s: recorded, never armed (the test runs the next poll itself).
    setTimeout: (fn: () => void, ms: number) => {
      timers.push({ fn, ms });
      timerSet();
    },
  };
  /** Resolves once the poll in progress has ended (the page armed its next poll). */
  const polled = () =>
    withTimeout(
      new Promise<void>((resolve) => {
        const count = timers.length;
        timerSet = () => timers.length > count && resolve();
      }),
      2_000,
      'the page to finish a poll of /state',
    );
  const first = polled();
  vm.runInNewContext(SCRIPT, context);
  return {
    document,
    requests,
    timers,
    first,
    /** Runs the poll the page armed, and waits for it to end. */
    async pollAgain(): Promise<void> {
      const next = polled();
      timers[timers.length - 1]!.fn();
      await next;
    },
    text: (id: string) => document.byId.get(id)!.textContent,
    /** Each executor row as the text of its cells. */
    rows: () => document.tbody.children.map((row) => row.children.map((cell) => cell.textContent)),
  };
}

function state(overrides: Partial<AgentState> = {}): AgentState {
  return {
    id: 'agent-1',
    status: 'RUNNING',
    recoveryErrors: 0,
    frameworks: [
      {
        id: 'fw-1',
        checkpoint: true,
        executors: [
          { id: 'ex-1', containerId: 'c1', pid: 4242, state: 'RUNNING', directory: '/work/sandboxes/ex 1', tasks: [{ id: 't1', state: 'TASK_RUNNING' }, { id: 't2', state: 'TASK_FINISHED' }], protocol: 2, release: '0.2.0' },
          { id: 'ex-2', containerId: 'c2', pid: null, state: 'RECOVERING', directory: '/work/sandboxes/ex2', tasks: [], protocol: null, release: null },
        ],
      },
    ],
    ...overrides,
  };
}

const test = suite('agent/node-view');

test('is one self-contained page: nothing loaded from elsewhere, no HTML built from strings', () => {
  assert.ok(NODE_VIEW_HTML.startsWith('<!doctype html>'));
  assert.not.match(NODE_VIEW_HTML, /https?:\/\//, 'no absolute URL');
  assert.not.match(NODE_VIEW_HTML, /\b(?:src|href)\s*=\s*"(?!data:)/, 'no src or href but data: URLs');
  assert.not.match(SCRIPT, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, 'text from /state is set as text, never parsed as HTML');
  const fetched = [...SCRIPT.matchAll(/fetch\('([^'?]+)/g)].map((m) => m[1]);
  assert.equal(fetched.sort(), ['/files/read', '/state'], 'it asks this agent only, for /state and /files/read');
});

test('every element the script looks up by ID is in the markup', () => {
  const wanted = new Set([...SCRIPT.matchAll(/getElementById\('([^']+)'\)/g)].map((m) => m[1]!));
  const present = new Set([...MARKUP.matchAll(/\bid="([^"]+)"/g)].map((m) => m[1]!));
  assert.ok(wanted.size >= 6, `found the lookups (${[...wanted].join(', ')})`);
  for (const id of wanted) assert.ok(present.has(id), `#${id} is in the markup`);
});

test('shows the agent\'s ID and status, and one row per executor with its tasks, pid and sandbox', async () => {
  const page = openPage(() => ({ status: 200, body: state() }));
  await page.first;
  assert.equal(page.requests, ['/state']);
  assert.is(page.text('agent-id'), 'agent-1');
  assert.is(page.text('agent-status'), 'RUNNING');
  assert.is(page.document.byId.get('agent-status')!.className, 'badge RUNNING');
  assert.equal(page.rows(), [
    ['fw-1', 'ex-1', 'RUNNING', '4242', 't1 TASK_RUNNING, t2 TASK_FINISHED', '/work/sandboxes/ex 1 stdout stderr'],
    ['fw-1', 'ex-2', 'RECOVERING', '-', '', '/work/sandboxes/ex2 stdout stderr'],
  ]);
  const badge = page.document.tbody.children[1]!.children[2]!.children[0]!;
  assert.is(badge.className, 'badge RECOVERING', 'the executor state is a badge styled by its state');
  assert.equal(page.timers.map((timer) => timer.ms), [1500], 'polls /state again in 1.5 s');
});

test('redraws the table from each poll: gone executors go, new ones come', async () => {
  let answer = state();
  const page = openPage(() => ({ status: 200, body: answer }));
  await page.first;
  answer = state({ frameworks: [{ id: 'fw-2', checkpoint: false, executors: [{ id: 'ex-3', containerId: 'c3', pid: 7, state: 'TERMINATING', directory: '/d', tasks: [{ id: 't9', state: 'TASK_KILLED' }], protocol: 2, release: '0.2.0' }] }] });
  await page.pollAgain();
  assert.equal(page.rows(), [['fw-2', 'ex-3', 'TERMINATING', '7', 't9 TASK_KILLED', '/d stdout stderr']]);
  answer = state({ frameworks: [] });
  await page.pollAgain();
  assert.equal(page.rows(), []);
});

test('shows a task\'s stdout or stderr read through /files/read, or the error it answered', async () => {
  const page = openPage((url) => {
    if (url === '/state') return { status: 200, body: state() };
    if (url.includes(encodeURIComponent('/work/sandboxes/ex 1/stdout'))) return { status: 200, body: { data: 'hello\n', offset: 0, bytes: 6 } };
    return { status: 404, body: { error: 'no such file' } };
  });
  await page.first;
  const viewer = page.document.byId.get('viewer')!;
  assert.ok(viewer.hidden, 'the viewer is hidden until a file is asked for');
  const buttons = (row: number) => page.document.tbody.children[row]!.children[5]!.children.filter((child) => child.tag === 'button');
  assert.equal(buttons(0).map((button) => button.textContent), ['stdout', 'stderr']);
  buttons(0)[0]!.onclick!();
  await waitFor(() => !viewer.hidden, { message: 'the viewer shown' });
  assert.is(page.requests[1], `/files/read?path=${encodeURIComponent('/work/sandboxes/ex 1/stdout')}&offset=0&length=65536`);
  assert.is(page.text('viewer-title'), 'ex-1 stdout');
  assert.is(page.text('viewer-text'), 'hello\n');
  buttons(1)[1]!.onclick!();
  await waitFor(() => page.text('viewer-title') === 'ex-2 stderr', { message: 'the second file asked for' });
  await waitFor(() => page.text('viewer-text') === 'no such file', { message: 'the error shown' });
});

test('while the agent recovers (503 with its status) it shows the status and keeps the table', async () => {
  let recovering = false;
  const page = openPage(() => (recovering ? { status: 503, body: { status: 'RECOVERING', error: 'the agent is RECOVERING' } } : { status: 200, body: state() }));
  await page.first;
  recovering = true;
  await page.pollAgain();
  assert.is(page.text('agent-status'), 'RECOVERING');
  assert.is(page.document.byId.get('agent-status')!.className, 'badge RECOVERING');
  assert.is(page.rows().length, 2, 'the last table stays');
  assert.is(page.text('error'), '');
});

test('says the agent is unreachable when /state cannot be fetched, polls on, and clears it once it answers', async () => {
  let down = true;
  const page = openPage(() => (down ? new TypeError('fetch failed') : { status: 200, body: state() }));
  await page.first;
  assert.is(page.text('error'), 'agent unreachable: fetch failed');
  assert.is(page.timers.length, 1, 'the next poll is armed all the same');
  down = false;
  await page.pollAgain();
  assert.is(page.text('error'), '');
  assert.is(page.rows().length, 2);
});

test.run();
