// Versioned listing benchmark (issue 4): does a bucket full of noncurrent versions and delete markers
// list as fast as a bucket holding only its live keys?
//
//   npx tsx bench/versions.ts [--keys 100000] [--versions 10] [--samples 15] [--load bulk|objects] [--keep]
//
// 1. Loads, in process, on a real SqliteMetaStore and LocalBlockStore in a temporary directory, bucket
//    "versioned": every key gets --versions versions, then every second key gets a delete marker as its
//    latest version; and bucket "live": only the keys left live, one version each. Bodies are small, so
//    they stay inline and no block I/O happens.
//    --load objects goes through putObject / deleteObject, one metadata commit (one fsync) per version:
//    faithful, but about an hour for 1.1 M versions on a small machine. --load bulk (the default) writes
//    the same rows (version records, key heads, current entries, built by the object layer's own record
//    helpers) in large MetaStore transactions, then checks a sample through the object layer.
// 2. Counts the metadata rows one 1,000-key ListObjectsV2 page reads in each bucket.
// 3. Starts the real HTTP server (src/main.ts startServer) on that data directory and times signed
//    ListObjectsV2 and ListObjectVersions requests for 1,000-entry pages at the start, middle and end of
//    the key space: the median of --samples requests at each place.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SourceData } from '@smithy/types';
import { SqliteMetaStore } from '../src/meta/sqlite/sqlite-store.js';
import { openBlockStore } from '../src/blocks/index.js';
import type { ObjectContext } from '../src/objects/context.js';
import type { GetOptions, MetaStore } from '../src/meta/types.js';
import { createHash } from 'node:crypto';
import { createBucket, setBucketVersioning } from '../src/objects/buckets.js';
import { newObjectRecord, putObject } from '../src/objects/put-object.js';
import { deleteObject } from '../src/objects/delete-object.js';
import { listObjects, listVersions } from '../src/objects/list.js';
import { resolveVersion } from '../src/objects/get-object.js';
import { currentEntryOf } from '../src/objects/key-state.js';
import { keys } from '../src/objects/keys.js';
import { encodeRecord, newVersionKey, type KeyHead, type VersionRecord } from '../src/objects/records.js';
import type { Write } from '../src/meta/types.js';
import { startServer } from '../src/main.js';
import { createLogger } from '../src/util/log.js';
import { inlineObjectBytesMax } from '../src/constants.js';

const { values: args } = parseArgs({
  options: {
    keys: { type: 'string', default: '100000' },
    versions: { type: 'string', default: '10' },
    samples: { type: 'string', default: '15' },
    load: { type: 'string', default: 'bulk' },
    keep: { type: 'boolean', default: false },
  },
});
const keyCount = Number(args.keys);
const versionsPerKey = Number(args.versions);
const samples = Number(args.samples);
const pageKeys = 1000;
const loadConcurrency = 512; // keys written at once; one key's versions go in order
const accessKeyId = 'BENCHACCESSKEY000001';
const secretAccessKey = 'bench/secret/key/000000000000000000000001';
const region = 'us-east-1';

const keyName = (i: number): string => `data/${String(i).padStart(7, '0')}.bin`;
const isDeleted = (i: number): boolean => i % 2 === 1;

async function* bodyOf(text: string): AsyncGenerator<Buffer> {
  yield Buffer.from(text);
}

async function put(ctx: ObjectContext, bucket: string, key: string, text: string): Promise<void> {
  await putObject(ctx, { bucket, key, owner: accessKeyId, body: bodyOf(text), size: Buffer.byteLength(text), headers: {}, storageClass: 'STANDARD' });
}

