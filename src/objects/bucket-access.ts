// What access control reads and writes in the metadata: a bucket's policy and Block Public Access
// settings (in its record), and the store-wide Block Public Access setting. No decisions here: src/iam
// decides, src/s3 asks.
import { assert } from '../util/assert.js';
import type { PublicAccessBlock } from '../iam/types.js';
import type { ObjectContext } from './context.js';
import { updateBucket } from './buckets.js';
import { keys } from './keys.js';
import { decodeRecord, decodeSharedRecord, encodeRecord, type BucketRecord } from './records.js';

const storePublicAccessBlockSetting = 'public-access-block';

/** AWS turns all four on for new accounts; a store is one account. */
export const storePublicAccessBlockDefault: Readonly<PublicAccessBlock> = Object.freeze({
  BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true,
});

/** The bucket's record, or null when there is no such bucket (or it is being deleted). */
export async function readBucketOrNull(ctx: Pick<ObjectContext, 'meta'>, name: string): Promise<BucketRecord | null> {
  const buf = await ctx.meta.get(keys.bucket(name));
  if (!buf) return null;
  const record = decodeSharedRecord<BucketRecord>(buf);
  return record.deleting ? null : record;
}

/** Sets (text) or removes (undefined) the bucket policy; the text is kept as it was put. */
export async function setBucketPolicy(ctx: ObjectContext, name: string, text: string | undefined): Promise<void> {
  await updateBucket(ctx, name, (r) => {
    const { policy: _, ...rest } = r;
    return text === undefined ? rest : { ...rest, policy: text };
  });
}

export async function setBucketPublicAccessBlock(ctx: ObjectContext, name: string, block: PublicAccessBlock | undefined): Promise<void> {
  await updateBucket(ctx, name, (r) => {
    const { publicAccessBlock: _, ...rest } = r;
    return block === undefined ? rest : { ...rest, publicAccessBlock: block };
  });
}

export async function readStorePublicAccessBlock(ctx: Pick<ObjectContext, 'meta'>): Promise<PublicAccessBlock> {
  const buf = await ctx.meta.get(keys.setting(storePublicAccessBlockSetting));
  return buf ? { ...storePublicAccessBlockDefault, ...decodeRecord<Partial<PublicAccessBlock>>(buf) } : { ...storePublicAccessBlockDefault };
}

export async function writeStorePublicAccessBlock(ctx: Pick<ObjectContext, 'meta'>, block: PublicAccessBlock): Promise<void> {
  const ok = await ctx.meta.commit({ checks: [], writes: [{ key: keys.setting(storePublicAccessBlockSetting), value: encodeRecord(block) }] });
  assert(ok, 'A commit without checks cannot fail its checks');
}
