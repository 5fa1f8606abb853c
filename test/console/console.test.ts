// The web console (issue #14) in a real browser: Debian's Chromium driven by playwright-core signs in,
// makes a bucket, uploads (one PUT and multipart), browses, downloads, shares and deletes against a real
// server; manages users, keys and policies and uses the key it made; and, without a browser, its security
// headers and the refusal of unsigned and cross-site calls.
// CONSOLE_SCREENSHOTS=docs/console writes the README's screenshots; otherwise they go to a temp folder, removed after.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { get } from 'node:http';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { chromium, type Browser, type Page } from 'playwright-core';
import { repoRoot, startTesseraForFile } from '../helpers/tessera.js';
import { signRequest } from '../../src/s3/sigv4/sign.js';
import { sdkError } from '../s3/raw-http.js';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const noBrowser = existsSync(chromiumPath) ? false : `no Chromium at "${chromiumPath}"`;
if (noBrowser && process.env.CI) throw new Error(`The console test needs Chromium (CI=true): ${noBrowser}`);

const { server, s3 } = await startTesseraForFile();
const consoleUrl = `${server.url}/_tessera/console/`;
const shots = process.env.CONSOLE_SCREENSHOTS ? resolve(repoRoot, process.env.CONSOLE_SCREENSHOTS) : await mkdtemp(join(tmpdir(), 'tessera-console-shots-'));

function signedAdmin(path: string, headers: Record<string, string> = {}): Promise<Response> {
  const url = new URL(`/_tessera/admin/${path}`, server.url);
  const signed = signRequest({ method: 'GET', url, region: server.region, accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey });
  return fetch(url, { headers: { ...signed, ...headers } });
}

