// The console's S3 and admin client: ordinary signed requests to this origin, S3's XML read with
// DOMParser, uploads through XHR for their progress events, multipart above a threshold.
import { emptyHash, pathOf, presignGet, queryOf, sha256Hex, signHeaders } from './sigv4.js';

const MiB = 1024 * 1024;
/** Files larger than this go up in parts; S3's smallest part (bar the last) is 5 MiB. */
export const multipartThresholdBytes = 5 * MiB;
const partsMax = 10000;
const partsInFlightMax = 3;

export class S3Failure extends Error {
  constructor(status, code, message) {
    super(`${code}: ${message}`);
    this.status = status;
    this.code = code;
  }
}

function xml(text) {
  return new DOMParser().parseFromString(text, 'application/xml').documentElement;
}

/** Direct children of `el` named `name` (S3's XML has a default namespace; localName ignores it). */
function children(el, name) {
  return Array.from(el.children).filter((c) => c.localName === name);
}

function childText(el, name) {
  return children(el, name)[0]?.textContent ?? '';
}

async function failureOf(status, text) {
  if (text.startsWith('{')) {
    try {
      const { error, code } = JSON.parse(text);
      // The IAM routes name IAM's error (MalformedPolicyDocument, DeleteConflict, ...) beside the message.
      return new S3Failure(status, typeof code === 'string' ? code : 'AdminError', error);
    } catch { /* not JSON after all */ }
  }
  const doc = text ? xml(text) : undefined;
  if (doc?.localName === 'Error') return new S3Failure(status, childText(doc, 'Code'), childText(doc, 'Message'));
  return new S3Failure(status, `HTTP${status}`, `The server answered ${status}`);
}

export class S3 {
  /** creds: { accessKeyId, secretAccessKey, region }. */
  constructor(creds) {
    this.creds = creds;
  }

  /** A signed fetch; resolves with the Response when it is 2xx, else throws its S3Failure. */
  async call(method, path, { pairs = [], headers = {}, body } = {}) {
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
    const query = queryOf(pairs);
    const payloadHash = bytes ? await sha256Hex(bytes) : emptyHash;
    const signed = await signHeaders({ creds: this.creds, method, path, query, headers, payloadHash });
    const res = await fetch(query ? `${path}?${query}` : path, { method, headers: signed, body: bytes, cache: 'no-store', credentials: 'omit' });
    if (!res.ok) throw await failureOf(res.status, await res.text());
    return res;
  }

  async listBuckets() {
    const doc = xml(await (await this.call('GET', '/')).text());
    const buckets = children(doc, 'Buckets')[0];
    return buckets ? children(buckets, 'Bucket').map((b) => ({ name: childText(b, 'Name'), created: childText(b, 'CreationDate') })) : [];
  }

  createBucket(bucket) {
    return this.call('PUT', pathOf(bucket));
  }

  deleteBucket(bucket) {
    return this.call('DELETE', pathOf(bucket));
  }

  /** 'Enabled', 'Suspended' or '' (never enabled): GetBucketVersioning. */
  async versioning(bucket) {
    return childText(xml(await (await this.call('GET', pathOf(bucket), { pairs: [['versioning', '']] })).text()), 'Status');
  }

  setVersioning(bucket, status) {
    const body = `<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>${status}</Status></VersioningConfiguration>`;
    return this.call('PUT', pathOf(bucket), { pairs: [['versioning', '']], body, headers: { 'content-type': 'application/xml' } });
  }

  /** One page of ListObjectsV2 with "/" as delimiter: the folders and objects directly under `prefix`. */
  async listObjects(bucket, { prefix = '', delimiter = '/', token, maxKeys = 200 } = {}) {
    const pairs = [['list-type', '2'], ['prefix', prefix], ['max-keys', String(maxKeys)]];
    if (delimiter) pairs.push(['delimiter', delimiter]);
    if (token) pairs.push(['continuation-token', token]);
    const doc = xml(await (await this.call('GET', pathOf(bucket), { pairs })).text());
    return {
      prefixes: children(doc, 'CommonPrefixes').map((p) => childText(p, 'Prefix')),
      objects: children(doc, 'Contents').map((c) => ({ key: childText(c, 'Key'), size: Number(childText(c, 'Size')), modified: childText(c, 'LastModified') })),
      next: childText(doc, 'IsTruncated') === 'true' ? childText(doc, 'NextContinuationToken') : undefined,
    };
  }

