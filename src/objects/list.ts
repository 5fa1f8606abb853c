// Listing: current objects (ListObjects v1/v2) from the current-entry space, so noncurrent versions and
// deleted keys cost nothing, and every version (ListObjectVersions) from the version space. A common
// prefix is skipped in one seek, not by reading the keys under it.
import type { ObjectContext } from './context.js';
import { keys } from './keys.js';
import { readHead } from './key-state.js';
import { decodeRecord, parseVersionId, versionIdOf, type CurrentEntry, type VersionRecord } from './records.js';
import { ObjectError } from './errors.js';
import type { KvPair } from '../meta/types.js';

const scanPageMax = 1000;
const zeroByte = Buffer.from([0]);

export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** The common prefix `key` rolls up into, if any. */
function commonPrefixOf(key: string, prefix: string, delimiter: string | undefined): string | undefined {
  if (!delimiter) return undefined;
  const at = key.indexOf(delimiter, prefix.length);
  return at < 0 ? undefined : key.slice(0, at + delimiter.length);
}

export interface ListParams {
  prefix: string;
  delimiter?: string;
  /** List keys strictly after this one (start-after, marker, continuation). */
  after?: string;
  maxKeys: number;
}

export interface ListResult<T> {
  entries: T[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** The last key or common prefix returned, to continue from. */
  last?: string;
}

/**
 * The listing walk shared by objects, versions and uploads: scan [start, end) page by page, roll keys into
 * common prefixes, skip a whole prefix with one seek, and stop after maxKeys results.
 */
export async function walk<T>(
  ctx: ObjectContext,
  params: ListParams & { start: Buffer; end: Buffer },
  parse: (kv: KvPair) => { name: string; item: T },
  afterPrefix: (prefix: string) => Buffer,
): Promise<ListResult<T>> {
  const result: ListResult<T> = { entries: [], commonPrefixes: [], isTruncated: false };
  // max-keys=0 asks for nothing and AWS answers an empty, untruncated page (ceph s3-tests
  // test_bucket_list_maxkeys_zero); a truncated page without a next marker would leave clients stuck.
  if (params.maxKeys === 0) return result;
  let cursor = params.start;
  let count = 0;
  for (;;) {
    // One row past maxKeys is enough to know whether the listing is truncated; reading a whole page
    // more would double the rows a full page costs.
    const limit = Math.min(scanPageMax, params.maxKeys - count + 1);
    const page = await ctx.meta.scan({ start: cursor, end: params.end, limit });
    let reseek: Buffer | undefined;
    let lastKey: Buffer | undefined;
    for (const kv of page) {
      const { name, item } = parse(kv);
      const cp = commonPrefixOf(name, params.prefix, params.delimiter);
      if (cp !== undefined && params.after !== undefined && compareKeys(cp, params.after) <= 0) {
        reseek = afterPrefix(cp); // a prefix already returned on an earlier page
        break;
      }
      if (count >= params.maxKeys) {
        result.isTruncated = true;
        return result;
      }
      count++;
      if (cp !== undefined) {
        result.commonPrefixes.push(cp);
        result.last = cp;
        reseek = afterPrefix(cp);
        break;
      }
      result.entries.push(item);
      result.last = name;
      lastKey = kv.key;
    }
    if (reseek) cursor = reseek;
    else if (page.length < limit) return result;
    else if (lastKey) cursor = Buffer.concat([lastKey, zeroByte]);
  }
}

export interface ObjectEntry {
  key: string;
  entry: CurrentEntry;
}

export async function listObjects(ctx: ObjectContext, bucket: string, params: ListParams): Promise<ListResult<ObjectEntry>> {
  const range = keys.currentRange(bucket, params.prefix);
  let start = range.start;
  if (params.after !== undefined && compareKeys(params.after, params.prefix) >= 0) start = keys.currentAfter(bucket, params.after);
  const objectKeyOf = keys.objectKeysFromCurrent(bucket);
  return walk(
    ctx,
    { ...params, start, end: range.end },
    (kv) => {
      const key = objectKeyOf(kv.key);
      return { name: key, item: { key, entry: decodeRecord<CurrentEntry>(kv.value) } };
    },
    (p) => keys.currentAfterPrefix(bucket, p),
  );
}

export interface VersionEntry {
  record: VersionRecord;
  isLatest: boolean;
}

export interface VersionListParams extends ListParams {
  versionIdMarker?: string;
}

async function versionStart(ctx: ObjectContext, bucket: string, params: VersionListParams, rangeStart: Buffer): Promise<Buffer> {
  if (params.after === undefined || compareKeys(params.after, params.prefix) < 0) return rangeStart;
  if (params.versionIdMarker === undefined || params.versionIdMarker === '') return keys.versionAfterKey(bucket, params.after);
  let versionKey: Buffer | undefined;
  if (params.versionIdMarker === 'null') {
    const nullKey = (await readHead(ctx, bucket, params.after)).head?.nullVersionKey;
    versionKey = nullKey ? Buffer.from(nullKey, 'hex') : undefined;
  } else {
    versionKey = parseVersionId(params.versionIdMarker);
    if (!versionKey) throw new ObjectError('InvalidArgument', 'Invalid version id specified', { extra: { ArgumentName: 'version-id-marker', ArgumentValue: params.versionIdMarker } });
  }
  if (!versionKey) return keys.versionAfterKey(bucket, params.after);
  return Buffer.concat([keys.version(bucket, params.after, versionKey), Buffer.from([0])]);
}

export async function listVersions(ctx: ObjectContext, bucket: string, params: VersionListParams): Promise<ListResult<VersionEntry>> {
  const range = keys.versionRange(bucket, params.prefix);
  const start = await versionStart(ctx, bucket, params, range.start);
  // The first version seen of a key is its latest, unless the listing resumed in the middle of that key.
  let previousKey = params.versionIdMarker ? params.after : undefined;
  return walk(
    ctx,
    { ...params, start, end: range.end },
    (kv) => {
      const record = decodeRecord<VersionRecord>(kv.value);
      const isLatest = record.key !== previousKey;
      previousKey = record.key;
      return { name: record.key, item: { record, isLatest } };
    },
    (p) => keys.versionAfterPrefix(bucket, p),
  );
}

export function lastVersionId(result: ListResult<VersionEntry>): string | undefined {
  const last = result.entries[result.entries.length - 1];
  return last && result.last === last.record.key ? versionIdOf(last.record) : undefined;
}
