// Lifecycle benchmark (issue 15): how long a lifecycle pass takes over many keys (metadata only), and what
// it does to GET latency while it runs.
//
//   npx tsx bench/lifecycle.ts [--keys 100000] [--gets 2000] [--keep]
//
// 1. Loads, in process, on a real SqliteMetaStore in a temporary directory, versioned bucket "lc": every key
//    has one current version, and every tenth key also one noncurrent version, both written 10 days ago
//    (rows built with the object layer's own record helpers, in large transactions, as bench/versions.ts
//    does). The bucket's rules: expire current versions after 365 days (matches every key, due for none)
//    and noncurrent ones after 1 day (due for the tenth of keys that have one). Bodies are inline.
// 2. Runs one pass in process with no throttle (Lifecycle.step in a loop): keys judged per second, and the
//    noncurrent versions it removed (one metadata commit each).
// 3. Starts the real server on that data, with a small object, and times --gets signed GETs of it one at a
//    time: first with no pass running, then while a pass runs at --rate keys/s (the default throttle is
//    lifecycleRateKeysPerSecDefault); reports the median, p99 and max of each.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createHash } from 'node:crypto';
import { S3Client, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SourceData } from '@smithy/types';
import { SqliteMetaStore } from '../src/meta/sqlite/sqlite-store.js';
import { openBlockStore } from '../src/blocks/index.js';
import type { ObjectContext } from '../src/objects/context.js';
import type { Write } from '../src/meta/types.js';
import { createBucket, setBucketLifecycle, setBucketVersioning } from '../src/objects/buckets.js';
import { newObjectRecord } from '../src/objects/put-object.js';
import { currentEntryOf } from '../src/objects/key-state.js';
import { keys } from '../src/objects/keys.js';
import { encodeRecord, newVersionKey, type KeyHead, type VersionRecord } from '../src/objects/records.js';
import { Lifecycle } from '../src/objects/lifecycle.js';
import { startServer } from '../src/main.js';
import { createLogger } from '../src/util/log.js';
import { inlineObjectBytesMax, lifecycleRateKeysPerSecDefault } from '../src/constants.js';

const { values: args } = parseArgs({
  options: {
    keys: { type: 'string', default: '100000' },
    gets: { type: 'string', default: '2000' },
    rate: { type: 'string', default: String(lifecycleRateKeysPerSecDefault) },
    keep: { type: 'boolean', default: false },
  },
});
const keyCount = Number(args.keys);
const getCount = Number(args.gets);
const accessKeyId = 'BENCHACCESSKEY000001';
const secretAccessKey = 'bench/secret/key/000000000000000000000001';
const region = 'us-east-1';
const dayMs = 86_400_000;
const keyName = (i: number): string => `data/${String(i).padStart(7, '0')}.bin`;

function version(key: string, text: string, versionKey: Buffer, nowMs: number): VersionRecord {
  const bytes = Buffer.from(text);
  return newObjectRecord({ key, owner: accessKeyId, headers: {}, storageClass: 'STANDARD' }, {
    versionKey: versionKey.toString('hex'), isNull: false, nowMs, size: bytes.length,
    etag: `"${createHash('md5').update(bytes).digest('hex')}"`, data: { inline: bytes.toString('base64') },
  });
}

function rowsOf(i: number, agoMs: number): Write[] {
  const key = keyName(i);
  const writes: Write[] = [];
  let versionKey: Buffer | undefined;
  let latest: VersionRecord | undefined;
  for (let v = 0; v < (i % 10 === 0 ? 2 : 1); v++) {
    versionKey = newVersionKey(agoMs, versionKey);
    latest = version(key, `${key} v${v}`, versionKey, agoMs);
    writes.push({ key: keys.version('lc', key, versionKey), value: encodeRecord(latest) });
  }
  const head: KeyHead = { latest: latest!.versionKey, latestIsDeleteMarker: false };
  writes.push({ key: keys.head('lc', key), value: encodeRecord(head) }, { key: keys.current('lc', key), value: encodeRecord(currentEntryOf(latest!)) });
  return writes;
}

