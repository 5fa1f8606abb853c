// Per-bucket usage kept in the MetaStore as counters, changed in the same commit as the versions they count,
// so every gateway reads the same figures and a scrape reads one counter per bucket and measure, never the
// versions. Counted: every stored version that is not a delete marker (current and noncurrent), its bytes,
// and delete markers. Parts of multipart uploads in progress are not counted until completed.
import { counterValue, type Add, type MetaStore } from '../meta/types.js';
import { keys } from './keys.js';
import type { VersionRecord } from './records.js';

export const usageMeasures = ['objects', 'bytes', 'delete-markers'] as const;
export type UsageMeasure = (typeof usageMeasures)[number];

export interface BucketUsage {
  bucket: string;
  objects: number;
  bytes: number;
  deleteMarkers: number;
}

/** The counter changes of a version entering (sign 1) or leaving (sign -1) a bucket. */
export function usageAdds(bucket: string, record: Pick<VersionRecord, 'deleteMarker' | 'size'>, sign: 1 | -1): Add[] {
  if (record.deleteMarker) return [{ key: keys.usage(bucket, 'delete-markers'), delta: sign }];
  return [
    { key: keys.usage(bucket, 'objects'), delta: sign },
    { key: keys.usage(bucket, 'bytes'), delta: sign * record.size },
  ];
}

/** Every usage counter of a bucket, for its removal. */
export function usageKeys(bucket: string): Buffer[] {
  return usageMeasures.map((m) => keys.usage(bucket, m));
}

/** Buckets read per scrape at most: a scan of three small counters per bucket. */
export const usageBucketsMax = 10_000;

/** Every bucket's usage, from one scan of the counters (at most usageBucketsMax buckets, in name order). */
export async function readUsage(meta: MetaStore): Promise<BucketUsage[]> {
  const rows = await meta.scan({ ...keys.usageRange(), limit: usageBucketsMax * usageMeasures.length });
  const byBucket = new Map<string, BucketUsage>();
  for (const { key, value } of rows) {
    const { bucket, measure } = keys.parseUsage(key);
    let usage = byBucket.get(bucket);
    if (!usage) byBucket.set(bucket, (usage = { bucket, objects: 0, bytes: 0, deleteMarkers: 0 }));
    const n = counterValue(value);
    if (measure === 'objects') usage.objects = n;
    else if (measure === 'bytes') usage.bytes = n;
    else if (measure === 'delete-markers') usage.deleteMarkers = n;
  }
  return [...byBucket.values()];
}
