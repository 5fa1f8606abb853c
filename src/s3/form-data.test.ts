import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FormDataReader, formBoundaryOf, type FormBudget } from './form-data.js';
import { S3Error } from './errors.js';

const boundary = '----tessera-boundary-7MA4YWxk';

function body(parts: { name: string; filename?: string; value: string | Buffer }[], options: { preamble?: string; epilogue?: string } = {}): Buffer {
  const pieces: Buffer[] = [Buffer.from(options.preamble ?? '')];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename === undefined ? '' : `; filename="${p.filename}"`}`;
    pieces.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n\r\n`), Buffer.from(p.value), Buffer.from('\r\n'));
  }
  pieces.push(Buffer.from(`--${boundary}--\r\n${options.epilogue ?? ''}`));
  return Buffer.concat(pieces);
}

async function* chunks(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

/** Every part as [name, filename, content], reading each content whole or streamed. */
async function readAll(data: Buffer, chunkBytes: number, streamed: boolean): Promise<[string, string | undefined, string][]> {
  const reader = new FormDataReader(chunks(data, chunkBytes)[Symbol.asyncIterator](), boundary);
  const budget: FormBudget = { bytesLeft: 1 << 20 };
  const out: [string, string | undefined, string][] = [];
  for (let part = await reader.nextPart(budget); part; part = await reader.nextPart(budget)) {
    let content: Buffer;
    if (streamed) {
      const pieces: Buffer[] = [];
      for await (const piece of reader.content()) pieces.push(piece);
      content = Buffer.concat(pieces);
    } else {
      content = await reader.readContent(budget);
    }
    out.push([part.name, part.filename, content.toString('latin1')]);
  }
  return out;
}

const isCode = (code: string) => (err: unknown) => err instanceof S3Error && err.code === code;

test('FormDataReader - parts come out whole when the body arrives in chunks of any size', async () => {
  // Content that holds the delimiter's prefixes, CRLFs and dashes, to catch a split delimiter.
  const tricky = `a\r\n--${boundary.slice(0, 10)}\r\n-\r\n--x\r\n`;
  const data = body([
    { name: 'key', value: 'user/${filename}' },
    { name: 'x-amz-meta-note', value: 'caf\u00e9' },
    { name: 'file', filename: 'a.txt', value: tricky },
    { name: 'after', value: '' },
  ], { preamble: 'ignored preamble\r\n', epilogue: 'ignored epilogue' });
  const expected: [string, string | undefined, string][] = [
    ['key', undefined, 'user/${filename}'],
    ['x-amz-meta-note', undefined, Buffer.from('caf\u00e9').toString('latin1')],
    ['file', 'a.txt', tricky],
    ['after', undefined, ''],
  ];
  for (const size of [1, 2, 3, 7, 41, 64, data.length]) {
    assert.deepEqual(await readAll(data, size, false), expected, `chunks of ${size}`);
    assert.deepEqual(await readAll(data, size, true), expected, `chunks of ${size}, streamed`);
  }
});

test('FormDataReader - a large part streams in pieces no bigger than what arrived', async () => {
  const big = Buffer.alloc(5 * 1024 * 1024, 0x61);
  const data = body([{ name: 'file', filename: 'big', value: big }]);
  const reader = new FormDataReader(chunks(data, 65536)[Symbol.asyncIterator](), boundary);
  const budget = { bytesLeft: 20 * 1024 };
  assert.equal((await reader.nextPart(budget))?.name, 'file');
  let total = 0;
  let largest = 0;
  for await (const piece of reader.content()) {
    total += piece.length;
    largest = Math.max(largest, piece.length);
  }
  assert.equal(total, big.length);
  assert.ok(largest <= 65536 + 100, `a piece of ${largest} bytes`);
  assert.equal(await reader.nextPart(budget), null);
});

test('FormDataReader - malformed bodies are MalformedPOSTRequest when truncated or without a name', async () => {
  const good = body([{ name: 'key', value: 'k' }, { name: 'file', filename: 'f', value: 'data' }]);
  const cases: [string, Buffer][] = [
    ['truncated in the file', good.subarray(0, good.length - 20)],
    ['no delimiter at all', Buffer.from('just some bytes')],
    ['no name', Buffer.from(`--${boundary}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--${boundary}--\r\n`)],
    ['no Content-Disposition', Buffer.from(`--${boundary}\r\nContent-Type: text/plain\r\n\r\nx\r\n--${boundary}--\r\n`)],
    ['garbage after the delimiter', Buffer.from(`--${boundary}junk\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--${boundary}--\r\n`)],
  ];
  for (const [what, data] of cases) {
    await assert.rejects(readAll(data, 5, false), isCode('MalformedPOSTRequest'), what);
  }
});

test('FormDataReader - fields beyond the budget are MaxPostPreDataLengthExceededError', async () => {
  const data = body([{ name: 'x-ignore-pad', value: 'p'.repeat(30_000) }, { name: 'file', value: 'f' }]);
  const reader = new FormDataReader(chunks(data, 1000)[Symbol.asyncIterator](), boundary);
  const budget = { bytesLeft: 20 * 1024 };
  await reader.nextPart(budget);
  await assert.rejects(reader.readContent(budget), isCode('MaxPostPreDataLengthExceededError'));
});

test('FormDataReader - quoted parameters may hold semicolons and escaped quotes', async () => {
  const data = Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; filename="a;b\\"c.txt"; NAME=file\r\n\r\nx\r\n--${boundary}--`);
  assert.deepEqual(await readAll(data, 3, false), [['file', 'a;b"c.txt', 'x']]);
  // A browser sends a Windows path's backslashes as they are.
  const path = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="C:\\dir\\f.txt"\r\n\r\nx\r\n--${boundary}--`);
  assert.deepEqual(await readAll(path, 3, false), [['file', 'C:\\dir\\f.txt', 'x']]);
});

test('formBoundaryOf - reads the boundary of multipart/form-data, undefined for other types', () => {
  assert.equal(formBoundaryOf('multipart/form-data; boundary=abc'), 'abc');
  assert.equal(formBoundaryOf('Multipart/Form-Data; charset=utf-8; boundary="a b:c"'), 'a b:c');
  assert.equal(formBoundaryOf('application/x-www-form-urlencoded'), undefined);
  assert.equal(formBoundaryOf(undefined), undefined);
  assert.throws(() => formBoundaryOf('multipart/form-data'), isCode('MalformedPOSTRequest'));
  assert.throws(() => formBoundaryOf(`multipart/form-data; boundary=${'b'.repeat(71)}`), isCode('MalformedPOSTRequest'));
});