async function load(dataDir: string): Promise<{ loadSeconds: number; passSeconds: number; scanned: number; removed: number }> {
  const meta = await SqliteMetaStore.open(join(dataDir, 'meta', 'tessera.db'));
  const blocks = await openBlockStore({ drives: [join(dataDir, 'drive')] });
  const ctx: ObjectContext = { meta, blocks, nowMs: () => Date.now(), gcDelayMs: 3_600_000, inlineBytesMax: inlineObjectBytesMax, region };
  const started = performance.now();
  await createBucket(ctx, 'lc', accessKeyId);
  await setBucketVersioning(ctx, 'lc', 'Enabled');
  const agoMs = Date.now() - 10 * dayMs;
  for (let first = 0; first < keyCount; first += 500) {
    const writes: Write[] = [];
    for (let i = first; i < Math.min(keyCount, first + 500); i++) writes.push(...rowsOf(i, agoMs));
    if (!(await meta.commit({ checks: [], writes }))) throw new Error('Bulk load commit failed');
  }
  await setBucketLifecycle(ctx, 'lc', { rules: [
    { id: 'year', enabled: true, filter: { form: 'single', prefix: 'data/' }, expiration: { days: 365 } },
    { id: 'old-versions', enabled: true, filter: { form: 'single', prefix: 'data/' }, noncurrentExpiration: { days: 1 } },
  ] });
  const loadSeconds = (performance.now() - started) / 1000;
  const lifecycle = new Lifecycle(ctx, { abortUploadsAfterMs: 7 * dayMs });
  const passStarted = performance.now();
  await lifecycle.start();
  while ((await lifecycle.step(256)) === 'busy');
  const passSeconds = (performance.now() - passStarted) / 1000;
  const p = await lifecycle.progress();
  await blocks.close();
  await meta.close();
  return { loadSeconds, passSeconds, scanned: p.versionsScanned, removed: p.noncurrentExpired };
}

class Sha256 extends Hash {
  constructor(secret?: SourceData) {
    super('sha256', secret);
  }
}

const signer = new SignatureV4({ credentials: { accessKeyId, secretAccessKey }, region, service: 's3', sha256: Sha256, uriEscapePath: false });

function stats(ms: number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(2);
  return `median ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${sorted[sorted.length - 1]!.toFixed(2)} ms`;
}

async function timeGets(s3: S3Client, count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    const got = await s3.send(new GetObjectCommand({ Bucket: 'lc', Key: 'probe' }));
    await got.Body!.transformToByteArray();
    out.push(performance.now() - t);
  }
  return out;
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-bench-lifecycle-'));
  try {
    process.stderr.write(`loading ${keyCount} keys ...\n`);
    const loaded = await load(dataDir);
    // The pass above removed what was due; the pass started below judges the same keys again, which is what
    // GET latency needs: a pass walking the metadata.
    const server = await startServer({
      address: '127.0.0.1:0', dataDir, drives: [], region, domains: ['localhost'], rootAccessKey: accessKeyId, rootSecretKey: secretAccessKey,
      gcDelayMs: 3_600_000, gcIntervalMs: 60_000, lifecycleIntervalMs: 0, lifecycleRateKeysPerSec: Number(args.rate), log: createLogger({ quiet: true }),
    });
    const s3 = new S3Client({ endpoint: server.url, region, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
    let idle: number[];
    let busy: number[];
    let judgedDuring = 0;
    try {
      await s3.send(new PutObjectCommand({ Bucket: 'lc', Key: 'probe', Body: 'x'.repeat(1024) }));
      await timeGets(s3, 100); // warm up
      idle = await timeGets(s3, getCount);
      const admin = async (method: string) => {
        const url = new URL(server.url);
        const signed = await signer.sign({ method, protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: '/_tessera/admin/lifecycle', headers: { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
        const headers = Object.fromEntries(Object.entries(signed.headers).filter(([name]) => name !== 'host'));
        return (await (await fetch(`${server.url}/_tessera/admin/lifecycle`, { method, headers })).json()) as { running: boolean; versionsScanned: number };
      };
      await admin('POST');
      busy = await timeGets(s3, getCount);
      const during = await admin('GET');
      judgedDuring = during.versionsScanned;
      if (!during.running) process.stderr.write('note: the pass ended before the GETs did; raise --keys or --gets\n');
    } finally {
      s3.destroy();
      await server.close();
    }
    const lines = [
      `keys: ${keyCount} (a tenth with one noncurrent version due), cpus: ${cpus().length}, load average: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`,
      `load: ${loaded.loadSeconds.toFixed(1)} s`,
      `pass, unthrottled, in process: ${loaded.passSeconds.toFixed(1)} s, ${Math.round(loaded.scanned / loaded.passSeconds)} versions judged/s, ${loaded.removed} noncurrent versions removed`,
      `GET 1 KiB, one at a time, ${getCount} each:`,
      `  no pass running:               ${stats(idle)}`,
      `  pass running at ${args.rate} keys/s: ${stats(busy)} (the pass judged ${judgedDuring} versions meanwhile)`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    if (args.keep) process.stderr.write(`kept ${dataDir}\n`);
    else await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
