// masterAsset: the web view's files by request path, each with the content type the browser needs
// to run it under the master's `nosniff` header, and nothing else (no prototype keys, no guesses).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { APP_JS } from '../../../src/master/web/app-js.js';
import { masterAsset } from '../../../src/master/web/assets.js';
import { INDEX_HTML } from '../../../src/master/web/index-html.js';
import { STYLE_CSS } from '../../../src/master/web/style-css.js';

const Assets = suite('master/web/assets: masterAsset');

Assets('serves the page at / and /index.html, the script and the style sheet, each with its content type', () => {
  const expected = [
    ['/', 'text/html; charset=utf-8', INDEX_HTML],
    ['/index.html', 'text/html; charset=utf-8', INDEX_HTML],
    ['/web/app.js', 'text/javascript; charset=utf-8', APP_JS],
    ['/web/style.css', 'text/css; charset=utf-8', STYLE_CSS],
  ] as const;
  for (const [path, contentType, body] of expected) {
    const asset = masterAsset(path);
    assert.ok(asset, path);
    assert.is(asset.contentType, contentType, path);
    assert.is(asset.body, body, path);
  }
});

Assets('knows no other path: not a near miss, not a directory, not a key every object has', () => {
  for (const path of ['', '/web/', '/web/app.js/', '/Index.html', '/web/App.js', '/app.js', '/style.css', '/web/../index.html', '/state', '/web/app.js?v=1', 'constructor', '__proto__', 'toString', '/hasOwnProperty']) {
    assert.is(masterAsset(path), undefined, JSON.stringify(path));
  }
});

Assets('every asset the page references is one masterAsset serves', () => {
  const references = [...INDEX_HTML.matchAll(/\s(?:src|href)="(\/[^"]*)"/g)].map((match) => match[1]!);
  assert.equal(references.sort(), ['/web/app.js', '/web/style.css']);
  for (const path of references) assert.ok(masterAsset(path), path);
});

Assets.run();