  /** Every version and delete marker of exactly `key`, newest first (ListObjectVersions by prefix, filtered). */
  async listVersions(bucket, key) {
    const found = [];
    let marker = [];
    for (let page = 0; page < 50; page++) {
      const doc = xml(await (await this.call('GET', pathOf(bucket), { pairs: [['versions', ''], ['prefix', key], ...marker] })).text());
      for (const el of doc.children) {
        if ((el.localName !== 'Version' && el.localName !== 'DeleteMarker') || childText(el, 'Key') !== key) continue;
        found.push({ versionId: childText(el, 'VersionId'), latest: childText(el, 'IsLatest') === 'true', modified: childText(el, 'LastModified'), size: Number(childText(el, 'Size') || 0), deleteMarker: el.localName === 'DeleteMarker' });
      }
      if (childText(doc, 'IsTruncated') !== 'true') break;
      marker = [['key-marker', childText(doc, 'NextKeyMarker')], ['version-id-marker', childText(doc, 'NextVersionIdMarker')]];
    }
    return found;
  }

  deleteObject(bucket, key, versionId) {
    return this.call('DELETE', pathOf(bucket, key), { pairs: versionId ? [['versionId', versionId]] : [] });
  }

  /** A GET URL anyone can use until it expires; `download` makes the browser save it as a file. */
  presign(bucket, key, { expiresSec, versionId, download }) {
    const pairs = [];
    if (versionId) pairs.push(['versionId', versionId]);
    if (download) pairs.push(['response-content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(key.split('/').pop() || 'download')}`]);
    return presignGet({ creds: this.creds, path: pathOf(bucket, key), pairs, expiresSec });
  }

  /** Uploads `file` (a Blob with a name) as `key`; onProgress(sentBytes, totalBytes). */
  upload(bucket, key, file, onProgress) {
    return file.size > multipartThresholdBytes ? this.uploadParts(bucket, key, file, onProgress) : this.uploadOne(bucket, key, file, onProgress);
  }

  async uploadOne(bucket, key, file, onProgress) {
    const headers = { 'content-type': file.type || 'application/octet-stream' };
    await this.send('PUT', pathOf(bucket, key), [], headers, await file.arrayBuffer(), (sent) => onProgress(sent, file.size));
    onProgress(file.size, file.size);
  }

  async uploadParts(bucket, key, file, onProgress) {
    const path = pathOf(bucket, key);
    const partBytes = Math.max(multipartThresholdBytes, Math.ceil(file.size / partsMax / MiB) * MiB);
    const count = Math.ceil(file.size / partBytes);
    const created = xml(await (await this.call('POST', path, { pairs: [['uploads', '']], headers: { 'content-type': file.type || 'application/octet-stream' } })).text());
    const uploadId = childText(created, 'UploadId');
    const sent = new Array(count).fill(0);
    const etags = new Array(count);
    const report = () => onProgress(sent.reduce((a, b) => a + b, 0), file.size);
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const index = next++;
        const body = await file.slice(index * partBytes, Math.min(file.size, (index + 1) * partBytes)).arrayBuffer();
        const xhr = await this.send('PUT', path, [['partNumber', String(index + 1)], ['uploadId', uploadId]], {}, body, (bytes) => {
          sent[index] = bytes;
          report();
        });
        etags[index] = xhr.getResponseHeader('etag');
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(partsInFlightMax, count) }, worker));
      const parts = etags.map((etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${etag}</ETag></Part>`).join('');
      await this.call('POST', path, { pairs: [['uploadId', uploadId]], body: `<CompleteMultipartUpload>${parts}</CompleteMultipartUpload>`, headers: { 'content-type': 'application/xml' } });
    } catch (err) {
      // Leaves no parts behind to be charged for; the abort's own failure would hide the real one.
      await this.call('DELETE', path, { pairs: [['uploadId', uploadId]] }).catch(() => undefined);
      throw err;
    }
  }

  /** A signed XHR with a body (fetch has no upload progress); resolves with the XHR once 2xx. */
  async send(method, path, pairs, headers, body, onProgress) {
    const query = queryOf(pairs);
    const signed = await signHeaders({ creds: this.creds, method, path, query, headers, payloadHash: await sha256Hex(body) });
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(method, query ? `${path}?${query}` : path);
      for (const [name, value] of Object.entries(signed)) xhr.setRequestHeader(name, value);
      xhr.upload.onprogress = (e) => onProgress(e.loaded);
      xhr.onload = async () => (xhr.status < 300 ? resolve(xhr) : reject(await failureOf(xhr.status, xhr.responseText)));
      xhr.onerror = () => reject(new S3Failure(0, 'NetworkError', 'The upload was cut off'));
      xhr.send(body);
    });
  }

  /** A signed admin API call (root key only) with an optional JSON body: its JSON answer. */
  async admin(method, route, { pairs = [], body } = {}) {
    const sent = body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } };
    return (await this.call(method, `/_tessera/admin/${route}`, { pairs, ...sent })).json();
  }
}
