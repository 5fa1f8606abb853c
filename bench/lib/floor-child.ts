// One rung of bench/small-get-floor.ts's ladder: a bare node:http server answering 4 KiB GETs, with
// (by mode) Tessera's own SigV4 header verification and its MetaStore lookup added, from dist/. It adds
// nothing else: no routing, authorization, response headers beyond the length, access log or metrics.
// Run: node --import tsx floor-child.ts MODE DATA_DIR OBJECTS BYTES; prints its URL as JSON on stdout.
// Under cluster-child.ts (bare and sigv4 rungs in several processes) it listens on the primary's port instead.
import cluster from 'node:cluster';
import { randomFillSync } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { RequestAuthConfig } from '../../src/s3/authenticate.js';
import type { ObjectContext } from '../../src/objects/context.js';
import { benchCredentials } from './server.js';

type Mode = 'bare' | 'sigv4' | 'meta';
const [modeText, dataDir, objectsText, bytesText] = process.argv.slice(2);
const mode = modeText as Mode;
if (!['bare', 'sigv4', 'meta'].includes(mode) || !dataDir) throw new Error('Usage: floor-child.ts bare|sigv4|meta DATA_DIR OBJECTS BYTES');
if (cluster.isWorker && mode === 'meta') throw new Error('floor-child: the meta rung runs in one process'); // one writer of its SQLite
const objectCount = Number(objectsText);
const bytes = Number(bytesText);
const bucket = 'bench';

const dist = '../../dist';
const { authenticateRequest } = (await import(`${dist}/s3/authenticate.js`)) as typeof import('../../src/s3/authenticate.js');
const { Query } = (await import(`${dist}/s3/query.js`)) as typeof import('../../src/s3/query.js');

const authConfig: RequestAuthConfig = {
  region: benchCredentials.region,
  secretFor: (id) => (id === benchCredentials.accessKeyId ? benchCredentials.secretAccessKey : undefined),
  nowMs: () => Date.now(),
  sigv2: true, // as tessera server's default
};

function objectBytes(index: number): Buffer {
  const buf = Buffer.allocUnsafe(bytes);
  randomFillSync(buf);
  buf.writeUInt32LE(index, 0);
  return buf;
}

// bare and sigv4 answer from a Map; meta from the same records Tessera reads (inline in SQLite).
const bodies = new Map<string, Buffer>();
let objects: ObjectContext | undefined;
let resolveVersionAndBucket: typeof import('../../src/objects/get-object.js').resolveVersionAndBucket | undefined;
let inlineRange: typeof import('../../src/objects/data.js').inlineRange | undefined;
let closeStores: (() => Promise<void>) | undefined;
if (mode === 'meta') {
  const { openLocalStores } = (await import(`${dist}/roles/stores.js`)) as typeof import('../../src/roles/stores.js');
  const { createBucket } = (await import(`${dist}/objects/buckets.js`)) as typeof import('../../src/objects/buckets.js');
  const { putObject } = (await import(`${dist}/objects/put-object.js`)) as typeof import('../../src/objects/put-object.js');
  ({ resolveVersionAndBucket } = (await import(`${dist}/objects/get-object.js`)) as typeof import('../../src/objects/get-object.js'));
  ({ inlineRange } = (await import(`${dist}/objects/data.js`)) as typeof import('../../src/objects/data.js'));
  const stores = await openLocalStores({ dataDir, drives: [], region: benchCredentials.region, gcDelayMs: 2000, rootAccessKey: benchCredentials.accessKeyId, rootSecretKey: benchCredentials.secretAccessKey });
  objects = stores.objects;
  closeStores = () => stores.close();
  await createBucket(objects, bucket, benchCredentials.accessKeyId);
  for (let i = 0; i < objectCount; i++) {
    const body = objectBytes(i);
    await putObject(objects, { bucket, key: `get-${bytes}-${i}`, owner: benchCredentials.accessKeyId, body: bodyOf(body), size: body.length, headers: {}, storageClass: 'STANDARD' });
  }
} else {
  for (let i = 0; i < objectCount; i++) bodies.set(`/${bucket}/get-${bytes}-${i}`, objectBytes(i));
}

async function* bodyOf(body: Buffer): AsyncGenerator<Buffer> {
  yield body;
}

function fail(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'content-length': '0' }).end();
}

async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const rawQuery = q < 0 ? '' : url.slice(q + 1);
  if (mode !== 'bare') {
    const query = Query.parse(rawQuery);
    const auth = authenticateRequest({ method: req.method ?? 'GET', rawPath, rawQuery, query: query.pairs, headers: req.headers, headersDistinct: () => req.headersDistinct }, authConfig);
    if (!auth) return fail(res, 403);
  }
  let body: Buffer | undefined;
  if (mode === 'meta') {
    const key = decodeURIComponent(rawPath.slice(bucket.length + 2));
    const { record } = await resolveVersionAndBucket!(objects!, bucket, key);
    body = inlineRange!(record.data, 0, record.size);
  } else {
    body = bodies.get(rawPath);
  }
  if (!body) return fail(res, 404);
  res.writeHead(200, { 'content-length': String(body.length), 'content-type': 'application/octet-stream' });
  res.end(body);
}

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  answer(req, res).catch(() => fail(res, 500));
});
server.listen(cluster.isWorker ? Number(process.env.FLOOR_CHILD_PORT) : 0, '127.0.0.1', () => {
  if (cluster.isPrimary) process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}` })}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => void (closeStores?.() ?? Promise.resolve()).then(() => process.exit(0)));
});
