// Authorization of every S3 request: after authentication, before the handler. It looks the operation up
// in the access table, gathers the inputs (the identity's policies, the bucket's policy, ACL answer and
// Block Public Access, the store's Block Public Access) and asks the one evaluator in src/iam.
import type { TLSSocket } from 'node:tls';
import type { Acl, Identity, PublicAccessBlock } from '../iam/types.js';
import { aclGrants, aclPermissionFor } from '../iam/acl-check.js';
import { aclInForce, ownershipOf } from '../iam/acl.js';
import type { BucketRecord } from '../objects/records.js';
import { resolveVersion } from '../objects/get-object.js';
import { accountId } from '../iam/types.js';
import { evaluate, type Decision } from '../iam/evaluate.js';
import type { ConditionValues } from '../iam/conditions.js';
import type { Policy } from '../iam/policy.js';
import { accessTable, resourceArn, type ResourceLevel } from './access-table.js';
import { accessCacheOf, type BucketAccess } from '../objects/access-cache.js';
import type { RequestAuth } from './authenticate.js';
import { header, type RequestContext } from './context.js';
import { S3Error } from './errors.js';
import { parseCopySource } from './copy-source.js';
import { clientAddressOf } from './client-address.js';

/** What authorization reads of a request: the handler's context, possibly before its auth is known. */
export type AccessContext = Pick<RequestContext, 'req' | 'query' | 'bucket' | 'key' | 'objects' | 'config'> & { auth: RequestAuth | null; identity: Identity };

/**
 * Refuses the request with AccessDenied unless its identity may perform its operation. Operations the
 * router makes up to refuse a request (NotImplemented, MethodNotAllowed) are answered as such to signed
 * requests only; anonymous ones learn nothing of them.
 */
export async function authorizeRequest(c: AccessContext, operation: string): Promise<void> {
  const rule = accessTable.get(operation);
  if (!rule) {
    // Fail closed: an operation missing from the table runs for the root alone (the table test should
    // have caught it); a refusal the router made up runs for any signer, as it only refuses.
    if (c.identity.kind === 'anonymous' || (operation !== 'NotImplemented' && c.identity.kind !== 'root')) throw new S3Error('AccessDenied');
    return;
  }
  // DeleteObjects checks each key, PostObject its form's signer and key, in their handlers.
  if (rule.special === 'per-key' || rule.special === 'form') return;
  await requireAccess(c, rule.action(c), rule.level, c.key, operation === 'CreateBucket');
  if (rule.special === 'copy') {
    const value = header(c, 'x-amz-copy-source');
    if (value !== undefined) {
      const source = parseCopySource(value);
      const action = source.versionId !== undefined ? 's3:GetObjectVersion' : 's3:GetObject';
      await requireAccess({ ...c, bucket: source.bucket }, action, 'object', source.key, false);
    }
  }
  // AWS: tags given with a new object need s3:PutObjectTagging as well.
  if (rule.level === 'object' && rule.action(c) === 's3:PutObject' && header(c, 'x-amz-tagging') !== undefined) {
    await requireAccess(c, 's3:PutObjectTagging', 'object', c.key, false);
  }
}

/** Throws AccessDenied (or NoSuchBucket, for a bucket that does not exist) unless the action is allowed. */
export async function requireAccess(c: AccessContext, action: string, level: ResourceLevel, key: string | undefined, creating: boolean): Promise<void> {
  const { decision, bucket } = await decide(c, action, level, key);
  if (decision === 'allow') return;
  // A refused request on a bucket that does not exist learns that, as AWS answers it (names are global).
  if (bucket && !bucket.record && !creating) throw new S3Error('NoSuchBucket', undefined, { extra: { BucketName: c.bucket! } });
  throw new S3Error('AccessDenied');
}

/** Whether the action is allowed, for checks that answer per item (DeleteObjects). */
export async function allows(c: AccessContext, action: string, level: ResourceLevel, key: string | undefined): Promise<boolean> {
  return (await decide(c, action, level, key)).decision === 'allow';
}

