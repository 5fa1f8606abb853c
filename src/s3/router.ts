// Maps a request (method, bucket, key, sub-resource query parameters, copy-source header) to the
// handler of one S3 operation, from an allow-list: a request matches an operation we implement or gets
// NotImplemented, so a sub-resource we do not know can never run another operation.
import type { RequestContext } from './context.js';
import { S3Error } from './errors.js';
import type { Query } from './query.js';
import { handleListBuckets } from './handlers/list-buckets.js';
import { handleCreateBucket } from './handlers/create-bucket.js';
import { handleGetBucketLocation, handleHeadBucket } from './handlers/head-bucket.js';
import { handleDeleteBucket } from './handlers/delete-bucket.js';
import { handleGetBucketVersioning, handlePutBucketVersioning } from './handlers/bucket-versioning.js';
import { handleListObjects, handleListObjectsV2 } from './handlers/list-objects.js';
import { handleListObjectVersions } from './handlers/list-object-versions.js';
import { handlePutObject } from './handlers/put-object.js';
import { handlePostObject } from './handlers/post-object.js';
import { handleGetObject, handleGetObjectTorrent, handleHeadObject } from './handlers/get-object.js';
import { handleGetObjectAttributes } from './handlers/get-object-attributes.js';
import { handleDeleteObject, handleDeleteObjects } from './handlers/delete-object.js';
import { handleCopyObject } from './handlers/copy-object.js';
import {
  handleAbortMultipartUpload, handleCompleteMultipartUpload, handleCreateMultipartUpload, handleListMultipartUploads,
  handleListParts, handleUploadPart, handleUploadPartCopy,
} from './handlers/multipart.js';
import { handleDeleteObjectTagging, handleGetObjectTagging, handlePutObjectTagging } from './handlers/object-tagging.js';
import { handleDeleteBucketTagging, handleGetBucketTagging, handlePutBucketTagging } from './handlers/bucket-tagging.js';
import { handleDeleteBucketLifecycle, handleGetBucketLifecycle, handlePutBucketLifecycle } from './handlers/bucket-lifecycle.js';
import {
  handleGetObjectLegalHold, handleGetObjectLockConfiguration, handleGetObjectRetention, handlePutObjectLegalHold,
  handlePutObjectLockConfiguration, handlePutObjectRetention,
} from './handlers/object-lock.js';
import { handleDeleteBucketCors, handleGetBucketCors, handlePutBucketCors } from './handlers/bucket-cors.js';
import { handleDeleteBucketEncryption, handleGetBucketEncryption, handlePutBucketEncryption } from './handlers/bucket-encryption.js';
import { handleDeleteBucketPolicy, handleGetBucketPolicy, handleGetBucketPolicyStatus, handlePutBucketPolicy } from './handlers/bucket-policy.js';
import { handleDeletePublicAccessBlock, handleGetPublicAccessBlock, handlePutPublicAccessBlock } from './handlers/public-access-block.js';
import { handleGetBucketAcl, handlePutBucketAcl } from './handlers/bucket-acl.js';
import { handleGetObjectAcl, handlePutObjectAcl } from './handlers/object-acl.js';
import {
  handleDeleteBucketOwnershipControls, handleGetBucketOwnershipControls, handlePutBucketOwnershipControls,
} from './handlers/bucket-ownership.js';

export type Handler = (c: RequestContext) => Promise<void>;

/** What routing looks at: a handler is picked before the request is authenticated, so the access log names the operation of a refused request too. */
export type Routable = Pick<RequestContext, 'req' | 'query' | 'bucket' | 'key'>;

/**
 * Every sub-resource of the S3 API: the bare query names in the request URIs of the AWS SDK's S3 model
 * (botocore 1.43, 2026). A request naming one is served only by the operation the table below gives for
 * it, and by nothing else.
 */
