// Block Public Access as a request sees it: the store's settings combined with the bucket's.
// Interim home until the policy branch owns the store-wide settings; it may replace this at merge.
import type { PublicAccessBlock } from './types.js';

/** The store-wide settings when none were set: all four on, as AWS has for new accounts. */
export const storePublicAccessBlockDefault: Readonly<PublicAccessBlock> = Object.freeze({
  BlockPublicAcls: true,
  IgnorePublicAcls: true,
  BlockPublicPolicy: true,
  RestrictPublicBuckets: true,
});

/**
 * The settings in force for a bucket: each one is on if the store or the bucket turns it on (AWS applies
 * the most restrictive combination of the account's and the bucket's).
 */
export function effectivePublicAccessBlock(bucket: PublicAccessBlock | undefined, store: PublicAccessBlock = storePublicAccessBlockDefault): PublicAccessBlock {
  return {
    BlockPublicAcls: store.BlockPublicAcls || (bucket?.BlockPublicAcls ?? false),
    IgnorePublicAcls: store.IgnorePublicAcls || (bucket?.IgnorePublicAcls ?? false),
    BlockPublicPolicy: store.BlockPublicPolicy || (bucket?.BlockPublicPolicy ?? false),
    RestrictPublicBuckets: store.RestrictPublicBuckets || (bucket?.RestrictPublicBuckets ?? false),
  };
}