async function decide(c: AccessContext, action: string, level: ResourceLevel, key: string | undefined): Promise<{ decision: Decision; bucket?: BucketAccess }> {
  const cache = accessCacheOf(c.objects.meta);
  const identity = c.identity;
  const bucket = level !== 'service' && c.bucket !== undefined ? await cache.bucket(c.bucket) : undefined;
  // The root with no bucket policy to deny it: nothing to evaluate (the small-GET path).
  if (identity.kind === 'root' && !bucket?.policy && !bucket?.policyBroken) return { decision: 'allow', ...(bucket ? { bucket } : {}) };
  if (bucket?.policyBroken) return { decision: identity.kind === 'root' ? 'allow' : 'deny', bucket };
  const storeBlock = cache.storePublicAccessBlock();
  const readsTags = level === 'object' && (bucket?.policy?.readsObjectTags || (identity.kind === 'user' && identity.policies.some((text) => cache.identityPolicy(text)?.readsObjectTags)));
  const tags = readsTags ? await objectTags(c, key) : undefined;
  const request = { identity, action, resource: resourceArn(level, c.bucket, key), values: conditionValues(c, identity, tags) };
  // A decision made from the same identity, bucket record and store setting, for a request reading the
  // same condition values, is remembered; one that read the object's tags is not (they are not in its
  // scope), nor one about a bucket that does not exist (its record is read afresh each time, so its
  // entries could never be found again and would only push out others).
  const decisions = cache.decisions;
  const cacheKey = readsTags || (bucket && !bucket.record) ? undefined : decisions.keyOf([identity, bucket, storeBlock], action, request.resource);
  let decision = cacheKey === undefined ? undefined : decisions.lookup(cacheKey, request.values, c.config.nowMs());
  let publicAccessBlock: PublicAccessBlock | undefined;
  if (decision === undefined) {
    const identityPolicies: Policy[] = [];
    if (identity.kind === 'user') {
      for (const text of identity.policies) {
        const policy = cache.identityPolicy(text);
        if (!policy) return { decision: 'deny', ...(bucket ? { bucket } : {}) };
        identityPolicies.push(policy);
      }
    }
    publicAccessBlock = strictest(await storeBlock, bucket?.record?.publicAccessBlock);
    const inputs = { identityPolicies, bucketPolicy: bucket?.policy, bucketPolicyPublic: bucket?.policyPublic ?? false, publicAccessBlock, aclAllows: false };
    decision = cacheKey === undefined ? evaluate(request, inputs) : decisions.evaluate(cacheKey, request, inputs);
  }
  // The ACL is asked only when the policies neither allowed nor denied (so a grant allows, as evaluate()
  // with aclAllows would answer): an object's ACL costs a read.
  if (decision === 'implicit' && bucket?.record && level !== 'service') {
    publicAccessBlock ??= strictest(await storeBlock, bucket.record.publicAccessBlock);
    if (await aclAllows(c, bucket.record, action, level, key, publicAccessBlock)) decision = 'allow';
  }
  return { decision, ...(bucket ? { bucket } : {}) };
}

/** The tags of the object a request names (its versionId's, or the current version's); none when it does not exist. */
async function objectTags(c: AccessContext, key: string | undefined): Promise<Record<string, string> | undefined> {
  if (key === undefined || c.bucket === undefined) return undefined;
  try {
    return (await resolveVersion(c.objects, c.bucket, key, c.query.get('versionId') ?? undefined)).tags ?? {};
  } catch {
    return undefined;
  }
}

/**
 * Whether the ACL in force (none but the owner's under BucketOwnerEnforced) grants the action. Only group
 * grants (AllUsers, AuthenticatedUsers) count here: a grant to the account's canonical id is the account's,
 * and its users act under their identity policies, as an account principal in a bucket policy works.
 */
async function aclAllows(c: AccessContext, record: BucketRecord, action: string, level: 'bucket' | 'object', key: string | undefined, block: PublicAccessBlock): Promise<boolean> {
  if (ownershipOf(record) === 'BucketOwnerEnforced') return false;
  // Writing and deleting objects is granted by the bucket's ACL (WRITE), not by an object's.
  const onBucket = level === 'bucket' || (aclPermissionFor(action, 'object') === undefined && aclPermissionFor(action, 'bucket') !== undefined);
  const permission = aclPermissionFor(action, onBucket ? 'bucket' : 'object');
  if (!permission) return false;
  let acl: Acl | undefined = record.acl;
  if (!onBucket) {
    if (key === undefined || c.bucket === undefined) return false;
    const versionId = c.query.get('versionId') ?? undefined;
    try {
      acl = (await resolveVersion(c.objects, c.bucket, key, versionId)).acl;
    } catch {
      return false; // no such object (or version): nothing to grant; the handler answers what is missing
    }
  }
  const groupsOnly = aclInForce(ownershipOf(record), acl);
  return aclGrants({ ...groupsOnly, grants: groupsOnly.grants.filter((g) => g.grantee.type === 'Group') }, c.identity, permission, { ignorePublic: block.IgnorePublicAcls });
}

/** The store's and the bucket's Block Public Access together: each setting on where either turns it on. */
export function strictest(store: PublicAccessBlock, bucket: PublicAccessBlock | undefined): PublicAccessBlock {
  if (!bucket) return store;
  return {
    BlockPublicAcls: store.BlockPublicAcls || bucket.BlockPublicAcls,
    IgnorePublicAcls: store.IgnorePublicAcls || bucket.IgnorePublicAcls,
    BlockPublicPolicy: store.BlockPublicPolicy || bucket.BlockPublicPolicy,
    RestrictPublicBuckets: store.RestrictPublicBuckets || bucket.RestrictPublicBuckets,
  };
}

