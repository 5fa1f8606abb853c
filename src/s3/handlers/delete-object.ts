// DeleteObject and DeleteObjects (up to 1,000 keys, quiet mode, version ids).
import { deleteObject } from '../../objects/delete-object.js';
import { getBucket } from '../../objects/buckets.js';
import { readSmallBody, requireBucket, requireKey, sendEmpty, sendXml, type RequestContext } from '../context.js';
import { S3Error, toS3Error } from '../errors.js';
import { el, parseXml, xmlList, xmlText, type XmlNode } from '../xml.js';
import { deleteObjectsKeysMax } from '../../constants.js';
import { validateKey } from '../names.js';
import { contentMd5Of } from '../request-body.js';
import { createHash } from 'node:crypto';

export async function handleDeleteObject(c: RequestContext): Promise<void> {
  const versionId = c.query.get('versionId') ?? undefined;
  const result = await deleteObject(c.objects, { bucket: requireBucket(c), key: requireKey(c), owner: c.auth.accessKeyId, ...(versionId !== undefined ? { versionId } : {}) });
  sendEmpty(c, 204, {
    ...(result.deleteMarker ? { 'x-amz-delete-marker': 'true' } : {}),
    ...(result.versionId !== undefined ? { 'x-amz-version-id': result.versionId } : {}),
  });
}

export async function handleDeleteObjects(c: RequestContext): Promise<void> {
  const bucket = requireBucket(c);
  const contentMd5 = contentMd5Of(c);
  const body = await readSmallBody(c);
  if (contentMd5 && !createHash('md5').update(body).digest().equals(contentMd5)) throw new S3Error('BadDigest');
  const doc = parseXml(body, 'Delete');
  const objects = xmlList(doc, 'Object');
  if (objects.length === 0 || objects.length > deleteObjectsKeysMax) throw new S3Error('MalformedXML');
  const quiet = xmlText(doc, 'Quiet') === 'true';
  await getBucket(c.objects, bucket);
  const results: XmlNode[] = [];
  for (const item of objects) {
    const key = xmlText(item, 'Key');
    const versionId = xmlText(item, 'VersionId');
    if (key === undefined) throw new S3Error('MalformedXML');
    try {
      validateKey(key);
      const r = await deleteObject(c.objects, { bucket, key, owner: c.auth.accessKeyId, ...(versionId !== undefined ? { versionId } : {}) });
      if (quiet) continue;
      results.push(el('Deleted', [
        el('Key', key),
        versionId !== undefined ? el('VersionId', versionId) : undefined,
        r.deleteMarker ? el('DeleteMarker', true) : undefined,
        r.deleteMarker && r.versionId !== undefined ? el('DeleteMarkerVersionId', r.versionId) : undefined,
      ]));
    } catch (err) {
      const e = toS3Error(err);
      if (e.httpStatus >= 500) throw err;
      results.push(el('Error', [el('Key', key), versionId !== undefined ? el('VersionId', versionId) : undefined, el('Code', e.code), el('Message', e.message)]));
    }
  }
  sendXml(c, 'DeleteResult', results);
}
