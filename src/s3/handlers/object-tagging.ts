// GetObjectTagging, PutObjectTagging and DeleteObjectTagging, on the current version or one by id.
import { getObjectTags, putObjectTags } from '../../objects/tagging.js';
import { readSmallBody, requireBucket, requireKey, sendEmpty, sendXml, type RequestContext } from '../context.js';
import { parseTaggingXml, tagSetXml } from '../tags.js';
import { versionIdOf, type VersionRecord } from '../../objects/records.js';

function versionHeader(record: VersionRecord): Record<string, string> {
  return record.isNull ? {} : { 'x-amz-version-id': versionIdOf(record) };
}

function versionIdOfQuery(c: RequestContext): string | undefined {
  return c.query.get('versionId') ?? undefined;
}

export async function handleGetObjectTagging(c: RequestContext): Promise<void> {
  const record = await getObjectTags(c.objects, requireBucket(c), requireKey(c), versionIdOfQuery(c));
  sendXml(c, 'Tagging', tagSetXml(record.tags), versionHeader(record));
}

export async function handlePutObjectTagging(c: RequestContext): Promise<void> {
  const bucket = requireBucket(c);
  const key = requireKey(c);
  const tags = parseTaggingXml(await readSmallBody(c));
  const record = await putObjectTags(c.objects, bucket, key, versionIdOfQuery(c), tags);
  sendEmpty(c, 200, versionHeader(record));
}

export async function handleDeleteObjectTagging(c: RequestContext): Promise<void> {
  const record = await putObjectTags(c.objects, requireBucket(c), requireKey(c), versionIdOfQuery(c), {});
  sendEmpty(c, 204, versionHeader(record));
}