const subresources = new Set([
  'abac', 'accelerate', 'acl', 'analytics', 'annotation', 'attributes', 'cors', 'delete', 'encryption',
  'intelligent-tiering', 'inventory', 'legal-hold', 'lifecycle', 'location', 'logging', 'metadataAnnotationTable',
  'metadataConfiguration', 'metadataInventoryTable', 'metadataJournalTable', 'metadataTable', 'metrics',
  'notification', 'object-lock', 'ownershipControls', 'policy', 'policyStatus', 'publicAccessBlock', 'renameObject',
  'replication', 'requestPayment', 'restore', 'retention', 'select', 'session', 'tagging', 'torrent', 'uploads',
  'versioning', 'versions', 'website',
]);

/**
 * The other query parameters of the S3 model (options of its operations), and x-id, which the JS SDK adds
 * to name the operation. Parameters starting with x-amz- (presigned fields, hoisted headers) are options too.
 */
const options = new Set([
  'annotation-prefix', 'annotationName', 'bucket-region', 'continuation-token', 'delimiter', 'encoding-type',
  'fetch-owner', 'id', 'key-marker', 'list-type', 'marker', 'max-annotation-results', 'max-buckets',
  'max-directory-buckets', 'max-keys', 'max-parts', 'max-uploads', 'part-number-marker', 'partNumber', 'prefix',
  'response-cache-control', 'response-content-disposition', 'response-content-encoding', 'response-content-language',
  'response-content-type', 'response-expires', 'select-type', 'start-after', 'upload-id-marker', 'uploadId',
  'version-id-marker', 'versionId', 'x-id',
]);

/**
 * The fields of a SigV2 presigned URL, and the headers botocore moves into the query of the URLs it
 * presigns with SigV2 (x-amz-* ones are options anyway): accepted on every operation, writes too.
 */
const presignFields = new Set(['AWSAccessKeyId', 'Signature', 'Expires', 'content-type', 'content-md5']);

interface Route {
  /** The operation's handler, picked by the request where one route serves several operations. */
  pick: (c: Routable) => Handler;
  /** Every handler pick() may return, so the operations served can be listed (routedHandlers). */
  serves: readonly Handler[];
  /** Query options a write accepts; a write with any other is refused (reads ignore options). */
  writeOptions?: readonly string[];
}

const copying = (c: Routable): boolean => c.req.headers['x-amz-copy-source'] !== undefined;

