import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { crossSiteRefusal, isConsoleRequest } from './console.js';

function request(headers: Record<string, string>, method = 'GET'): IncomingMessage {
  return { method, headers: { host: '127.0.0.1:9000', ...headers } } as unknown as IncomingMessage;
}

test('isConsoleRequest - claims the console path and what is under it, nothing that only starts alike', () => {
  assert.equal(isConsoleRequest('/_tessera/console'), true);
  assert.equal(isConsoleRequest('/_tessera/console?x'), true);
  assert.equal(isConsoleRequest('/_tessera/console/app.js'), true);
  assert.equal(isConsoleRequest('/_tessera/consoles'), false);
  assert.equal(isConsoleRequest('/_tessera/admin/status'), false);
});

test('crossSiteRefusal - lets same-origin and non-browser requests through, refuses other sites', () => {
  assert.equal(crossSiteRefusal(request({})), undefined, 'a CLI sends no Sec-Fetch-Site or Origin');
  assert.equal(crossSiteRefusal(request({ 'sec-fetch-site': 'same-origin', origin: 'http://127.0.0.1:9000' }, 'POST')), undefined);
  assert.equal(crossSiteRefusal(request({ 'sec-fetch-site': 'none' })), undefined, 'typed in the address bar');
  assert.match(crossSiteRefusal(request({ 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors' })) ?? '', /Sec-Fetch-Site "cross-site"/);
  assert.match(crossSiteRefusal(request({ 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'no-cors' })) ?? '', /same-site/);
  assert.match(crossSiteRefusal(request({ origin: 'http://127.0.0.1:9001' }, 'POST')) ?? '', /Origin "http:\/\/127.0.0.1:9001"/, 'another port is another origin');
  assert.match(crossSiteRefusal(request({ origin: 'null' }, 'POST')) ?? '', /null/);
  assert.match(crossSiteRefusal(request({ origin: 'not a url' }, 'POST')) ?? '', /not a url/);
});

test('crossSiteRefusal - allows a link from another site to open the console, but no POST or frame', () => {
  const navigate = { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' };
  assert.equal(crossSiteRefusal(request(navigate)), undefined);
  assert.notEqual(crossSiteRefusal(request(navigate, 'POST')), undefined);
  assert.notEqual(crossSiteRefusal(request({ ...navigate, 'sec-fetch-dest': 'iframe' })), undefined);
});