/** A GET with exactly these headers: fetch() would set its own Sec-Fetch-Mode and normalize "..". */
function rawGet(path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    get({ host: '127.0.0.1', port: server.port, path, headers }, (res) => {
      res.resume();
      resolvePromise(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

test('console - static files carry the security headers and no inline script when fetched', async () => {
  const res = await fetch(consoleUrl);
  assert.equal(res.status, 200);
  const html = await res.text();
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.doesNotMatch(html, /<script>|<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(res.headers.get('x-frame-options'), 'DENY');
  assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
  assert.equal(res.headers.get('cache-control'), 'no-cache');
  const etag = res.headers.get('etag')!;
  assert.equal((await fetch(consoleUrl, { headers: { 'if-none-match': etag } })).status, 304);
  const js = await fetch(`${consoleUrl}app.js`);
  assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
  assert.equal(js.headers.get('x-content-type-options'), 'nosniff');
  assert.equal((await fetch(`${server.url}/_tessera/console`, { redirect: 'manual' })).headers.get('location'), '/_tessera/console/');
});

test('console - serves every file of the package\'s console folder when asked by name', async () => {
  const names = await readdir(join(repoRoot, 'console'));
  assert.ok(names.includes('index.html') && names.includes('app.js'));
  for (const name of names) {
    const res = await fetch(`${consoleUrl}${name}`);
    assert.equal(res.status, 200, `"${name}" is missing from the served list in src/admin/console.ts`);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), await readFile(join(repoRoot, 'console', name)));
  }
  const config = await (await fetch(`${consoleUrl}config.json`)).json() as { region: string };
  assert.equal(config.region, server.region);
});

test('console - files outside its fixed list are 404 when the path names them or climbs out', async () => {
  for (const path of ['nope.js', '..%2F..%2Fpackage.json', '%2e%2e/%2e%2e/package.json', '../../package.json', 'config.json/../app.js', 'index.html?../../x']) {
    assert.equal(await rawGet(`/_tessera/console/${path}`), path.startsWith('index') ? 200 : 404, path);
  }
  assert.equal((await fetch(consoleUrl, { method: 'POST' })).status, 405);
});

test('console - admin API refuses a call without a key, and a signed one sent cross-site', async () => {
  assert.equal((await fetch(`${server.url}/_tessera/admin/status`)).status, 403);
  assert.equal((await signedAdmin('status')).status, 200, 'the same call signed and same-origin is served');
  assert.equal((await signedAdmin('status', { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors' })).status, 403);
  assert.equal((await signedAdmin('status', { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'cors' })).status, 403);
  assert.equal((await signedAdmin('status', { origin: 'http://evil.example' })).status, 403);
  assert.equal((await signedAdmin('status', { 'sec-fetch-site': 'same-origin', origin: server.url })).status, 200);
  // A page elsewhere may link to the console (a navigation), but not load its scripts.
  assert.equal(await rawGet('/_tessera/console/app.js', { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'script' }), 403);
  assert.equal(await rawGet('/_tessera/console/', { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' }), 200);
  assert.equal(await rawGet('/_tessera/console/', { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'iframe' }), 403);
});

let browser: Browser | undefined;
before(async () => {
  if (noBrowser) return;
  // launch() gives Chromium a fresh temporary profile (--user-data-dir) of its own and removes it on close.
  // Without the background-networking flags Chromium keeps dialling Google's hosts, which this network refuses.
  browser = await chromium.launch({
    executablePath: chromiumPath,
    // tessera.test reaches the server by a name that is not localhost: a page there is no secure context.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--host-resolver-rules=MAP tessera.test 127.0.0.1'],
  });
});
after(() => browser?.close());
// Kept only when asked for (CONSOLE_SCREENSHOTS); the temp folder goes with the run.
after(() => (process.env.CONSOLE_SCREENSHOTS ? undefined : rm(shots, { recursive: true, force: true })));

/** A screenshot of the viewport, or of the whole page (cut at `heightPx` when given, to keep the file small). */
async function shot(page: Page, name: string, fullPage = false, heightPx?: number): Promise<void> {
  await mkdir(shots, { recursive: true });
  const clip = heightPx === undefined ? undefined : { x: 0, y: 0, width: page.viewportSize()!.width, height: heightPx };
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage, ...(clip ? { clip } : {}) });
}

async function signIn(page: Page, accessKeyId: string, secret: string): Promise<void> {
  await page.fill('input[name=accessKeyId]', accessKeyId);
  await page.fill('input[name=secretAccessKey]', secret);
  await page.click('#login button[type=submit]');
}

async function downloadBytes(page: Page, click: () => Promise<void>): Promise<Buffer> {
  const [download] = await Promise.all([page.waitForEvent('download'), click()]);
  return readFile((await download.path())!);
}

test('console - signs in, uploads, browses, downloads, shares, deletes and signs out in Chromium', { skip: noBrowser }, async () => {
  const page = await browser!.newPage({ viewport: { width: 1100, height: 640 }, acceptDownloads: true });
  page.on('dialog', (d) => void d.accept());
  try {
    await page.goto(consoleUrl);
    await signIn(page, server.accessKeyId, 'not-the-secret');
    await page.waitForSelector('#login-error:has-text("Sign-in failed")');
    assert.match(await page.textContent('#login-error') ?? '', /SignatureDoesNotMatch/);
    await shot(page, 'login');
    await signIn(page, server.accessKeyId, server.secretAccessKey);
    await page.waitForSelector('h1:has-text("Buckets")');
    assert.equal(await page.evaluate(() => document.cookie), '', 'no cookie: the key lives in sessionStorage only');

    await page.fill('input[name=bucket]', 'photos');
    await page.click('form.row button[type=submit]');
    await page.waitForSelector('h1.crumbs:has-text("photos")');

    await page.click('#versioning-toggle');
    await page.waitForSelector('#versioning:has-text("Versioning: enabled")');
    const first = randomBytes(2000);
    const small = randomBytes(3000);
    await page.fill('#upload-prefix', 'trips/');
    await page.setInputFiles('#upload-input', { name: 'note.txt', mimeType: 'text/plain', buffer: first });
    await page.waitForSelector('a:has-text("trips/")');
    await page.setInputFiles('#upload-input', { name: 'note.txt', mimeType: 'text/plain', buffer: small });
    await page.waitForSelector('#upload-status:has-text("note.txt: 100%") .ok');
    const large = randomBytes(6 * 1024 * 1024 + 4321); // above the 5 MiB multipart threshold: two parts
    // From a file rather than a buffer: Playwright would send a buffer's bytes through the DevTools protocol.
    const largePath = join(await mkdtemp(join(tmpdir(), 'tessera-console-upload-')), 'big.bin');
    await writeFile(largePath, large);
    await page.fill('#upload-prefix', '');
    await page.setInputFiles('#upload-input', largePath);
    await page.waitForSelector('tr[data-key="big.bin"]', { timeout: 30_000 });
    await page.waitForSelector('#upload-status:has-text("100%")');
    await rm(dirname(largePath), { recursive: true, force: true });
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'photos', Key: 'big.bin' }));
    assert.match(head.ETag ?? '', /-2"$/, 'the large file went up in two parts');
    await shot(page, 'objects');

    assert.deepEqual(await downloadBytes(page, () => page.click('tr[data-key="big.bin"] button:has-text("Download")')), large);
    await page.click('a:has-text("trips/")');
    await page.waitForSelector('tr[data-key="trips/note.txt"]');
    assert.deepEqual(await downloadBytes(page, () => page.click('tr[data-key="trips/note.txt"] button:has-text("Download")')), small);

    await page.click('tr[data-key="trips/note.txt"] button:has-text("Share")');
    await page.selectOption('#share-expiry', '3600');
    await page.click('#share-make');
    await page.waitForFunction(() => (document.getElementById('share-url') as HTMLInputElement).value.startsWith('http'));
    const link = await page.inputValue('#share-url');
    assert.match(link, /X-Amz-Expires=3600/);
    await shot(page, 'share');
    const shared = await fetch(link);
    assert.equal(shared.status, 200);
    assert.deepEqual(Buffer.from(await shared.arrayBuffer()), small);

    await page.click('tr[data-key="trips/note.txt"] button:has-text("Versions")');
    await page.waitForSelector('h2:has-text("Versions of")');
    await page.waitForSelector('td:has-text("(current)")');
    assert.equal(await page.locator('tbody tr').count(), 2, 'both uploads of note.txt are versions');
    assert.deepEqual(await downloadBytes(page, () => page.click('tbody tr:nth-child(2) button:has-text("Download")')), first);
    await shot(page, 'versions');
    await page.goBack();
    await page.waitForSelector('tr[data-key="trips/note.txt"]');
    await page.click('tr[data-key="trips/note.txt"] button:has-text("Delete")');
    await page.waitForSelector('td:has-text("Empty")');
    await assert.rejects(s3.send(new GetObjectCommand({ Bucket: 'photos', Key: 'trips/note.txt' })), { name: 'NoSuchKey' });

    await page.click('a[data-view=admin]');
    await page.waitForSelector('h2:has-text("Drives")');
    // From the MetaStore's counters, not a listing: note.txt's two versions count, its delete marker apart.
    const usageRow = page.locator('#usage tr:has(td:text-is("photos")) td');
    await usageRow.first().waitFor();
    assert.deepEqual(await usageRow.allTextContents(), ['photos', '3', '6.0 MiB', '1']);
    await page.click('#start-heal'); // a POST from the page: same-origin, so the Origin check lets it through
    await page.waitForSelector('td:has-text("finished")');
    assert.equal(await page.textContent('.error'), '');
    await shot(page, 'cluster', true);
    await page.click('a[data-view=iam]');
    await page.waitForSelector('td:has-text("No users yet")');
    await page.click('a[data-view=buckets]');
    await page.waitForSelector('a:has-text("photos")');
    await shot(page, 'buckets');

    await page.click('#logout');
    await page.waitForSelector('#login:not([hidden])');
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    await page.goto(`${consoleUrl}#/admin`);
    await page.waitForSelector('#login:not([hidden])');
    assert.equal(await page.isHidden('#top'), true, 'nothing but the sign-in form after signing out');
  } finally {
    await page.close();
  }
});

const readOnlyPolicy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'], Resource: ['arn:aws:s3:::shelf', 'arn:aws:s3:::shelf/*'] }] }, null, 2);

test('console - users page makes a user, a key and a read-only policy, then disables and deletes them in Chromium', { skip: noBrowser }, async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'shelf' }));
  await s3.send(new PutObjectCommand({ Bucket: 'shelf', Key: 'book.txt', Body: 'pages' }));
  const context = await browser!.newContext({ viewport: { width: 1100, height: 640 }, permissions: ['clipboard-read', 'clipboard-write'] });
  const page = await context.newPage();
  page.on('dialog', (d) => void d.accept());
  try {
    await page.goto(`${consoleUrl}#/iam`);
    await signIn(page, server.accessKeyId, server.secretAccessKey);
    await page.waitForSelector('td:has-text("No users yet")');
    await page.fill('#new-user', 'reader');
    await page.click('button:has-text("Create user")');
    await page.waitForSelector('#user h2:has-text("reader")');
    await page.click('#create-key');
    await page.waitForSelector('#new-key');
    assert.match(await page.textContent('#new-key .warn') ?? '', /only time it is shown/);
    const credentials = { accessKeyId: await page.inputValue('#new-key-id'), secretAccessKey: await page.inputValue('#new-key-secret') };
    assert.match(credentials.secretAccessKey, /^\S{30,}$/);
    await page.click('#new-key .row:has(#new-key-secret) button:has-text("Copy")');
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), credentials.secretAccessKey);
    await page.waitForSelector(`#user td:has-text("${credentials.accessKeyId}")`);

    await page.fill('#policy-name', 'read-shelf');
    await page.fill('#policy-document', '{"Version": "2012-10-17", "Statement": [');
    await page.click('#attach-policy button[type=submit]');
    await page.waitForSelector('#policy-error:has-text("MalformedPolicyDocument")');
    await page.fill('#policy-document', readOnlyPolicy);
    await page.click('#attach-policy button[type=submit]');
    await page.waitForSelector('#user td:has-text("read-shelf")');
    assert.equal(await page.textContent('#policy-error'), '');
    await shot(page, 'users-and-keys', true, 900); // down to the policies: the attach form is cut
    await page.click('#user button:has-text("Edit")');
    assert.equal(await page.inputValue('#policy-name'), 'read-shelf');
    assert.deepEqual(JSON.parse(await page.inputValue('#policy-document')), JSON.parse(readOnlyPolicy), 'Edit loads the stored document');

    const client = new S3Client({ endpoint: server.url, region: server.region, forcePathStyle: true, credentials, maxAttempts: 1 });
    const got = await client.send(new GetObjectCommand({ Bucket: 'shelf', Key: 'book.txt' }));
    assert.equal(await got.Body!.transformToString(), 'pages');
    await assert.rejects(client.send(new PutObjectCommand({ Bucket: 'shelf', Key: 'graffiti.txt', Body: 'x' })), sdkError('AccessDenied', 403));

    // The user's key signs in (its AccessDenied on ListBuckets proves the secret) but the admin pages refuse it.
    const other = await context.newPage();
    await other.goto(`${consoleUrl}#/iam`);
    await signIn(other, credentials.accessKeyId, credentials.secretAccessKey);
    await other.waitForSelector('.error:has-text("Root key only")');
    assert.equal(await other.isHidden('#new-user'), true, 'no create form for a key that cannot use it');
    await other.click('a[data-view=admin]');
    await other.waitForSelector('.error:has-text("Root key only")');
    await other.close();

    await page.click('#user button:has-text("Disable")');
    await page.waitForSelector('#user td:has-text("Inactive")');
    await assert.rejects(client.send(new GetObjectCommand({ Bucket: 'shelf', Key: 'book.txt' })), sdkError('InvalidAccessKeyId', 403));
    await page.click('#user button:has-text("Enable")');
    await page.waitForSelector('#user td > span.ok'); // the status cell of an Active key
    await client.send(new GetObjectCommand({ Bucket: 'shelf', Key: 'book.txt' }));
    await page.click('#user button.danger:has-text("Delete")');
    await page.waitForSelector('#user td:has-text("No access keys")');
    await page.click('tr:has(a:text-is("reader")) button:has-text("Delete")'); // detaches its policy first
    await page.waitForSelector('td:has-text("No users yet")');
    assert.deepEqual(await (await signedAdmin('iam/users')).json(), { users: [] });
  } finally {
    await context.close();
  }
});

test('console - signs and uploads without WebCrypto when the page is not a secure context', { skip: noBrowser }, async () => {
  const page = await browser!.newPage();
  try {
    await page.goto(`http://tessera.test:${server.port}/_tessera/console/`);
    assert.equal(await page.evaluate(() => isSecureContext), false, 'plain http to a non-local name hides crypto.subtle');
    await signIn(page, server.accessKeyId, server.secretAccessKey);
    await page.waitForSelector('h1:has-text("Buckets")');
    await page.fill('input[name=bucket]', 'plain-http');
    await page.click('form.row button[type=submit]');
    await page.waitForSelector('h1.crumbs:has-text("plain-http")');
    const body = randomBytes(100_000);
    await page.setInputFiles('#upload-input', { name: 'a b+c.bin', mimeType: 'application/octet-stream', buffer: body });
    await page.waitForSelector('tr[data-key="a b+c.bin"]');
    const got = await s3.send(new GetObjectCommand({ Bucket: 'plain-http', Key: 'a b+c.bin' }));
    assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), body);
  } finally {
    await page.close();
  }
});

test('console - pages through a listing of more objects than one page with Load more', { skip: noBrowser }, async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'many' }));
  const keys = Array.from({ length: 205 }, (_, i) => `k${String(i).padStart(3, '0')}`);
  for (let i = 0; i < keys.length; i += 20) await Promise.all(keys.slice(i, i + 20).map((Key) => s3.send(new PutObjectCommand({ Bucket: 'many', Key, Body: 'x' }))));
  const page = await browser!.newPage();
  try {
    await page.goto(consoleUrl);
    await signIn(page, server.accessKeyId, server.secretAccessKey);
    await page.waitForSelector('a:has-text("many")');
    await page.click('a:has-text("many")');
    await page.waitForSelector('tr[data-key="k199"]');
    assert.equal(await page.locator('tr[data-key]').count(), 200);
    await page.click('button:has-text("Load more")');
    await page.waitForSelector('tr[data-key="k204"]');
    assert.equal(await page.locator('tr[data-key]').count(), 205);
    assert.equal(await page.isHidden('button:has-text("Load more")'), true);
  } finally {
    await page.close();
  }
});

test('console - a multipart upload whose part fails is aborted and the failure shown', { skip: noBrowser }, async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'cut-off' }));
  const dir = await mkdtemp(join(tmpdir(), 'tessera-console-upload-'));
  const path = join(dir, 'big.bin');
  await writeFile(path, randomBytes(5 * 1024 * 1024 + 1));
  const page = await browser!.newPage();
  try {
    // The first part's request fails as a dropped connection does. Done in the page: page.route() would
    // carry every request body through the DevTools protocol, seconds for a 5 MiB part on a busy machine.
    await page.addInitScript(() => {
      const { open, send } = XMLHttpRequest.prototype;
      const failing = new WeakSet<XMLHttpRequest>();
      XMLHttpRequest.prototype.open = function (this: XMLHttpRequest, method: string, url: string | URL) {
        if (String(url).includes('partNumber=1&')) failing.add(this);
        open.call(this, method, url, true);
      };
      XMLHttpRequest.prototype.send = function (this: XMLHttpRequest, body?: Document | XMLHttpRequestBodyInit | null) {
        if (failing.has(this)) setTimeout(() => this.onerror?.(new ProgressEvent('error')));
        else send.call(this, body);
      };
    });
    await page.goto(`${consoleUrl}#/b/cut-off/`);
    await signIn(page, server.accessKeyId, server.secretAccessKey);
    await page.waitForSelector('#upload-input');
    await page.setInputFiles('#upload-input', path);
    await page.waitForSelector('#upload-status .bad:has-text("NetworkError")');
    const deadlineMs = Date.now() + 10_000;
    let uploads = 1;
    while (uploads > 0 && Date.now() < deadlineMs) {
      uploads = (await s3.send(new ListMultipartUploadsCommand({ Bucket: 'cut-off' }))).Uploads?.length ?? 0;
      if (uploads > 0) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(uploads, 0, 'the console aborted the upload it could not finish');
  } finally {
    await page.close();
    await rm(dir, { recursive: true, force: true });
  }
});