/** "level METHOD sub-resource" to the operation: the allow-list of everything we serve. */
const routes = new Map<string, Route>([
  ['bucket GET ', { pick: (c) => (c.query.get('list-type') === '2' ? handleListObjectsV2 : handleListObjects), serves: [handleListObjectsV2, handleListObjects] }],
  ['bucket GET location', { pick: () => handleGetBucketLocation, serves: [handleGetBucketLocation] }],
  ['bucket GET versioning', { pick: () => handleGetBucketVersioning, serves: [handleGetBucketVersioning] }],
  ['bucket GET versions', { pick: () => handleListObjectVersions, serves: [handleListObjectVersions] }],
  ['bucket GET uploads', { pick: () => handleListMultipartUploads, serves: [handleListMultipartUploads] }],
  ['bucket GET tagging', { pick: () => handleGetBucketTagging, serves: [handleGetBucketTagging] }],
  ['bucket GET acl', { pick: () => handleGetBucketAcl, serves: [handleGetBucketAcl] }],
  ['bucket GET ownershipControls', { pick: () => handleGetBucketOwnershipControls, serves: [handleGetBucketOwnershipControls] }],
  ['bucket GET policy', { pick: () => handleGetBucketPolicy, serves: [handleGetBucketPolicy] }],
  ['bucket GET policyStatus', { pick: () => handleGetBucketPolicyStatus, serves: [handleGetBucketPolicyStatus] }],
  ['bucket GET publicAccessBlock', { pick: () => handleGetPublicAccessBlock, serves: [handleGetPublicAccessBlock] }],
  ['bucket HEAD ', { pick: () => handleHeadBucket, serves: [handleHeadBucket] }],
  ['bucket PUT ', { pick: () => handleCreateBucket, serves: [handleCreateBucket] }],
  ['bucket PUT versioning', { pick: () => handlePutBucketVersioning, serves: [handlePutBucketVersioning] }],
  ['bucket PUT tagging', { pick: () => handlePutBucketTagging, serves: [handlePutBucketTagging] }],
  ['bucket PUT acl', { pick: () => handlePutBucketAcl, serves: [handlePutBucketAcl] }],
  ['bucket PUT ownershipControls', { pick: () => handlePutBucketOwnershipControls, serves: [handlePutBucketOwnershipControls] }],
  ['bucket PUT policy', { pick: () => handlePutBucketPolicy, serves: [handlePutBucketPolicy] }],
  ['bucket PUT publicAccessBlock', { pick: () => handlePutPublicAccessBlock, serves: [handlePutPublicAccessBlock] }],
  ['bucket DELETE ', { pick: () => handleDeleteBucket, serves: [handleDeleteBucket] }],
  ['bucket DELETE tagging', { pick: () => handleDeleteBucketTagging, serves: [handleDeleteBucketTagging] }],
  ['bucket DELETE ownershipControls', { pick: () => handleDeleteBucketOwnershipControls, serves: [handleDeleteBucketOwnershipControls] }],
  ['bucket DELETE policy', { pick: () => handleDeleteBucketPolicy, serves: [handleDeleteBucketPolicy] }],
  ['bucket DELETE publicAccessBlock', { pick: () => handleDeletePublicAccessBlock, serves: [handleDeletePublicAccessBlock] }],
  ['bucket POST ', { pick: () => handlePostObject, serves: [handlePostObject] }],
  ['bucket POST delete', { pick: () => handleDeleteObjects, serves: [handleDeleteObjects] }],
  ['object GET ', { pick: (c) => (c.query.has('uploadId') ? handleListParts : handleGetObject), serves: [handleListParts, handleGetObject] }],
  ['object GET acl', { pick: () => handleGetObjectAcl, serves: [handleGetObjectAcl] }],
  ['object GET attributes', { pick: () => handleGetObjectAttributes, serves: [handleGetObjectAttributes] }],
  ['object GET tagging', { pick: () => handleGetObjectTagging, serves: [handleGetObjectTagging] }],
  ['object GET torrent', { pick: () => handleGetObjectTorrent, serves: [handleGetObjectTorrent] }],
  ['object HEAD ', { pick: () => handleHeadObject, serves: [handleHeadObject] }],
  ['bucket GET lifecycle', { pick: () => handleGetBucketLifecycle, serves: [handleGetBucketLifecycle] }],
  ['bucket GET object-lock', { pick: () => handleGetObjectLockConfiguration, serves: [handleGetObjectLockConfiguration] }],
  ['bucket GET cors', { pick: () => handleGetBucketCors, serves: [handleGetBucketCors] }],
  ['bucket PUT lifecycle', { pick: () => handlePutBucketLifecycle, serves: [handlePutBucketLifecycle] }],
  ['bucket DELETE lifecycle', { pick: () => handleDeleteBucketLifecycle, serves: [handleDeleteBucketLifecycle] }],
  ['bucket PUT object-lock', { pick: () => handlePutObjectLockConfiguration, serves: [handlePutObjectLockConfiguration] }],
  ['bucket PUT cors', { pick: () => handlePutBucketCors, serves: [handlePutBucketCors] }],
  ['bucket DELETE cors', { pick: () => handleDeleteBucketCors, serves: [handleDeleteBucketCors] }],
  ['bucket GET encryption', { pick: () => handleGetBucketEncryption, serves: [handleGetBucketEncryption] }],
  ['bucket PUT encryption', { pick: () => handlePutBucketEncryption, serves: [handlePutBucketEncryption] }],
  ['bucket DELETE encryption', { pick: () => handleDeleteBucketEncryption, serves: [handleDeleteBucketEncryption] }],
  ['object GET retention', { pick: () => handleGetObjectRetention, serves: [handleGetObjectRetention] }],
  ['object GET legal-hold', { pick: () => handleGetObjectLegalHold, serves: [handleGetObjectLegalHold] }],
  ['object PUT ', {
    pick: (c) => {
      if (c.query.has('partNumber') || c.query.has('uploadId')) return copying(c) ? handleUploadPartCopy : handleUploadPart;
      return copying(c) ? handleCopyObject : handlePutObject;
    },
    serves: [handleUploadPartCopy, handleUploadPart, handleCopyObject, handlePutObject],
    writeOptions: ['partNumber', 'uploadId'],
  }],
  ['object PUT tagging', { pick: () => handlePutObjectTagging, serves: [handlePutObjectTagging], writeOptions: ['versionId'] }],
  ['object PUT acl', { pick: () => handlePutObjectAcl, serves: [handlePutObjectAcl], writeOptions: ['versionId'] }],
  ['object DELETE ', { pick: (c) => (c.query.has('uploadId') ? handleAbortMultipartUpload : handleDeleteObject), serves: [handleAbortMultipartUpload, handleDeleteObject], writeOptions: ['uploadId', 'versionId'] }],
  ['object DELETE tagging', { pick: () => handleDeleteObjectTagging, serves: [handleDeleteObjectTagging], writeOptions: ['versionId'] }],
  ['object POST uploads', { pick: () => handleCreateMultipartUpload, serves: [handleCreateMultipartUpload] }],
  ['object POST ', { pick: (c) => (c.query.has('uploadId') ? handleCompleteMultipartUpload : notImplemented('POST on an object without uploadId')), serves: [handleCompleteMultipartUpload], writeOptions: ['uploadId'] }],
  ['object PUT retention', { pick: () => handlePutObjectRetention, serves: [handlePutObjectRetention], writeOptions: ['versionId'] }],
  ['object PUT legal-hold', { pick: () => handlePutObjectLegalHold, serves: [handlePutObjectLegalHold], writeOptions: ['versionId'] }],
]);

