// PostObject: a browser upload through an HTML form (POST /bucket, multipart/form-data). The fields
// before the file are read (bounded), the form's signature and policy are checked, and the file part is
// streamed into a PutObject, held to the policy's content-length-range as it arrives.
import { Readable } from 'node:stream';
import { putObject } from '../../objects/put-object.js';
import type { VersionRecord } from '../../objects/records.js';
import { checksumAlgorithms, checksumHeaderName } from '../../util/checksum.js';
import { postFormBytesMax } from '../../constants.js';
import { assert } from '../../util/assert.js';
import { header, pacedPayload, sendEmpty, withRequestId, type RequestContext } from '../context.js';
import { S3Error } from '../errors.js';
import { FormDataReader, formBoundaryOf, type FormBudget } from '../form-data.js';
import { validateKey, validateNewKey } from '../names.js';
import { storageClassFrom, storedHeadersFrom } from '../object-headers.js';
import { customerHeaders, customerKeyOf, encryptionRequestOf, encryptionResponseHeaders } from '../sse-headers.js';
import { checkLength, checkPostPolicy, parsePostPolicy, type FormField, type FormFields, type LengthRange } from '../post-policy.js';
import { parseContentMd5 } from '../request-body.js';
import { decodePayload } from '../sigv4/index.js';
import { ownerOf, requireAccess } from '../authorize.js';
import { authenticateForm, missingField } from '../sigv4/post-form.js';
import { identityOf } from '../identity.js';
import { parseTaggingXml } from '../tags.js';
import { escapeXml } from '../xml.js';
import { optionalTags, writeResponseHeaders } from './put-object.js';
import { aclOfWrite } from './object-acl.js';

/** A POST upload may come unsigned at the HTTP level: the form carries its own signature. */
export type FormPostContext = RequestContext;

interface ReadForm {
  fields: Map<string, FormField>;
  /** The file part's filename, when the form has a file part. */
  file?: { filename: string };
}

/** The fields up to the file part (AWS reads the file last; what follows it is ignored). */
async function readUntilFile(reader: FormDataReader, budget: FormBudget): Promise<ReadForm> {
  const fields = new Map<string, FormField>();
  for (let part = await reader.nextPart(budget); part; part = await reader.nextPart(budget)) {
    const lower = part.name.toLowerCase();
    if (lower === 'file') return { fields, file: { filename: part.filename ?? '' } };
    const value = (await reader.readContent(budget)).toString('utf8');
    if (fields.has(lower)) {
      throw new S3Error('InvalidArgument', `The form field "${part.name}" is given more than once`, { extra: { ArgumentName: part.name } });
    }
    fields.set(lower, { name: part.name, value });
  }
  return { fields };
}

/**
 * The file's bytes, held to the policy's length ranges; then the rest of the body, read within the form
 * budget only to find its end and refuse a second file. Any error ends the stream, so nothing is committed.
 */
async function* fileContent(reader: FormDataReader, ranges: readonly LengthRange[], budget: FormBudget): AsyncGenerator<Buffer> {
  let bytes = 0;
  for await (const piece of reader.content()) {
    bytes += piece.length;
    checkLength(ranges, bytes, false);
    yield piece;
  }
  checkLength(ranges, bytes, true);
  for (let part = await reader.nextPart(budget); part; part = await reader.nextPart(budget)) {
    if (part.name.toLowerCase() === 'file') throw new S3Error('IncorrectNumberOfFilesInPostRequest');
    await reader.readContent(budget);
  }
}

/** "${filename}" in the key becomes the file's name (its last path segment: old browsers sent a path). */
function keyOf(fields: FormFields, filename: string): string {
  const raw = fields.get('key');
  if (raw === undefined) throw missingField('key');
  const base = filename.slice(Math.max(filename.lastIndexOf('/'), filename.lastIndexOf('\\')) + 1);
  const key = raw.value.replaceAll('${filename}', base);
  if (key === '') throw new S3Error('InvalidArgument', 'User key must have a length greater than 0.', { extra: { ArgumentName: 'key', ArgumentValue: '' } });
  validateKey(key);
  validateNewKey(key);
  return key;
}

/**
 * The form's fields as the request headers a PutObject would carry them in. Values go in as their UTF-8
 * bytes read as latin1, which is how Node hands over a header botocore sent, so user metadata is taken
 * the same way. x-amz-checksum-algorithm names the checksum as x-amz-sdk-checksum-algorithm does on a PUT.
 * Fields without a header meaning (key, policy, success_action_*) are there too and ignored by the readers.
 */
function headersOf(fields: FormFields): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [lower, field] of fields) headers[lower] = Buffer.from(field.value, 'utf8').toString('latin1');
  delete headers['x-amz-sdk-checksum-algorithm'];
  const algorithm = fields.get('x-amz-checksum-algorithm');
  if (algorithm !== undefined) headers['x-amz-sdk-checksum-algorithm'] = algorithm.value;
  // The acl field is a PUT's x-amz-acl header (x-amz-grant-* fields already carry their header names),
  // so whatever PutObject does with canned ACLs applies here too.
  delete headers['x-amz-acl'];
  const acl = fields.get('acl');
  if (acl !== undefined) headers['x-amz-acl'] = acl.value;
  return headers;
}

/** Only what decodePayload reads: the checksum fields. */
function checksumHeadersOf(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of [...checksumAlgorithms.map(checksumHeaderName), 'x-amz-sdk-checksum-algorithm']) {
    if (headers[name] !== undefined) out[name] = headers[name];
  }
  return out;
}

