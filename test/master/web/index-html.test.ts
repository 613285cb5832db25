// The web view's page: a document that loads only its own origin's files, and holds nothing the
// master's Content-Security-Policy (default-src 'self'; img-src 'self' data:) would block.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { INDEX_HTML } from '../../../src/master/web/index-html.js';

const Page = suite('master/web/index-html: INDEX_HTML');

Page('is an HTML5 document in UTF-8 with a title', () => {
  assert.match(INDEX_HTML, /^<!doctype html>\n<html lang="en">/);
  assert.match(INDEX_HTML, /<meta charset="utf-8">/);
  assert.match(INDEX_HTML, /<title>lifeline master<\/title>/);
  assert.match(INDEX_HTML, /<\/html>\n$/);
});

Page('references only same-origin paths (and a data: icon): no http(s):// nor protocol-relative URL', () => {
  assert.not.match(INDEX_HTML, /https?:\/\//i);
  const references = [...INDEX_HTML.matchAll(/\s(src|href|action|srcset|poster)="([^"]*)"/g)].map((match) => match[2]!);
  assert.ok(references.length >= 3, `found ${references.length} references`);
  for (const url of references) {
    assert.ok((url.startsWith('/') && !url.startsWith('//')) || url === 'data:,', `not same-origin: ${url}`);
  }
});

Page('loads its script and style sheet from files: no inline script, style or event handler for the CSP to block', () => {
  assert.match(INDEX_HTML, /<link rel="stylesheet" href="\/web\/style\.css">/);
  assert.match(INDEX_HTML, /<script src="\/web\/app\.js" defer><\/script>/);
  const scripts = [...INDEX_HTML.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
  assert.is(scripts.length, 1);
  for (const [, attributes, body] of scripts) {
    assert.match(attributes!, /\ssrc="/);
    assert.is(body!.trim(), '', 'a script element has no inline body');
  }
  assert.not.match(INDEX_HTML, /<style\b/i);
  assert.not.match(INDEX_HTML, /\sstyle="/i);
  assert.not.match(INDEX_HTML, /\son[a-z]+="/i);
  assert.not.match(INDEX_HTML, /javascript:/i);
});

Page('has one element for each part the script fills in, each ID once', () => {
  const ids = [...INDEX_HTML.matchAll(/\sid="([^"]+)"/g)].map((match) => match[1]!);
  assert.equal(new Set(ids).size, ids.length, `an ID repeats: ${ids.join(', ')}`);
  for (const id of ['live', 'agents', 'no-agents', 'recoveries', 'no-recoveries', 'frameworks', 'no-frameworks', 'tasks', 'no-tasks']) assert.ok(ids.includes(id), id);
  assert.match(INDEX_HTML, /<table id="agents">[\s\S]*?<tbody><\/tbody>/);
  assert.match(INDEX_HTML, /<table id="frameworks">[\s\S]*?<tbody><\/tbody>/);
});

Page.run();
