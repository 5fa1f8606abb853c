// The x-amz-copy-source header ("/bucket/key?versionId=...", URL-encoded) and its x-amz-copy-source-if-*
// conditions, resolved to the source version.
import type { RequestContext } from './context.js';
import { header } from './context.js';
import { S3Error } from './errors.js';
import { resolveVersion } from '../objects/get-object.js';
import { ObjectError } from '../objects/errors.js';
import type { VersionRecord } from '../objects/records.js';
import { evaluateConditions } from './conditions.js';
import { validateKey } from './names.js';

export interface CopySource {
  bucket: string;
  key: string;
  versionId?: string;
}

export function parseCopySource(value: string): CopySource {
  let text = value.trim();
  let versionId: string | undefined;
  const q = text.indexOf('?');
  if (q >= 0) {
    const params = new URLSearchParams(text.slice(q + 1));
    versionId = params.get('versionId') ?? undefined;
    text = text.slice(0, q);
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(text);
  } catch {
    throw new S3Error('InvalidArgument', 'Invalid copy source encoding', { extra: { ArgumentName: 'x-amz-copy-source', ArgumentValue: value } });
  }
  if (decoded.startsWith('/')) decoded = decoded.slice(1);
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1) {
    throw new S3Error('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey', { extra: { ArgumentName: 'x-amz-copy-source', ArgumentValue: value } });
  }
  const key = decoded.slice(slash + 1);
  validateKey(key);
  return { bucket: decoded.slice(0, slash), key, ...(versionId !== undefined ? { versionId } : {}) };
}

/** Resolves the copy source and enforces its conditions (failures are 412, never 304). */
export async function resolveCopySource(c: RequestContext): Promise<{ source: CopySource; record: VersionRecord }> {
  const source = parseCopySource(header(c, 'x-amz-copy-source') ?? '');
  const record = await resolveVersion(c.objects, source.bucket, source.key, source.versionId).catch((err: unknown) => {
    // A delete marker named by version id answers a GET with 405, but a copy with 400 (CopyObject docs).
    if (err instanceof ObjectError && err.code === 'MethodNotAllowed') {
      throw new S3Error('InvalidRequest', 'The source of a copy request may not specifically refer to a delete marker by version id.');
    }
    // The source's x-amz-version-id and x-amz-delete-marker would read as facts about the destination.
    if (err instanceof ObjectError && err.code === 'NoSuchKey') throw new S3Error('NoSuchKey', undefined, { extra: err.extra });
    throw err;
  });
  const conditions = {
    ...opt('ifMatch', header(c, 'x-amz-copy-source-if-match')),
    ...opt('ifNoneMatch', header(c, 'x-amz-copy-source-if-none-match')),
    ...opt('ifModifiedSince', header(c, 'x-amz-copy-source-if-modified-since')),
    ...opt('ifUnmodifiedSince', header(c, 'x-amz-copy-source-if-unmodified-since')),
  };
  if (evaluateConditions(record, conditions) !== 'ok') throw new S3Error('PreconditionFailed');
  return { source, record };
}

function opt<K extends string>(name: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [name]: value }) as { [P in K]?: string };
}
