// The web console's static files under /_tessera/console/ (from the package's console/ folder) with their
// security headers, and the cross-site check the endpoint applies to console and admin requests. The
// console holds no data and no session: the page signs every S3 and admin call itself (SigV4), so this
// module never sees a credential (docs/architecture.md "The web console").
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';

export const consolePath = '/_tessera/console';
const consolePrefix = `${consolePath}/`;

/** The files a browser may fetch, by name under the prefix, with their types; anything else is 404. */
const staticTypes: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'browse.js': 'text/javascript; charset=utf-8',
  'admin.js': 'text/javascript; charset=utf-8',
  'iam.js': 'text/javascript; charset=utf-8',
  's3.js': 'text/javascript; charset=utf-8',
  'sigv4.js': 'text/javascript; charset=utf-8',
  'sha256.js': 'text/javascript; charset=utf-8',
  'ui.js': 'text/javascript; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
};

// No inline script or style, nothing from elsewhere, no framing, no form posts: a key name rendered by
// mistake as HTML could still run nothing. connect-src 'self' lets the page call only this origin.
const securityHeaders: Record<string, string> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  // Revalidated on every load (a 304 by ETag): an upgraded server never runs an old page against a new API.
  'cache-control': 'no-cache',
};

interface StaticFile {
  body: Buffer;
  etag: string;
  type: string;
}

/** Whether a request belongs to the console: cheap, after isAdminRequest's first character check. */
export function isConsoleRequest(url: string): boolean {
  return url.startsWith(consolePath) && (url.length === consolePath.length || url[consolePath.length] === '/' || url[consolePath.length] === '?');
}

/**
 * Why a browser request to the console or the admin API is refused as cross-site, or undefined. Browsers
 * send Sec-Fetch-Site (and Origin on a non-GET): any request another site's page makes is refused, except
 * a plain top-level navigation to the console (a link to it), which reads nothing and changes nothing.
 * Clients that are not browsers send neither header and are judged by their signature alone.
 */
export function crossSiteRefusal(req: IncomingMessage): string | undefined {
  const site = req.headers['sec-fetch-site'];
  const origin = req.headers.origin;
  const navigation = req.headers['sec-fetch-mode'] === 'navigate' && req.headers['sec-fetch-dest'] === 'document' && (req.method === 'GET' || req.method === 'HEAD');
  if (site !== undefined && site !== 'same-origin' && site !== 'none' && !navigation) return `Cross-site request refused (Sec-Fetch-Site "${site}")`;
  if (origin !== undefined && origin !== 'null' && !sameOrigin(origin, req.headers.host)) return `Cross-site request refused (Origin "${origin}")`;
  if (origin === 'null' && !navigation) return 'Cross-site request refused (Origin "null")';
  return undefined;
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  try {
    return host !== undefined && new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}

/** Answers a refused cross-site request: 403 with a JSON error, as the admin API answers. */
export function refuseCrossSite(res: ServerResponse, reason: string): void {
  const body = JSON.stringify({ error: reason });
  res.writeHead(403, { ...securityHeaders, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

/** The console's static files, read once from `dir` and kept (they are a few tens of KiB). */
export function consoleHandler(options: { dir: URL; region: string }): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const files = new Map<string, Promise<StaticFile | undefined>>();
  const load = (name: string): Promise<StaticFile | undefined> => {
    let file = files.get(name);
    if (!file) {
      file = name === 'config.json' ? Promise.resolve(fileOf(Buffer.from(JSON.stringify({ region: options.region })), 'application/json')) : readStatic(options.dir, name);
      files.set(name, file);
    }
    return file;
  };
  return async (req, res) => {
    const url = req.url ?? '/';
    const path = url.split('?', 1)[0]!;
    if (path === consolePath) return send(res, 301, { location: `${consolePrefix}` });
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { allow: 'GET, HEAD' });
    const name = path === consolePrefix ? 'index.html' : path.slice(consolePrefix.length);
    let file: StaticFile | undefined;
    try {
      file = await load(name);
    } catch (err) {
      // A package without its console files is broken, not the request: said plainly, not as a dropped answer.
      files.delete(name);
      return send(res, 500, {}, `${(err as Error).message}\n`);
    }
    if (!file) return send(res, 404, {}, 'Not found\n');
    if (req.headers['if-none-match'] === file.etag) return send(res, 304, { etag: file.etag });
    res.writeHead(200, { ...securityHeaders, 'content-type': file.type, 'content-length': String(file.body.length), etag: file.etag });
    res.end(req.method === 'HEAD' ? undefined : file.body);
  };
}

async function readStatic(dir: URL, name: string): Promise<StaticFile | undefined> {
  const type = Object.hasOwn(staticTypes, name) ? staticTypes[name] : undefined;
  if (type === undefined) return undefined; // a fixed list: no path from the URL ever reaches the file system
  try {
    return fileOf(await readFile(new URL(name, dir)), type);
  } catch (err) {
    throw new Error(`Cannot read the console's file "${name}" from "${dir.pathname}"`, { cause: err });
  }
}

function fileOf(body: Buffer, type: string): StaticFile {
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, text = ''): void {
  res.writeHead(status, { ...securityHeaders, ...headers, 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(text)) });
  res.end(text);
}

/** Where the console's files sit in the package: console/ at its root, beside src/ and dist/. */
export const consoleDir = new URL('../../console/', import.meta.url);