function notImplemented(what: string): Handler {
  return async () => {
    throw new S3Error('NotImplemented', `${what} is not implemented`);
  };
}

const isOption = (name: string): boolean => options.has(name) || presignFields.has(name) || name.toLowerCase().startsWith('x-amz-');

/**
 * The request's sub-resource ('' for none), or the reason it is refused: two sub-resources, or a query name
 * that is neither a sub-resource nor an option and comes bare (it may be a sub-resource newer than this list)
 * or on a write (where AWS would run some operation we cannot tell).
 */
function subresourceOf(c: Routable, write: boolean): { sub: string } | { refused: string } {
  let sub = '';
  for (const [name, value] of c.query.pairs) {
    if (subresources.has(name)) {
      if (sub !== '' && sub !== name) return { refused: `The combination of sub-resources "${sub}" and "${name}"` };
      sub = name;
    } else if (!isOption(name) && (write || value === '')) {
      return { refused: `The query parameter "${name}"` };
    }
  }
  return { sub };
}

/** Every operation handler the router serves; refusals it makes up (NotImplemented, MethodNotAllowed) aside. */
export function routedHandlers(): Handler[] {
  return [handleListBuckets, ...new Set([...routes.values()].flatMap((r) => r.serves))];
}

export function route(c: Routable): Handler {
  const method = c.req.method ?? '';
  const write = method !== 'GET' && method !== 'HEAD';
  const found = subresourceOf(c, write);
  if ('refused' in found) return notImplemented(found.refused);
  const { sub } = found;
  if (c.bucket === undefined) {
    if (sub !== '') return notImplemented(`The "${sub}" sub-resource`);
    if (method === 'GET') return handleListBuckets;
    return async () => {
      throw new S3Error('MethodNotAllowed');
    };
  }
  const r = routes.get(`${c.key === undefined ? 'bucket' : 'object'} ${method} ${sub}`);
  if (!r) return notImplemented(sub === '' ? `${method} on this resource` : `The "${sub}" sub-resource`);
  if (write) {
    for (const [name] of c.query.pairs) {
      if (name !== sub && !name.toLowerCase().startsWith('x-amz-') && name !== 'x-id' && !presignFields.has(name) && !r.writeOptions?.includes(name)) {
        return notImplemented(`The query parameter "${name}" on this operation`);
      }
    }
  }
  return r.pick(c);
}

/**
 * The S3 operation a handler serves, for the access log: its function's name without "handle"
 * (handleGetObject → GetObject). A refusal route() makes up (an unknown sub-resource, a method the
 * resource has no operation for) is "NotImplemented".
 */
export function operationName(handler: Handler): string {
  return handler.name.startsWith('handle') ? handler.name.slice('handle'.length) : 'NotImplemented';
}
