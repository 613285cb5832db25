// The web view's files (issue 15), served by the master from memory: plain HTML, CSS and JS kept
// as string modules, so that tsc ships them in dist/ with no build step and no network at run time.
import { APP_JS } from './app-js.js';
import { INDEX_HTML } from './index-html.js';
import { STYLE_CSS } from './style-css.js';

export interface Asset {
  contentType: string;
  body: string;
}

const ASSETS: Record<string, Asset> = {
  '/': { contentType: 'text/html; charset=utf-8', body: INDEX_HTML },
  '/index.html': { contentType: 'text/html; charset=utf-8', body: INDEX_HTML },
  '/web/app.js': { contentType: 'text/javascript; charset=utf-8', body: APP_JS },
  '/web/style.css': { contentType: 'text/css; charset=utf-8', body: STYLE_CSS },
};

export function masterAsset(path: string): Asset | undefined {
  return Object.hasOwn(ASSETS, path) ? ASSETS[path] : undefined;
}
