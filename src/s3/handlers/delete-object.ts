// DeleteObject and DeleteObjects (up to 1,000 keys, quiet mode, version ids), with conditional deletes:
// If-Match, x-amz-if-match-last-modified-time and x-amz-if-match-size, or their per-key XML elements.
import { deleteObject, type DeleteConditions } from '../../objects/delete-object.js';
import { getBucket } from '../../objects/buckets.js';
import { header, readSmallBody, requireBucket, requireKey, sendEmpty, sendXml, type RequestContext } from '../context.js';
import { allows, ownerOf } from '../authorize.js';
import { S3Error, toS3Error } from '../errors.js';
import { el, parseXml, xmlList, xmlText, type XmlNode } from '../xml.js';
import { deleteObjectsInFlightMax, deleteObjectsKeysMax } from '../../constants.js';
import { validateKey } from '../names.js';
import { contentMd5Of } from '../request-body.js';
import { createHash } from 'node:crypto';
import { bypassGovernanceOf } from '../object-lock.js';

function invalidCondition(name: string, value: string): S3Error {
  return new S3Error('InvalidArgument', `Invalid ${name} "${value.slice(0, 64)}"`, { extra: { ArgumentName: name, ArgumentValue: value.slice(0, 256) } });
}

/**
 * Parses a delete's conditions; `names` are where each came from, for the error. A malformed condition is
 * refused rather than ignored, since ignoring it would turn a guarded delete into an unconditional one.
 */
function deleteConditionsOf(
  values: { ifMatch: string | undefined; lastModified: string | undefined; size: string | undefined },
  names: { lastModified: string; size: string },
): DeleteConditions {
  const out: DeleteConditions = {};
  if (values.ifMatch !== undefined) out.ifMatch = values.ifMatch;
  if (values.lastModified !== undefined) {
    const ms = Date.parse(values.lastModified);
    if (Number.isNaN(ms)) throw invalidCondition(names.lastModified, values.lastModified);
    out.ifMatchLastModifiedMs = ms;
  }
  if (values.size !== undefined) {
    if (!/^\d{1,16}$/.test(values.size.trim())) throw invalidCondition(names.size, values.size);
    out.ifMatchSize = Number(values.size.trim());
  }
  return out;
}

export async function handleDeleteObject(c: RequestContext): Promise<void> {
  const versionId = c.query.get('versionId') ?? undefined;
  const conditions = deleteConditionsOf(
    { ifMatch: header(c, 'if-match'), lastModified: header(c, 'x-amz-if-match-last-modified-time'), size: header(c, 'x-amz-if-match-size') },
    { lastModified: 'x-amz-if-match-last-modified-time', size: 'x-amz-if-match-size' },
  );
  const result = await deleteObject(c.objects, {
    bucket: requireBucket(c), key: requireKey(c), owner: await ownerOf(c), ...conditions, ...(versionId !== undefined ? { versionId } : {}),
    bypassGovernance: await bypassGovernanceOf(c),
  });
  sendEmpty(c, 204, {
    ...(result.deleteMarker ? { 'x-amz-delete-marker': 'true' } : {}),
    ...(result.versionId !== undefined ? { 'x-amz-version-id': result.versionId } : {}),
  });
}

interface DeleteItem {
  key: string;
  versionId?: string;
  conditions: DeleteConditions;
}

/** The keys a DeleteObjects body names, all validated before any is deleted. */
function deleteItemsOf(doc: Record<string, unknown>): DeleteItem[] {
  const objects = xmlList(doc, 'Object');
  if (objects.length === 0 || objects.length > deleteObjectsKeysMax) throw new S3Error('MalformedXML');
  return objects.map((item) => {
    const key = xmlText(item, 'Key');
    if (key === undefined) throw new S3Error('MalformedXML');
    const versionId = xmlText(item, 'VersionId');
    // A LastModifiedTime or Size that is not one breaks the schema: MalformedXML, as for any such element.
    let conditions: DeleteConditions;
    try {
      conditions = deleteConditionsOf(
        { ifMatch: xmlText(item, 'ETag'), lastModified: xmlText(item, 'LastModifiedTime'), size: xmlText(item, 'Size') },
        { lastModified: 'LastModifiedTime', size: 'Size' },
      );
    } catch (err) {
      throw new S3Error('MalformedXML', undefined, { cause: err });
    }
    return { key, conditions, ...(versionId !== undefined ? { versionId } : {}) };
  });
}

/** Deletes one key; answers its <Deleted> or <Error> entry (nothing for a success in quiet mode). */
async function deleteItem(c: RequestContext, bucket: string, item: DeleteItem, quiet: boolean): Promise<XmlNode> {
  const { key, versionId } = item;
  try {
    validateKey(key);
    // DeleteObjects needs s3:DeleteObject (or s3:DeleteObjectVersion) on each key; a refused key gets its own <Error>.
    if (!(await allows(c, versionId !== undefined ? 's3:DeleteObjectVersion' : 's3:DeleteObject', 'object', key))) throw new S3Error('AccessDenied');
    const r = await deleteObject(c.objects, {
      bucket, key, owner: await ownerOf(c), ...item.conditions, ...(versionId !== undefined ? { versionId } : {}), bypassGovernance: await bypassGovernanceOf(c, key),
    });
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
