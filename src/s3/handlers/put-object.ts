// PutObject, with conditional writes (If-None-Match, If-Match) and flexible checksums.
import { putObject, type WriteConditions } from '../../objects/put-object.js';
import { header, requireBucket, requireKey, sendEmpty, type RequestContext } from '../context.js';
import { ownerOf } from '../authorize.js';
import { storageClassFrom, storedHeadersFrom } from '../object-headers.js';
import { requestBody } from '../request-body.js';
import { checksumHeaderName } from '../../util/checksum.js';
import type { VersionRecord } from '../../objects/records.js';
import { parseTaggingHeader } from '../tags.js';
import { aclOfWrite } from './object-acl.js';

export function optionalTags(tags: Record<string, string> | undefined): { tags?: Record<string, string> } {
  return tags ? { tags } : {};
}

/**
 * If-Match and If-None-Match of a write. AWS documents only "*" for If-None-Match; an ETag list is taken with
 * RFC 9110's meaning (refuse if the current object's ETag is listed), as MinIO and Ceph RGW do.
 */
export function writeConditionsOf(c: RequestContext): WriteConditions {
  const ifMatch = header(c, 'if-match');
  const ifNoneMatch = header(c, 'if-none-match');
  return { ...(ifMatch !== undefined ? { ifMatch } : {}), ...(ifNoneMatch !== undefined ? { ifNoneMatch } : {}) };
}

export function writeResponseHeaders(record: VersionRecord): Record<string, string> {
  return {
    etag: record.etag,
    ...(record.isNull ? {} : { 'x-amz-version-id': record.versionKey }),
    ...(record.checksum ? { [checksumHeaderName(record.checksum.algorithm)]: record.checksum.value, 'x-amz-checksum-type': record.checksum.type } : {}),
  };
}

export async function handlePutObject(c: RequestContext): Promise<void> {
  const bucket = requireBucket(c);
  const params = {
    bucket,
    key: requireKey(c),
    owner: await ownerOf(c),
    ...(await aclOfWrite(c, bucket, c.req.headers)),
    headers: storedHeadersFrom(c.req.headers),
    storageClass: storageClassFrom(c.req.headers),
    ...optionalTags(parseTaggingHeader(header(c, 'x-amz-tagging'))),
    ...writeConditionsOf(c),
    signal: c.signal,
  };
  const body = requestBody(c);
  const record = await putObject(c.objects, { ...params, ...body });
  sendEmpty(c, 200, writeResponseHeaders(record));
}
