// Bad and hostile input: malformed and oversize XML, long keys, oversize headers, truncated bodies, bad
// aws-chunked framing, unknown operations. Each gets AWS's error with a full XML body and a request id,
// never a 500, a hang or a crash, and the server keeps serving afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateBucketCommand, CreateMultipartUploadCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand,
} from '@aws-sdk/client-s3';
import { guardWithCanary, startTesseraForFile } from '../helpers/tessera.js';
import {
  assertS3Error, md5Base64, objectPath, parseErrorBody, raw, sdkError, send, signedHeaders, socketExchange, streamingSignedPut,
} from './raw-http.js';

const { server, s3 } = await startTesseraForFile();
const Bucket = 'hostile';
// After every test the server is alive and serving, and has logged no internal error.
guardWithCanary({ server, s3, bucket: Bucket, forbiddenLog: /InternalError|Unhandled request failure/ });

async function assertAbsent(key: string): Promise<void> {
  await assert.rejects(s3.send(new HeadObjectCommand({ Bucket, Key: key })), sdkError('NotFound', 404));
}

// ---- Malformed and oversize XML -----------------------------------------------------------------

const malformedXml = [
  '<Delete><Object><Key>a</Key></Object>',
  '<<<>>>',
  '<?xml version="1.0"?><Delete><Object><Key>a</Key></Object></Delete><Delete/>',
  '\u0000\u0001binary garbage\uffff',
  '<Delete><Object><Key>a</Key></Object></Delet>',
];

test('Malformed XML - DeleteObjects bodies get MalformedXML', async () => {
  for (const body of malformedXml) {
    const res = await raw(server, { method: 'POST', path: `/${Bucket}`, query: { delete: null }, body, headers: { 'content-md5': md5Base64(body) } });
    assertS3Error(res, 400, 'MalformedXML');
  }
});

test('Malformed XML - CompleteMultipartUpload bodies get MalformedXML', async () => {
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'mp-xml' }));
  for (const body of [...malformedXml, '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"a"</ETag></Part>']) {
    const res = await raw(server, { method: 'POST', path: objectPath(Bucket, 'mp-xml'), query: { uploadId: UploadId! }, body });
    assertS3Error(res, 400, 'MalformedXML');
  }
});

test('Malformed XML - PutBucketVersioning bodies get MalformedXML', async () => {
  await s3.send(new CreateBucketCommand({ Bucket: 'hostile-versioning' }));
  for (const body of [...malformedXml, '', '<VersioningConfiguration><Status>Enabled</Status>']) {
    const res = await raw(server, { method: 'PUT', path: '/hostile-versioning', query: { versioning: null }, body, headers: { 'content-md5': md5Base64(body) } });
    assertS3Error(res, 400, 'MalformedXML');
  }
});