const single = (value: string | undefined): readonly string[] | undefined => (value === undefined ? undefined : [value]);

/** The request's condition key values, computed when a condition asks (keys arrive lower-cased). */
export function conditionValues(c: AccessContext, identity: Identity, objectTags?: Record<string, string>): ConditionValues {
  return (key: string): readonly string[] | undefined => {
    switch (key) {
      case 'aws:sourceip': return single(clientAddressOf(c.config.trustedProxies, c.req));
      case 'aws:securetransport': return [(c.req.socket as Partial<TLSSocket>).encrypted === true ? 'true' : 'false'];
      case 'aws:currenttime': return [new Date(c.config.nowMs()).toISOString()];
      case 'aws:epochtime': return [String(Math.floor(c.config.nowMs() / 1000))];
      case 'aws:referer': return single(header(c, 'referer'));
      case 'aws:useragent': return single(header(c, 'user-agent'));
      case 'aws:username': return identity.kind === 'user' ? [identity.userName] : undefined;
      // AWS's values: an IAM user's unique id, the account id for the root, "anonymous" for an unsigned request.
      case 'aws:userid': return [identity.kind === 'user' ? identity.userId : identity.kind === 'root' ? accountId : 'anonymous'];
      case 'aws:principalarn': return identity.kind === 'anonymous' ? undefined : [identity.arn];
      case 'aws:principalaccount': return identity.kind === 'anonymous' ? undefined : [accountId];
      case 'aws:principaltype': return [identity.kind === 'user' ? 'User' : identity.kind === 'root' ? 'Account' : 'Anonymous'];
      case 's3:prefix': return single(c.query.get('prefix') ?? undefined);
      case 's3:delimiter': return single(c.query.get('delimiter') ?? undefined);
      case 's3:max-keys': return single(c.query.get('max-keys') ?? undefined);
      case 's3:versionid': return single(c.query.get('versionId') ?? undefined);
      case 's3:signatureversion': return c.auth ? [c.auth.signatureVersion === 4 ? 'AWS4-HMAC-SHA256' : 'AWS'] : undefined;
      case 's3:authtype': return c.auth ? [c.auth.presigned ? 'REST-QUERY-STRING' : 'REST-HEADER'] : undefined;
      case 's3:x-amz-content-sha256': return single(header(c, 'x-amz-content-sha256'));
      case 's3:x-amz-acl':
      case 's3:x-amz-server-side-encryption':
      case 's3:x-amz-server-side-encryption-aws-kms-key-id':
      case 's3:x-amz-server-side-encryption-customer-algorithm':
      case 's3:x-amz-copy-source':
      case 's3:x-amz-metadata-directive':
      case 's3:x-amz-storage-class':
      case 's3:x-amz-grant-read':
      case 's3:x-amz-grant-write':
      case 's3:x-amz-grant-read-acp':
      case 's3:x-amz-grant-write-acp':
      case 's3:x-amz-grant-full-control':
        return single(header(c, key.slice(3)));
      default:
        if (key.startsWith('s3:requestobjecttag/')) return requestTag(c, key.slice('s3:requestobjecttag/'.length));
        if (key.startsWith('s3:existingobjecttag/') && objectTags) return existingTag(objectTags, key.slice('s3:existingobjecttag/'.length));
        return undefined;
    }
  };
}

/** A tag of the x-amz-tagging header (URL-encoded key=value pairs); tag keys are case-sensitive. */
function requestTag(c: AccessContext, lowerKey: string): readonly string[] | undefined {
  const tagging = header(c, 'x-amz-tagging');
  if (tagging === undefined) return undefined;
  for (const [k, v] of new URLSearchParams(tagging)) if (k.toLowerCase() === lowerKey) return [v];
  return undefined;
}

/**
 * The owner recorded for what the request creates: its signer's access key, or for an anonymous request
 * (let in by a bucket policy) the bucket's owner, as AWS records the bucket owner when ACLs are disabled.
 */
export async function ownerOf(c: Pick<AccessContext, 'auth' | 'objects' | 'bucket'>): Promise<string> {
  if (c.auth) return c.auth.accessKeyId;
  const record = c.bucket === undefined ? null : (await accessCacheOf(c.objects.meta).bucket(c.bucket)).record;
  if (!record) throw new S3Error('AccessDenied');
  return record.owner;
}

/** The access key of a request only a signer can make (no policy can let anyone create or list buckets). */
export function signerOf(c: Pick<AccessContext, 'auth'>): string {
  if (!c.auth) throw new S3Error('AccessDenied');
  return c.auth.accessKeyId;
}

/** A tag of the object the request names; the policy's key arrives lower-cased, so it is matched so. */
function existingTag(tags: Record<string, string>, lowerKey: string): readonly string[] | undefined {
  for (const [k, v] of Object.entries(tags)) if (k.toLowerCase() === lowerKey) return [v];
  return undefined;
}