async function forEachKey(count: number, work: (i: number) => Promise<void>, label: string): Promise<void> {
  let next = 0;
  let done = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      await work(i);
      done++;
      if (done % 20_000 === 0) process.stderr.write(`  ${label}: ${done}/${count} keys, ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(loadConcurrency, count) }, worker));
}

/** A MetaStore that counts the rows its scans return, to show what one listing page reads. */
function countingMeta(inner: MetaStore): MetaStore & { rows: number } {
  const counting = {
    rows: 0,
    get: (key: Buffer, options?: GetOptions) => inner.get(key, options),
    scan: async (range: Parameters<MetaStore['scan']>[0]) => {
      const page = await inner.scan(range);
      counting.rows += page.length;
      return page;
    },
    readMany: async (batch: Parameters<MetaStore['readMany']>[0]) => {
      const result = await inner.readMany(batch);
      counting.rows += result.scans.reduce((n, page) => n + page.length, 0);
      return result;
    },
    commit: (txn: Parameters<MetaStore['commit']>[0]) => inner.commit(txn),
    close: () => inner.close(),
  };
  return counting;
}

/** The version a PUT of `text` makes, built as putObject builds it. */
function objectVersion(key: string, text: string, versionKey: Buffer, isNull: boolean): VersionRecord {
  const bytes = Buffer.from(text);
  return newObjectRecord({ key, owner: accessKeyId, headers: {}, storageClass: 'STANDARD' }, {
    versionKey: versionKey.toString('hex'), isNull, nowMs: Date.now(), size: bytes.length,
    etag: `"${createHash('md5').update(bytes).digest('hex')}"`, data: { inline: bytes.toString('base64') },
  });
}

/** Every row installVersion would have written for key i, as one set of writes. */
function bulkRowsOf(i: number): Write[] {
  const key = keyName(i);
  const writes: Write[] = [];
  let latest: VersionRecord | undefined;
  let latestKey: Buffer | undefined;
  for (let v = 0; v < versionsPerKey; v++) {
    latestKey = newVersionKey(Date.now(), latestKey);
    latest = objectVersion(key, `${key} version ${v}`, latestKey, false);
    writes.push({ key: keys.version('versioned', key, latestKey), value: encodeRecord(latest) });
  }
  if (isDeleted(i)) {
    latestKey = newVersionKey(Date.now(), latestKey);
    latest = {
      key, versionKey: latestKey.toString('hex'), isNull: false, deleteMarker: true, lastModifiedMs: Date.now(), owner: accessKeyId,
      size: 0, etag: '', headers: {}, storageClass: 'STANDARD', data: {},
    };
    writes.push({ key: keys.version('versioned', key, latestKey), value: encodeRecord(latest) });
  }
  const head: KeyHead = { latest: latest!.versionKey, latestIsDeleteMarker: latest!.deleteMarker };
  writes.push({ key: keys.head('versioned', key), value: encodeRecord(head) });
  writes.push({ key: keys.current('versioned', key), value: latest!.deleteMarker ? null : encodeRecord(currentEntryOf(latest!)) });
  if (!isDeleted(i)) {
    const nullKey = newVersionKey(Date.now());
    const only = objectVersion(key, `${key} version ${versionsPerKey - 1}`, nullKey, true);
    const liveHead: KeyHead = { latest: only.versionKey, latestIsDeleteMarker: false, nullVersionKey: only.versionKey };
    writes.push({ key: keys.version('live', key, nullKey), value: encodeRecord(only) });
    writes.push({ key: keys.head('live', key), value: encodeRecord(liveHead) });
    writes.push({ key: keys.current('live', key), value: encodeRecord(currentEntryOf(only)) });
  }
  return writes;
}

async function loadBulk(ctx: ObjectContext): Promise<void> {
  const keysPerTxn = 250;
  const inFlightMax = 4;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < keyCount) {
      const first = next;
      const end = Math.min(keyCount, first + keysPerTxn);
      next = end;
      const writes: Write[] = [];
      for (let i = first; i < end; i++) writes.push(...bulkRowsOf(i));
      if (!(await ctx.meta.commit({ checks: [], writes }))) throw new Error('Bulk load commit failed');
      if (Math.floor(end / 20_000) > Math.floor(first / 20_000)) process.stderr.write(`  bulk: ${end}/${keyCount} keys\n`);
    }
  };
  await Promise.all(Array.from({ length: inFlightMax }, worker));
}

async function loadThroughObjects(ctx: ObjectContext): Promise<void> {
  await forEachKey(keyCount, async (i) => {
    const key = keyName(i);
    for (let v = 0; v < versionsPerKey; v++) await put(ctx, 'versioned', key, `${key} version ${v}`);
    if (isDeleted(i)) await deleteObject(ctx, { bucket: 'versioned', key, owner: accessKeyId });
  }, 'versioned');
  await forEachKey(keyCount, async (i) => {
    if (!isDeleted(i)) await put(ctx, 'live', keyName(i), `${keyName(i)} version ${versionsPerKey - 1}`);
  }, 'live');
}

/** Reads a sample back through the object layer, so a bulk load that drifted from the real layout fails loudly. */
async function checkSample(ctx: ObjectContext): Promise<void> {
  const fail = (what: string): never => {
    throw new Error(`Loaded data does not read back as expected: ${what}`);
  };
  for (const i of [0, 1, Math.floor(keyCount / 2), keyCount - 1]) {
    const key = keyName(i);
    const versions = await listVersions(ctx, 'versioned', { prefix: key, maxKeys: 100 });
    const expected = versionsPerKey + (isDeleted(i) ? 1 : 0);
    if (versions.entries.length !== expected) fail(`key "${key}" has ${versions.entries.length} versions, not ${expected}`);
    if (versions.entries[0]!.record.deleteMarker !== isDeleted(i) || !versions.entries[0]!.isLatest) fail(`key "${key}" has the wrong latest version`);
    if (isDeleted(i)) {
      await resolveVersion(ctx, 'versioned', key).then(() => fail(`deleted key "${key}" reads`), () => undefined);
    } else {
      for (const bucket of ['versioned', 'live']) {
        const current = await resolveVersion(ctx, bucket, key);
        if (Buffer.from(current.data.inline ?? '', 'base64').toString() !== `${key} version ${versionsPerKey - 1}`) fail(`key "${key}" in "${bucket}" reads wrong bytes`);
      }
    }
  }
  // A write on top of the loaded state goes through installVersion as usual.
  await put(ctx, 'versioned', keyName(0), 'check');
  await deleteObject(ctx, { bucket: 'versioned', key: keyName(0), versionId: (await resolveVersion(ctx, 'versioned', keyName(0))).versionKey, owner: accessKeyId });
}

async function load(dataDir: string): Promise<{ seconds: number; versionRows: number; rowsPerPage: Record<string, number> }> {
  const meta = await SqliteMetaStore.open(join(dataDir, 'meta', 'tessera.db'));
  const blocks = await openBlockStore({ drives: [join(dataDir, 'drive')] });
  const counted = countingMeta(meta);
  const ctx: ObjectContext = { meta: counted, blocks, nowMs: () => Date.now(), gcDelayMs: 3_600_000, inlineBytesMax: inlineObjectBytesMax, region };
  const started = performance.now();
  await createBucket(ctx, 'versioned', accessKeyId);
  await setBucketVersioning(ctx, 'versioned', 'Enabled');
  await createBucket(ctx, 'live', accessKeyId);
  if (args.load === 'objects') await loadThroughObjects(ctx);
  else if (args.load === 'bulk') await loadBulk(ctx);
  else throw new RangeError(`Unknown --load "${args.load}": expected bulk or objects`);
  const seconds = (performance.now() - started) / 1000;
  await checkSample(ctx);
  const rowsPerPage: Record<string, number> = {};
  for (const bucket of ['versioned', 'live']) {
    counted.rows = 0;
    const page = await listObjects(ctx, bucket, { prefix: '', maxKeys: pageKeys, after: keyName(Math.floor(keyCount / 4)) });
    if (page.entries.length !== pageKeys) throw new Error(`Expected a full page in bucket "${bucket}", got ${page.entries.length}`);
    rowsPerPage[bucket] = counted.rows;
  }
  const liveKeys = keyCount - Math.floor(keyCount / 2);
  const versionRows = keyCount * versionsPerKey + Math.floor(keyCount / 2) + liveKeys;
  await blocks.close();
  await meta.close();
  return { seconds, versionRows, rowsPerPage };
}

class Sha256 extends Hash {
  constructor(secret?: SourceData) {
    super('sha256', secret);
  }
}

const signer = new SignatureV4({ credentials: { accessKeyId, secretAccessKey }, region, service: 's3', sha256: Sha256, uriEscapePath: false });

function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** One signed GET on a bucket; returns the wall time and the body. Signing happens before the clock starts. */
async function timedList(endpoint: string, bucket: string, query: Record<string, string>): Promise<{ ms: number; body: string }> {
  const url = new URL(endpoint);
  const signed = await signer.sign({
    method: 'GET', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: `/${bucket}`, query,
    headers: { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
  });
  const search = Object.entries(query).map(([k, v]) => (v === '' ? rfc3986(k) : `${rfc3986(k)}=${rfc3986(v)}`)).join('&');
  const headers = Object.fromEntries(Object.entries(signed.headers).filter(([name]) => name !== 'host'));
  const started = performance.now();
  const res = await fetch(`${endpoint}/${bucket}?${search}`, { headers });
  const body = await res.text();
  const ms = performance.now() - started;
  if (res.status !== 200) throw new Error(`Listing "${bucket}" failed with ${res.status}: ${body.slice(0, 300)}`);
  return { ms, body };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function count(body: string, tag: string): number {
  return body.split(`<${tag}>`).length - 1;
}

interface Row {
  operation: string;
  bucket: string;
  place: string;
  entries: number;
  medianMs: number;
}

async function measure(endpoint: string): Promise<Row[]> {
  const places: [string, number][] = [['start', -1], ['middle', Math.floor(keyCount / 2)], ['end', keyCount - 2 * pageKeys - 1]];
  const rows: Row[] = [];
  // The two buckets are timed in turn, sample by sample, so a change in the machine's load hits both alike.
  const run = async (operation: string, place: string, query: Record<string, string>, entryTags: string[]): Promise<void> => {
    const buckets = ['versioned', 'live'];
    const times = new Map<string, number[]>(buckets.map((b) => [b, []]));
    const entries = new Map<string, number>();
    for (const bucket of buckets) await timedList(endpoint, bucket, query); // warm caches and the connection
    for (let s = 0; s < samples; s++) {
      for (const bucket of buckets) {
        const { ms, body } = await timedList(endpoint, bucket, query);
        times.get(bucket)!.push(ms);
        entries.set(bucket, entryTags.reduce((n, tag) => n + count(body, tag), 0));
      }
    }
    for (const bucket of buckets) rows.push({ operation, bucket, place, entries: entries.get(bucket)!, medianMs: median(times.get(bucket)!) });
  };
  for (const [place, at] of places) {
    const after: Record<string, string> = at < 0 ? {} : { 'start-after': keyName(at) };
    const marker: Record<string, string> = at < 0 ? {} : { 'key-marker': keyName(at) };
    await run('ListObjectsV2', place, { 'list-type': '2', 'max-keys': String(pageKeys), ...after }, ['Contents']);
    await run('ListObjectVersions', place, { versions: '', 'max-keys': String(pageKeys), ...marker }, ['Version', 'DeleteMarker']);
  }
  return rows;
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-bench-versions-'));
  const loadBefore = loadavg()[0]!.toFixed(2);
  try {
    process.stderr.write(`Loading ${keyCount} keys x ${versionsPerKey} versions (half with a delete marker) into ${dataDir}\n`);
    const loaded = await load(dataDir);
    const server = await startServer({
      address: '127.0.0.1:0', dataDir, drives: [], region, domains: ['localhost'], rootAccessKey: accessKeyId, rootSecretKey: secretAccessKey,
      gcDelayMs: 3_600_000, gcIntervalMs: 60_000, log: createLogger({ quiet: true }),
    });
    let rows: Row[];
    try {
      rows = await measure(server.url);
    } finally {
      await server.close();
    }
    const lines: string[] = [];
    lines.push(`keys: ${keyCount}, versions per key: ${versionsPerKey}, keys whose latest is a delete marker: ${Math.floor(keyCount / 2)}`);
    lines.push(`version rows written: ${loaded.versionRows} (both buckets), load (${args.load}): ${loaded.seconds.toFixed(0)} s`);
    lines.push(`metadata rows read by one ${pageKeys}-key ListObjectsV2 page: versioned ${loaded.rowsPerPage.versioned}, live ${loaded.rowsPerPage.live}`);
    lines.push(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), node ${process.version}, load average ${loadBefore} before, ${loadavg()[0]!.toFixed(2)} after`);
    lines.push('');
    lines.push('| operation | place | entries | versioned bucket (ms, median) | live-only bucket (ms, median) | ratio |');
    lines.push('| --- | --- | --- | --- | --- | --- |');
    for (const operation of ['ListObjectsV2', 'ListObjectVersions']) {
      for (const place of ['start', 'middle', 'end']) {
        const v = rows.find((r) => r.operation === operation && r.place === place && r.bucket === 'versioned')!;
        const l = rows.find((r) => r.operation === operation && r.place === place && r.bucket === 'live')!;
        lines.push(`| ${operation} | ${place} | ${v.entries} / ${l.entries} | ${v.medianMs.toFixed(1)} | ${l.medianMs.toFixed(1)} | ${(v.medianMs / l.medianMs).toFixed(2)} |`);
      }
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    if (args.keep) process.stderr.write(`Data kept in ${dataDir}\n`);
    else await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
