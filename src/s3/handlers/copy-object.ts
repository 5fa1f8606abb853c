// CopyObject: COPY or REPLACE metadata, copy-source conditions, and the rule that an object may be copied
// onto itself only when something about it changes.
import { copyObject } from '../../objects/copy-object.js';
import { header, requireBucket, requireKey, sendXml, type RequestContext } from '../context.js';
import { ownerOf } from '../authorize.js';
import { S3Error } from '../errors.js';
import { resolveCopySource } from '../copy-source.js';
import { storageClassFrom, storedHeadersFrom } from '../object-headers.js';
import { copySourceCustomerHeaders, customerKeyOf, encryptionRequestOf, encryptionResponseHeaders } from '../sse-headers.js';
import { optionalTags, writeConditionsOf, writeResponseHeaders } from './put-object.js';
import { parseTaggingHeader } from '../tags.js';
import { optionalLock, requestedLockOf } from '../object-lock.js';
import { el, isoDate } from '../xml.js';
import { aclOfWrite } from './object-acl.js';

export async function handleCopyObject(c: RequestContext): Promise<void> {
  const bucket = requireBucket(c);
  const key = requireKey(c);
  const encryption = encryptionRequestOf(c);
  const sourceCustomer = customerKeyOf(c, copySourceCustomerHeaders);
  const directive = header(c, 'x-amz-metadata-directive') ?? 'COPY';
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw new S3Error('InvalidArgument', 'Unknown metadata directive.', { extra: { ArgumentName: 'x-amz-metadata-directive', ArgumentValue: directive } });
  }
  const acl = await aclOfWrite(c, bucket, c.req.headers);
  const { source, record } = await resolveCopySource(c);
  const storageClass = header(c, 'x-amz-storage-class') !== undefined ? storageClassFrom(c.req.headers) : record.storageClass;
  const sameObject = source.bucket === bucket && source.key === key && source.versionId === undefined;
  // Asking for encryption is a change (AWS's way to encrypt an object in place), whatever it was stored as.
  if (sameObject && directive === 'COPY' && storageClass === record.storageClass && header(c, 'x-amz-website-redirect-location') === undefined && !encryption) {
    throw new S3Error('InvalidRequest', 'This copy request is illegal because it is trying to copy an object to itself without changing the object\'s metadata, storage class, website redirect location or encryption attributes.');
  }
  const tagging = header(c, 'x-amz-tagging-directive') ?? 'COPY';
  if (tagging !== 'COPY' && tagging !== 'REPLACE') {
    throw new S3Error('InvalidArgument', 'Unknown tagging directive.', { extra: { ArgumentName: 'x-amz-tagging-directive', ArgumentValue: tagging } });
  }
  const tags = tagging === 'REPLACE' ? parseTaggingHeader(header(c, 'x-amz-tagging')) : record.tags;
  const copied = await copyObject(c.objects, {
    source: record,
    sourceBucket: source.bucket,
    ...(sourceCustomer ? { sourceCustomerKey: sourceCustomer.key } : {}),
    ...(encryption ? { encryption } : {}),
    bucket,
    key,
    owner: await ownerOf(c),
    headers: directive === 'REPLACE' ? storedHeadersFrom(c.req.headers) : record.headers,
    storageClass,
    ...optionalTags(tags),
    ...acl,
    ...writeConditionsOf(c),
    ...optionalLock(requestedLockOf(c.req.headers, c.objects.nowMs())),
    signal: c.signal,
  });
  const { etag: _, ...headers } = writeResponseHeaders(copied);
  sendXml(c, 'CopyObjectResult', [el('LastModified', isoDate(copied.lastModifiedMs)), el('ETag', copied.etag)], {
    ...headers,
    ...encryptionResponseHeaders(copied.encryption, encryption?.mode === 'customer' ? customerKeyOf(c) : undefined, { withContext: true }),
    ...(record.isNull ? {} : { 'x-amz-copy-source-version-id': record.versionKey }),
  });
}
