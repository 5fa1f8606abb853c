// DeleteObject and DeleteObjects (up to 1,000 keys, quiet mode, version ids).
import { deleteObject } from '../../objects/delete-object.js';
import { getBucket } from '../../objects/buckets.js';
import { readSmallBody, requireBucket, requireKey, sendEmpty, sendXml, type RequestContext } from '../context.js';
import { S3Error, toS3Error } from '../errors.js';
import { el, parseXml, xmlList, xmlText, type XmlNode } from '../xml.js';
import { deleteObjectsInFlightMax, deleteObjectsKeysMax } from '../../constants.js';
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

interface DeleteItem {
  key: string;
  versionId?: string;
}

/** The keys a DeleteObjects body names, all validated before any is deleted. */
function deleteItemsOf(doc: Record<string, unknown>): DeleteItem[] {
  const objects = xmlList(doc, 'Object');
  if (objects.length === 0 || objects.length > deleteObjectsKeysMax) throw new S3Error('MalformedXML');
  return objects.map((item) => {
    const key = xmlText(item, 'Key');
    if (key === undefined) throw new S3Error('MalformedXML');
    const versionId = xmlText(item, 'VersionId');
    return { key, ...(versionId !== undefined ? { versionId } : {}) };
  });
}

/** Deletes one key; answers its <Deleted> or <Error> entry (nothing for a success in quiet mode). */
async function deleteItem(c: RequestContext, bucket: string, item: DeleteItem, quiet: boolean): Promise<XmlNode> {
  const { key, versionId } = item;
  try {
    validateKey(key);
    const r = await deleteObject(c.objects, { bucket, key, owner: c.auth.accessKeyId, ...(versionId !== undefined ? { versionId } : {}) });
    if (quiet) return undefined;
    return el('Deleted', [
      el('Key', key),
      versionId !== undefined ? el('VersionId', versionId) : undefined,
      r.deleteMarker ? el('DeleteMarker', true) : undefined,
      r.deleteMarker && r.versionId !== undefined ? el('DeleteMarkerVersionId', r.versionId) : undefined,
    ]);
  } catch (err) {
    const e = toS3Error(err);
    if (e.httpStatus >= 500) throw err;
    return el('Error', [el('Key', key), versionId !== undefined ? el('VersionId', versionId) : undefined, el('Code', e.code), el('Message', e.message)]);
  }
}

export async function handleDeleteObjects(c: RequestContext): Promise<void> {
  const bucket = requireBucket(c);
  const contentMd5 = contentMd5Of(c);
  const body = await readSmallBody(c);
  if (contentMd5 && !createHash('md5').update(body).digest().equals(contentMd5)) throw new S3Error('BadDigest');
  const doc = parseXml(body, 'Delete');
  const items = deleteItemsOf(doc);
  const quiet = xmlText(doc, 'Quiet') === 'true';
  await getBucket(c.objects, bucket);
  // Several keys at a time, so their metadata commits share the group commit's fsyncs instead of
  // paying one each; the answer keeps the request's order. After a failure no new key is started.
  const results: XmlNode[] = new Array(items.length);
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && !failure) {
      const i = next++;
      try {
        results[i] = await deleteItem(c, bucket, items[i]!, quiet);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(deleteObjectsInFlightMax, items.length) }, worker));
  if (failure) throw failure.err;
  sendXml(c, 'DeleteResult', results);
}
