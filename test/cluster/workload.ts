// What the cluster fault tests do to a cluster: PUT objects of a few sizes (one-part and multipart),
// remember a digest of every acknowledged one, read them back exactly, time each request, and run a
// client loop that counts every error the application sees.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';

export const KiB = 1024;
export const MiB = 1024 * KiB;
/** Multipart uploads use parts of this size (S3's minimum for all but the last part). */
const partBytes = 5 * MiB;

export interface Acked {
  key: string;
  bytes: number;
  sha256: string;
  multipart: boolean;
}

export const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** PUTs `bytes` random bytes under `key` (multipart when asked) and returns what a later read must match. */
export async function putObject(s3: S3Client, bucket: string, key: string, bytes: number, multipart = false): Promise<Acked> {
  const body = randomBytes(bytes);
  if (!multipart) {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  } else {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const parts: { ETag: string; PartNumber: number }[] = [];
    for (let offset = 0, n = 1; offset < bytes; offset += partBytes, n++) {
      const { ETag } = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: n, Body: body.subarray(offset, offset + partBytes) }));
      parts.push({ ETag: ETag!, PartNumber: n });
    }
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
  }
  return { key, bytes, sha256: sha256(body), multipart };
}

export async function getBytes(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

/** Reads `object` and fails unless the bytes are exactly those acknowledged. */
export async function assertReadsBack(s3: S3Client, bucket: string, object: Acked): Promise<void> {
  const data = await getBytes(s3, bucket, object.key);
  assert.equal(data.length, object.bytes, `${object.key}: length`);
  assert.equal(sha256(data), object.sha256, `${object.key}: the bytes differ from those acknowledged`);
}

export interface Timed<T> {
  ms: number;
  value?: T;
  error?: unknown;
}

export async function timed<T>(fn: () => Promise<T>): Promise<Timed<T>> {
  const t0 = performance.now();
  try {
    const value = await fn();
    return { ms: performance.now() - t0, value };
  } catch (error) {
    return { ms: performance.now() - t0, error };
  }
}

/** The HTTP status an SDK error carries (undefined for a network error or a non-S3 failure). */
export function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

export function describe(error: unknown): string {
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  return `${e?.name ?? 'Error'} ${e?.$metadata?.httpStatusCode ?? '-'}: ${e?.message ?? String(error)}`;
}

/** Sizes the load cycles through: small (inline in the metadata), 1 MiB, and a 12 MiB multipart upload. */
export const loadMix: { bytes: number; multipart: boolean }[] = [
  { bytes: 4 * KiB, multipart: false },
  { bytes: MiB, multipart: false },
  { bytes: 4 * KiB, multipart: false },
  { bytes: MiB, multipart: false },
  { bytes: 12 * MiB, multipart: true },
];

/**
 * A closed loop of `workers` clients, each PUT then GET (of an earlier acknowledged object, checked
 * exactly), until stopped. Every error the application sees is recorded; none is retried here (the SDK
 * does its own default retries underneath).
 */
export class ClientLoop {
  readonly acked = new Map<string, Acked>();
  readonly errors: string[] = [];
  ops = 0;
  /** PUTs of objects above the inline threshold now in flight: they stream shards to every node. */
  blockPutsInFlight = 0;
  private stopping = false;
  private readonly running: Promise<void>[];
  private next = 0;

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    workers: number,
  ) {
    this.running = Array.from({ length: workers }, (_, w) => this.work(w));
  }

  private async work(worker: number): Promise<void> {
    while (!this.stopping) {
      const i = this.next++;
      const { bytes, multipart } = loadMix[i % loadMix.length]!;
      const key = `load/${worker}/${i}`;
      const block = bytes > 32 * KiB;
      try {
        if (block) this.blockPutsInFlight++;
        const object = await putObject(this.s3, this.bucket, key, bytes, multipart).finally(() => block && this.blockPutsInFlight--);
        this.acked.set(key, object);
        const earlier = [...this.acked.values()];
        await assertReadsBack(this.s3, this.bucket, earlier[Math.floor(Math.random() * earlier.length)]!);
      } catch (err) {
        this.errors.push(`${key}: ${describe(err)}`);
      }
      this.ops++;
    }
  }

  /** Resolves once `count` more objects have been acknowledged since the call. */
  async ackedMore(count: number, timeoutMs: number): Promise<void> {
    const target = this.acked.size + count;
    const deadline = Date.now() + timeoutMs;
    while (this.acked.size < target) {
      if (Date.now() > deadline) throw new Error(`The client loop acknowledged ${this.acked.size} of ${target} objects in ${timeoutMs} ms; errors: ${this.errors.join('; ')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Resolves when a PUT of a block object is in flight, so a fault lands in the middle of one. */
  async blockPutInFlight(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.blockPutsInFlight === 0) {
      if (Date.now() > deadline) throw new Error(`No block PUT was in flight within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.running);
  }
}

/** Retries `fn` until it resolves or `timeoutMs` passes (for a cluster that needs a moment after a restart). */
export async function eventually<T>(fn: () => Promise<T>, timeoutMs: number, pauseMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  }
}