test('Malformed XML - entity expansion (billion laughs) is refused, not expanded', async () => {
  const lol = [
    '<?xml version="1.0"?>',
    '<!DOCTYPE lolz [<!ENTITY lol "lollollollollollollollollollol">',
    ...Array.from({ length: 8 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`),
    ']>',
    '<Delete><Object><Key>&lol8;</Key></Object></Delete>',
  ].join('\n');
  const res = await raw(server, { method: 'POST', path: `/${Bucket}`, query: { delete: null }, body: lol, headers: { 'content-md5': md5Base64(lol) } });
  assert.equal(res.status, 400, res.text.slice(0, 300));
  assert.ok(res.text.length < 10_000, 'the entity was expanded into the answer');
  assertS3Error(res, 400, 'MalformedXML');
});

test('Oversize XML - a body over the XML limit gets MaxMessageLengthExceeded, declared or streamed', async () => {
  const big = `<Delete>${'<Object><Key>k</Key></Object>'.repeat(80_000)}</Delete>`; // ~2.3 MB
  const declared = await raw(server, { method: 'POST', path: `/${Bucket}`, query: { delete: null }, body: big, headers: { 'content-md5': md5Base64(big) } });
  assertS3Error(declared, 400, 'MaxMessageLengthExceeded');
  // Chunked transfer encoding: no length up front, the cap applies as bytes arrive.
  const headers = await signedHeaders(server, { method: 'POST', path: `/${Bucket}`, query: { delete: null }, payloadHash: 'UNSIGNED-PAYLOAD' });
  const res = await send(server, { method: 'POST', path: `/${Bucket}?delete`, headers: { ...headers, 'transfer-encoding': 'chunked' }, body: Buffer.from(big) });
  assertS3Error(res, 400, 'MaxMessageLengthExceeded');
});

// ---- Keys, names and URIs -----------------------------------------------------------------------

test('Long keys - keys over 1,024 bytes get KeyTooLongError on every operation', async () => {
  const long = 'k'.repeat(1025);
  const multibyte = '\u00e9'.repeat(513); // 1,026 bytes in 513 characters
  for (const key of [long, multibyte]) {
    for (const method of ['PUT', 'GET', 'DELETE']) {
      const res = await raw(server, { method, path: objectPath(Bucket, key), ...(method === 'PUT' ? { body: 'x' } : {}) });
      assertS3Error(res, 400, 'KeyTooLongError');
    }
    const mp = await raw(server, { method: 'POST', path: objectPath(Bucket, key), query: { uploads: null } });
    assertS3Error(mp, 400, 'KeyTooLongError');
    const copy = await raw(server, { method: 'PUT', path: objectPath(Bucket, 'copy-dest'), headers: { 'x-amz-copy-source': `/${Bucket}/${encodeURIComponent(key)}` } });
    assertS3Error(copy, 400, 'KeyTooLongError');
  }
  await assert.rejects(s3.send(new PutObjectCommand({ Bucket, Key: long, Body: 'x' })), sdkError('KeyTooLongError', 400));
  const list = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'k' }));
  assert.equal(list.KeyCount, 0);
});

test('URIs - invalid percent-encoding gets InvalidURI', async () => {
  // %AE%8A- is the key of ceph test_object_read_unreadable as its boto2 form sent it: bytes, not UTF-8.
  for (const path of [`/${Bucket}/bad%ZZ`, `/${Bucket}/half%E2%82`, `/${Bucket}/%FF%FE`, `/${Bucket}/%AE%8A-`]) {
    const headers = await signedHeaders(server, { path: `/${Bucket}/x` }); // any signature: the URI is refused first
    const res = await send(server, { method: 'GET', path, headers });
    assertS3Error(res, 400, 'InvalidURI');
  }
});

test('Keys - a key with control characters other than NUL round trips; NUL is refused (issue 10)', async () => {
  for (const key of ['bell\u0007', 'del\u007f']) {
    const put = await raw(server, { method: 'PUT', path: objectPath(Bucket, key), body: 'ctl' });
    assert.equal(put.status, 200, put.text);
    const got = await raw(server, { path: objectPath(Bucket, key) });
    assert.equal(got.text, 'ctl');
  }
  const list = await raw(server, { path: `/${Bucket}`, query: { 'list-type': '2', prefix: 'bell', 'encoding-type': 'url' } });
  assert.match(list.text, /<Key>bell%07<\/Key>/);
  assertS3Error(await raw(server, { method: 'PUT', path: objectPath(Bucket, 'nul\u0000inside'), body: 'ctl' }), 400, 'InvalidArgument');
});

// ---- Oversize headers, truncated and malformed bodies --------------------------------------------

test('Oversize headers - a 20 KB header gets a 400 S3 error, not a hang', async () => {
  const request = `GET /${Bucket}/canary HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`;
  const answer = await socketExchange(server, request, { idleMs: 5000 });
  assert.match(answer, /^HTTP\/1\.1 (400|431) /);
  assert.match(answer, /x-amz-request-id: \S+/i);
  const body = parseErrorBody(answer.slice(answer.indexOf('\r\n\r\n') + 4));
  assert.equal(body.Code, 'RequestHeaderSectionTooLarge');
  assert.ok(body.Message, answer);
  assert.equal(body.Resource, `/${Bucket}/canary`);
  assert.equal(body.RequestId, /x-amz-request-id: (\S+)/i.exec(answer)?.[1]);
  // Many small headers adding up are refused the same way.
  const many = Array.from({ length: 400 }, (_, i) => `X-H${i}: ${'v'.repeat(50)}`).join('\r\n');
  const answer2 = await socketExchange(server, `GET / HTTP/1.1\r\nHost: x\r\n${many}\r\n\r\n`, { idleMs: 5000 });
  assert.match(answer2, /^HTTP\/1\.1 (400|431) /);
});

test('Garbled requests - a request that is not HTTP gets a 400 S3 error', async () => {
  const answer = await socketExchange(server, 'HELLO THERE\r\n\r\n', { idleMs: 5000 });
  assert.match(answer, /^HTTP\/1\.1 400 /);
  assert.match(answer, /x-amz-request-id: \S+/i);
  assert.match(answer, /<Code>[A-Za-z]+<\/Code>/);
  const badLength = await socketExchange(server, `PUT /${Bucket}/x HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n`, { idleMs: 5000 });
  assert.match(badLength, /^HTTP\/1\.1 400 /);
});

test('Oversize bodies - a PUT declaring more than 5 GiB gets EntityTooLarge before any body is sent', async () => {
  const path = objectPath(Bucket, 'too-large');
  const headers = await signedHeaders(server, { method: 'PUT', path, payloadHash: 'UNSIGNED-PAYLOAD' });
  const head = `PUT ${path} HTTP/1.1\r\n${Object.entries({ ...headers, 'content-length': String(5 * 1024 ** 3 + 1) }).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
  const answer = await socketExchange(server, head, { idleMs: 2000 });
  assert.match(answer, /^HTTP\/1\.1 400 /);
  const body = parseErrorBody(answer.slice(answer.indexOf('\r\n\r\n') + 4));
  assert.equal(body.Code, 'EntityTooLarge');
  assert.equal(body.Resource, `/${Bucket}/too-large`);
  await assertAbsent('too-large');
});

test('Truncated bodies - a PUT whose client closes before Content-Length bytes leaves no object', async () => {
  for (const [key, declared, sent] of [['trunc-small', 1000, 10], ['trunc-large', 4 * 1024 * 1024, 300_000]] as const) {
    const headers = await signedHeaders(server, { method: 'PUT', path: objectPath(Bucket, key), payloadHash: 'UNSIGNED-PAYLOAD' });
    const head = `PUT ${objectPath(Bucket, key)} HTTP/1.1\r\n${Object.entries({ ...headers, 'content-length': String(declared) }).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
    await socketExchange(server, Buffer.concat([Buffer.from(head), Buffer.alloc(sent, 'z')]), { idleMs: 300, closeAfterWrite: true });
    await new Promise((r) => setTimeout(r, 300));
    await assertAbsent(key);
  }
  const list = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'trunc' }));
  assert.equal(list.KeyCount, 0);
});

test('Truncated bodies - an aws-chunked body that ends early leaves no object', async () => {
  const chunks = [Buffer.alloc(70_000, 'q'), Buffer.from('end')];
  const path = objectPath(Bucket, 'trunc-chunked');
  const { headers, body } = await streamingSignedPut(server, path, chunks);
  const head = `PUT ${path} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
  await socketExchange(server, Buffer.concat([Buffer.from(head), body.subarray(0, 40_000)]), { idleMs: 300, closeAfterWrite: true });
  await new Promise((r) => setTimeout(r, 300));
  await assertAbsent('trunc-chunked');
});

test('aws-chunked framing - malformed framing gets a 400-class S3 error and stores nothing', async () => {
  const data = Buffer.from('framed data');
  const frame = (text: string) => Buffer.from(text);
  const bodies: [string, Buffer, number][] = [
    ['size not hex', frame(`zz\r\n${data}\r\n0\r\n\r\n`), data.length],
    ['chunk longer than its size', frame(`4\r\n${data}\r\n0\r\n\r\n`), data.length],
    ['no CRLF after data', frame(`${data.length.toString(16)}\r\n${data}XX0\r\n\r\n`), data.length],
    ['decoded length too small', frame(`${data.length.toString(16)}\r\n${data}\r\n0\r\n\r\n`), 3],
    ['decoded length too large', frame(`${data.length.toString(16)}\r\n${data}\r\n0\r\n\r\n`), 100],
    ['no final chunk', frame(`${data.length.toString(16)}\r\n${data}\r\n`), data.length],
    ['huge chunk size', frame(`ffffffffffffffff\r\n${data}\r\n0\r\n\r\n`), data.length],
    ['endless size line', frame(`${'1'.repeat(10_000)}\r\n`), data.length],
  ];
  for (const [what, body, decoded] of bodies) {
    const key = `framing-${what.replace(/ /g, '-')}`;
    const res = await raw(server, {
      method: 'PUT', path: objectPath(Bucket, key), body, payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(decoded) },
    });
    assert.ok(res.status >= 400 && res.status < 500, `${what}: ${res.status} ${res.text}`);
    const error = parseErrorBody(res.text);
    assert.ok(error.Code && error.Message && error.RequestId && error.Resource !== undefined, `${what}: ${res.text}`);
    await assertAbsent(key);
  }
  const noDecodedLength = await raw(server, {
    method: 'PUT', path: objectPath(Bucket, 'framing-no-length'), body: `3\r\nabc\r\n0\r\n\r\n`, payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
    headers: { 'content-encoding': 'aws-chunked' },
  });
  assertS3Error(noDecodedLength, 411, 'MissingContentLength');
});

test('Content-Length - a PUT with neither a length nor chunked transfer encoding gets MissingContentLength', async () => {
  const path = objectPath(Bucket, 'no-length');
  const headers = await signedHeaders(server, { method: 'PUT', path, payloadHash: 'UNSIGNED-PAYLOAD' });
  const answer = await socketExchange(server, `PUT ${path} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`, { idleMs: 2000 });
  assert.match(answer, /^HTTP\/1\.1 411 /);
  assert.equal(parseErrorBody(answer.slice(answer.indexOf('\r\n\r\n') + 4)).Code, 'MissingContentLength');
  await assertAbsent('no-length');
});

// ---- Unknown operations ---------------------------------------------------------------------------

test('Unknown operations - sub-resources we do not implement get 501 NotImplemented', async () => {
  const cases: { method: string; path: string; query: Record<string, string | null>; body?: string }[] = [
    { method: 'GET', path: `/${Bucket}`, query: { logging: null } },
    { method: 'PUT', path: `/${Bucket}`, query: { logging: null }, body: '<BucketLoggingStatus/>' },
    { method: 'PUT', path: objectPath(Bucket, 'canary'), query: { renameObject: null } },
    { method: 'PUT', path: `/${Bucket}`, query: { website: null }, body: '<WebsiteConfiguration/>' },
    { method: 'GET', path: `/${Bucket}`, query: { website: null } },
    { method: 'GET', path: `/${Bucket}`, query: { replication: null } },
    { method: 'POST', path: objectPath(Bucket, 'canary'), query: { select: null, 'select-type': '2' }, body: '<SelectObjectContentRequest/>' },
    { method: 'POST', path: objectPath(Bucket, 'canary'), query: { restore: null }, body: '<RestoreRequest/>' },
  ];
  for (const c of cases) {
    const res = await raw(server, c);
    assertS3Error(res, 501, 'NotImplemented');
  }
  // The retention PUT changed nothing.
  const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'canary' }));
  assert.equal(head.ContentLength, 10);
});

test('Unknown operations - unsupported methods get an S3 error', async () => {
  for (const method of ['PATCH', 'OPTIONS']) {
    const res = await raw(server, { method, path: objectPath(Bucket, 'canary') });
    assert.ok(res.status === 405 || res.status === 501 || res.status === 400 || res.status === 403, `${method}: ${res.status}`);
    assert.ok(res.headers['x-amz-request-id']);
    if (method !== 'HEAD') assert.ok(parseErrorBody(res.text).Code, `${method}: ${res.text}`);
  }
  const root = await raw(server, { method: 'DELETE', path: '/' });
  assertS3Error(root, 405, 'MethodNotAllowed');
});

// ---- Every response carries a request id ---------------------------------------------------------

test('Request ids - successful answers carry a unique x-amz-request-id', async () => {
  const ids = new Set<string>();
  for (const req of [{ path: '/' }, { path: `/${Bucket}` }, { path: objectPath(Bucket, 'canary') }, { method: 'HEAD', path: objectPath(Bucket, 'canary') }]) {
    const res = await raw(server, req);
    assert.ok(res.status < 300, res.text);
    const id = res.headers['x-amz-request-id'];
    assert.ok(typeof id === 'string' && id.length > 0);
    ids.add(id);
  }
  assert.equal(ids.size, 4);
});
