// The web view's style sheet: non-empty, balanced, self-contained (no @import or url() to load
// from elsewhere), and styling the classes the page and the script use.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { STYLE_CSS } from '../../../src/master/web/style-css.js';

const Style = suite('master/web/style-css: STYLE_CSS');

Style('is a non-empty style sheet whose braces balance', () => {
  assert.ok(STYLE_CSS.trim().length > 0);
  let depth = 0;
  for (const char of STYLE_CSS) {
    if (char === '{') depth += 1;
    if (char === '}') depth -= 1;
    assert.ok(depth >= 0 && depth <= 1, 'a rule closes before it opens, or nests');
  }
  assert.is(depth, 0);
  assert.not.match(STYLE_CSS, /<\/?style/i, 'CSS, not an HTML fragment');
});

Style('loads nothing: no @import, no url() (the CSP allows only this origin)', () => {
  assert.not.match(STYLE_CSS, /@import/i);
  assert.not.match(STYLE_CSS, /url\(/i);
  assert.not.match(STYLE_CSS, /https?:\/\//i);
});

Style('styles the badges of every agent and task status the view shows, and the timeline', () => {
  for (const name of ['ACTIVE', 'DISCONNECTED', 'REMOVED', 'TASK_RUNNING', 'TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_LOST', 'TASK_STAGING']) {
    assert.match(STYLE_CSS, new RegExp(`\\.${name}\\b`), name);
  }
  for (const selector of ['.badge', '.timeline', '.timeline .away', '.timeline .marker.disconnected', '.timeline .marker.reregistered', '.live.error']) {
    assert.ok(STYLE_CSS.includes(selector), selector);
  }
});

Style.run();