export async function handlePostObject(c: FormPostContext): Promise<void> {
  const bucket = c.bucket;
  assert(bucket !== undefined, 'PostObject is routed for a bucket only');
  const boundary = formBoundaryOf(header(c, 'content-type'));
  if (boundary === undefined) {
    throw new S3Error('PreconditionFailed', undefined, { extra: { Condition: 'Bucket POST must be of the enclosure-type multipart/form-data' } });
  }
  const reader = new FormDataReader(c.req.iterator({ destroyOnReturn: false }), boundary);
  const budget: FormBudget = { bytesLeft: postFormBytesMax };
  const form = await readUntilFile(reader, budget);
  // An unsigned form (no policy, no signature) acts as anonymous: served where a bucket policy lets anyone write.
  const auth = authenticateForm(form.fields, c.config);
  const policyField = form.fields.get('policy');
  assert(!auth || policyField, 'A signed form has a policy');
  const policy = auth && policyField ? parsePostPolicy(policyField.value) : undefined;
  if (!form.file) {
    throw new S3Error('InvalidArgument', 'POST requires exactly one file upload per request.', { extra: { ArgumentName: 'file', ArgumentValue: '0' } });
  }
  const key = keyOf(form.fields, form.file.filename);
  await requireAccess({ ...c, identity: identityOf(c.config, auth) }, 's3:PutObject', 'object', key, false);
  const fields = new Map(form.fields).set('key', { name: form.fields.get('key')!.name, value: key });
  const ranges = auth && policy ? checkPostPolicy(policy, { fields, bucket, nowMs: c.config.nowMs(), signatureVersion: auth.signatureVersion }) : [];
  const headers = headersOf(fields);
  const fromForm = (name: string) => headers[name];
  const encryption = encryptionRequestOf(c, fromForm);
  const acl = await aclOfWrite(c, bucket, headers);
  const tagging = fields.get('tagging');
  const contentMd5 = parseContentMd5(fields.get('content-md5')?.value);
  // Paced by the IP's and bucket's byte limits; the key's, known only from the form, are not applied.
  const body = pacedPayload(c, decodePayload(Readable.from(fileContent(reader, ranges, budget), { objectMode: false }), null, checksumHeadersOf(headers)));
  const record = await putObject(c.objects, {
    bucket,
    key,
    owner: auth ? auth.accessKeyId : await ownerOf(c),
    ...acl,
    headers: storedHeadersFrom(headers),
    storageClass: storageClassFrom(headers),
    ...optionalTags(tagging === undefined ? undefined : parseTaggingXml(Buffer.from(tagging.value, 'utf8'))),
    ...(contentMd5 ? { contentMd5 } : {}),
    body,
    size: undefined,
    checksum: () => {
      const value = body.checksum?.valueBase64();
      return body.checksum && value !== undefined ? { algorithm: body.checksum.algorithm, value, type: 'FULL_OBJECT' } : undefined;
    },
    ...(encryption ? { encryption } : {}),
    signal: c.signal,
  });
  const customer = encryption?.mode === 'customer' ? customerKeyOf(c, customerHeaders, fromForm) : undefined;
  answer(c, fields, { bucket, key, record, encryptionHeaders: encryptionResponseHeaders(record.encryption, customer, { withContext: true }) });
}

/** The object's URL, as the client addressed the bucket (virtual-hosted when the path did not name it). */
function objectUrl(c: FormPostContext, bucket: string, key: string): string {
  const https = header(c, 'x-forwarded-proto')?.toLowerCase() === 'https';
  const host = header(c, 'host') ?? '';
  const path = (c.req.url ?? '/').split('?', 1)[0]!;
  const keyPath = key.split('/').map(encodeURIComponent).join('/');
  const virtualHosted = path === '/' || path === '';
  return `${https ? 'https' : 'http'}://${host}/${virtualHosted ? '' : `${encodeURIComponent(bucket)}/`}${keyPath}`;
}

/** A redirect target AWS would follow: an absolute http(s) URL; anything else is ignored, as AWS does. */
function redirectOf(fields: FormFields): string | undefined {
  const value = fields.get('success_action_redirect')?.value ?? fields.get('redirect')?.value;
  if (value === undefined || !/^https?:\/\//i.test(value) || !URL.canParse(value)) return undefined;
  return value.split('#', 1)[0]!;
}

/**
 * 303 to success_action_redirect with bucket, key and etag in its query; else success_action_status:
 * 200 or 204 empty, 201 with a PostResponse document; any other value (or none) is 204.
 */
function answer(c: FormPostContext, fields: FormFields, done: { bucket: string; key: string; record: VersionRecord; encryptionHeaders: Record<string, string> }): void {
  const { bucket, key, record } = done;
  const headers = { ...writeResponseHeaders(record), ...done.encryptionHeaders };
  const redirect = redirectOf(fields);
  if (redirect !== undefined) {
    const query = `bucket=${encodeURIComponent(bucket)}&key=${encodeURIComponent(key)}&etag=${encodeURIComponent(record.etag)}`;
    sendEmpty(c, 303, { ...headers, location: `${redirect}${redirect.includes('?') ? '&' : '?'}${query}` });
    return;
  }
  const location = objectUrl(c, bucket, key);
  const status = fields.get('success_action_status')?.value;
  if (status === '201') {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse><Location>${escapeXml(location)}</Location><Bucket>${escapeXml(bucket)}</Bucket>`
      + `<Key>${escapeXml(key)}</Key><ETag>${escapeXml(record.etag)}</ETag></PostResponse>`;
    const bodyBytes = Buffer.from(xml, 'utf8');
    c.res.writeHead(201, withRequestId(c.requestId, { ...headers, location, 'content-type': 'application/xml', 'content-length': String(bodyBytes.length) }));
    c.res.end(bodyBytes);
    return;
  }
  sendEmpty(c, status === '200' ? 200 : 204, { ...headers, location });
}
