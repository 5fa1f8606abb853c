// Maps a request (method, bucket, key, sub-resource query parameters, copy-source header) to the
// handler of one S3 operation. Operations we do not implement answer NotImplemented.
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
import { handleGetObject, handleHeadObject } from './handlers/get-object.js';
import { handleGetObjectAttributes } from './handlers/get-object-attributes.js';
import { handleDeleteObject, handleDeleteObjects } from './handlers/delete-object.js';
import { handleCopyObject } from './handlers/copy-object.js';
import {
  handleAbortMultipartUpload, handleCompleteMultipartUpload, handleCreateMultipartUpload, handleListMultipartUploads,
  handleListParts, handleUploadPart, handleUploadPartCopy,
} from './handlers/multipart.js';
import { handleDeleteObjectTagging, handleGetObjectTagging, handlePutObjectTagging } from './handlers/object-tagging.js';
import { handleDeleteBucketTagging, handleGetBucketTagging, handlePutBucketTagging } from './handlers/bucket-tagging.js';

export type Handler = (c: RequestContext) => Promise<void>;

/** Sub-resources of the S3 API that select operations we do not implement. */
const unsupportedSubresources = [
  'accelerate', 'acl', 'analytics', 'cors', 'encryption', 'intelligent-tiering', 'inventory', 'legal-hold',
  'lifecycle', 'logging', 'metadataTable', 'metrics', 'notification', 'object-lock', 'ownershipControls', 'policy',
  'policyStatus', 'publicAccessBlock', 'replication', 'requestPayment', 'restore', 'retention', 'select',
  'torrent', 'website', 'session', 'renameObject',
];

function notImplemented(what: string): Handler {
  return async () => {
    throw new S3Error('NotImplemented', `${what} is not implemented`);
  };
}

function bucketRoute(c: RequestContext): Handler | undefined {
  const q = c.query;
  switch (c.req.method) {
    case 'GET':
      if (q.has('location')) return handleGetBucketLocation;
      if (q.has('versioning')) return handleGetBucketVersioning;
      if (q.has('versions')) return handleListObjectVersions;
      if (q.has('uploads')) return handleListMultipartUploads;
      if (q.get('list-type') === '2') return handleListObjectsV2;
      return handleListObjects;
    case 'PUT':
      if (q.has('versioning')) return handlePutBucketVersioning;
      return handleCreateBucket;
    case 'HEAD':
      return handleHeadBucket;
    case 'DELETE':
      return handleDeleteBucket;
    case 'POST':
      if (q.has('delete')) return handleDeleteObjects;
      return undefined;
    default:
      return undefined;
  }
}

function objectRoute(c: RequestContext): Handler | undefined {
  const q = c.query;
  const copy = c.req.headers['x-amz-copy-source'] !== undefined;
  if (q.has('tagging')) {
    if (c.req.method === 'GET') return handleGetObjectTagging;
    if (c.req.method === 'PUT') return handlePutObjectTagging;
    if (c.req.method === 'DELETE') return handleDeleteObjectTagging;
    return undefined;
  }
  switch (c.req.method) {
    case 'GET':
      if (q.has('attributes')) return handleGetObjectAttributes;
      return q.has('uploadId') ? handleListParts : handleGetObject;
    case 'HEAD':
      return handleHeadObject;
    case 'PUT':
      if (q.has('partNumber') || q.has('uploadId')) return copy ? handleUploadPartCopy : handleUploadPart;
      return copy ? handleCopyObject : handlePutObject;
    case 'DELETE':
      return q.has('uploadId') ? handleAbortMultipartUpload : handleDeleteObject;
    case 'POST':
      if (q.has('uploads')) return handleCreateMultipartUpload;
      if (q.has('uploadId')) return handleCompleteMultipartUpload;
      return undefined;
    default:
      return undefined;
  }
}

function bucketTaggingRoute(method: string | undefined): Handler {
  if (method === 'GET') return handleGetBucketTagging;
  if (method === 'PUT') return handlePutBucketTagging;
  if (method === 'DELETE') return handleDeleteBucketTagging;
  return notImplemented(`${method} on this resource`);
}

const unsupportedSubresourceNames = new Set(unsupportedSubresources);

/** The first unsupported sub-resource (in list order, which names it in the error) the query holds. */
function unsupportedSubresourceOf(query: Query): string | undefined {
  // One pass over the query's few names instead of a has() per sub-resource: 0.2 µs instead of 1 µs per request.
  let any = false;
  for (const [name] of query.pairs) any ||= unsupportedSubresourceNames.has(name);
  return any ? unsupportedSubresources.find((name) => query.has(name)) : undefined;
}

export function route(c: RequestContext): Handler {
  const unsupported = unsupportedSubresourceOf(c.query);
  if (unsupported) return notImplemented(`The "${unsupported}" sub-resource`);
  if (c.bucket === undefined) {
    if (c.req.method === 'GET') return handleListBuckets;
    return async () => {
      throw new S3Error('MethodNotAllowed');
    };
  }
  if (c.key === undefined && c.query.has('tagging')) return bucketTaggingRoute(c.req.method);
  const handler = c.key === undefined ? bucketRoute(c) : objectRoute(c);
  if (!handler) return notImplemented(`${c.req.method} on this resource`);
  return handler;
}
