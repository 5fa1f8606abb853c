// Helpers shared by the versioning integration tests: versioned buckets, listing every version in wire
// order (the SDK splits Version and DeleteMarker into two arrays, losing AWS's interleaved order), and
// reading the headers of a failed SDK call.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SourceData } from '@smithy/types';
import {
  CreateBucketCommand, GetObjectCommand, PutBucketVersioningCommand, type S3Client,
} from '@aws-sdk/client-s3';
import type { TesseraProcess } from '../helpers/tessera.js';
import { storedShards } from '../ec/helpers.js';

export async function createBucket(s3: S3Client, bucket: string, status?: 'Enabled' | 'Suspended'): Promise<void> {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  if (status) await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: status } }));
}

export async function setVersioning(s3: S3Client, bucket: string, status: 'Enabled' | 'Suspended'): Promise<void> {
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: status } }));
}

/** The bytes of one object version as text. */
export async function readText(s3: S3Client, bucket: string, key: string, versionId?: string): Promise<string> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(versionId !== undefined ? { VersionId: versionId } : {}) }));
  return got.Body!.transformToString();
}

interface SdkError {
  name: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { headers: Record<string, string> };
}

/** Awaits a call expected to fail and returns its error name, HTTP status and response headers. */
export async function failure(promise: Promise<unknown>): Promise<{ name: string; status: number | undefined; headers: Record<string, string> }> {
  try {
    await promise;
  } catch (err) {
    const e = err as SdkError;
    return { name: e.name, status: e.$metadata?.httpStatusCode, headers: e.$response?.headers ?? {} };
  }
  assert.fail('Expected the request to fail');
}

class Sha256 extends Hash {
  constructor(secret?: SourceData) {
    super('sha256', secret);
  }
}

function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** A SigV4-signed request with exactly the given query, answered as text. */
export async function rawRequest(
  server: TesseraProcess,
  request: { method?: string; path: string; query?: Record<string, string> },
): Promise<{ status: number; headers: Headers; body: string }> {
  const signer = new SignatureV4({
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    region: server.region, service: 's3', sha256: Sha256, uriEscapePath: false,
  });
  const url = new URL(server.url);
  const query = request.query ?? {};
  const signed = await signer.sign({
    method: request.method ?? 'GET', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: request.path,
    query, headers: { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
  });
  const search = Object.entries(query).map(([k, v]) => (v === '' ? rfc3986(k) : `${rfc3986(k)}=${rfc3986(v)}`)).join('&');
  const headers = Object.fromEntries(Object.entries(signed.headers).filter(([name]) => name !== 'host'));
  const res = await fetch(`${server.url}${request.path}${search ? `?${search}` : ''}`, { method: request.method ?? 'GET', headers });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

export interface ListedVersion {
  kind: 'Version' | 'DeleteMarker';
  key: string;
  versionId: string;
  isLatest: boolean;
  etag?: string;
  size?: number;
}

export interface VersionPage {
  entries: ListedVersion[];
  commonPrefixes: string[];
  isTruncated: boolean;
  nextKeyMarker?: string;
  nextVersionIdMarker?: string;
  raw: string;
}

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp|#x([0-9A-Fa-f]+));/g, (_, name: string, hex?: string) => {
    if (hex) return String.fromCharCode(parseInt(hex, 16));
    return ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' } as Record<string, string>)[name]!;
  });
}

function field(xml: string, tag: string): string | undefined {
  const m = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(xml);
  return m ? unescapeXml(m[1]!) : undefined;
}

/** One ListObjectVersions page, entries in the order they appear on the wire. */
export async function listVersionsPage(server: TesseraProcess, bucket: string, query: Record<string, string> = {}): Promise<VersionPage> {
  const res = await rawRequest(server, { path: `/${bucket}`, query: { versions: '', ...query } });
  assert.equal(res.status, 200, res.body);
  const entries: ListedVersion[] = [];
  for (const m of res.body.matchAll(/<(Version|DeleteMarker)>([\s\S]*?)<\/\1>/g)) {
    const inner = m[2]!;
    const size = field(inner, 'Size');
    const etag = field(inner, 'ETag');
    entries.push({
      kind: m[1] as ListedVersion['kind'],
      key: field(inner, 'Key')!,
      versionId: field(inner, 'VersionId')!,
      isLatest: field(inner, 'IsLatest') === 'true',
      ...(etag !== undefined ? { etag } : {}),
      ...(size !== undefined ? { size: Number(size) } : {}),
    });
  }
  const commonPrefixes = [...res.body.matchAll(/<CommonPrefixes><Prefix>([\s\S]*?)<\/Prefix><\/CommonPrefixes>/g)].map((m) => unescapeXml(m[1]!));
  const nextKeyMarker = field(res.body, 'NextKeyMarker');
  const nextVersionIdMarker = field(res.body, 'NextVersionIdMarker');
  return {
    entries,
    commonPrefixes,
    isTruncated: field(res.body, 'IsTruncated') === 'true',
    ...(nextKeyMarker !== undefined ? { nextKeyMarker } : {}),
    ...(nextVersionIdMarker !== undefined ? { nextVersionIdMarker } : {}),
    raw: res.body,
  };
}

/** Every page of a ListObjectVersions walk with the given page size, following the next markers. */
export async function listAllVersionPages(server: TesseraProcess, bucket: string, query: Record<string, string>, pagesMax = 1000): Promise<VersionPage[]> {
  const pages: VersionPage[] = [];
  let markers: Record<string, string> = {};
  for (let i = 0; i < pagesMax; i++) {
    const page = await listVersionsPage(server, bucket, { ...query, ...markers });
    pages.push(page);
    if (!page.isTruncated) return pages;
    assert.ok(page.nextKeyMarker !== undefined, 'A truncated page must carry NextKeyMarker');
    markers = { 'key-marker': page.nextKeyMarker, ...(page.nextVersionIdMarker !== undefined ? { 'version-id-marker': page.nextVersionIdMarker } : {}) };
  }
  assert.fail(`Listing did not finish within ${pagesMax} pages`);
}

/**
 * Bytes of the shards a drive holds: its shard files and its live pack records (a packed shard's space is
 * freed when its row goes; the pack file itself shrinks only once compaction rewrites it).
 */
export async function usedBytes(drive: string): Promise<number> {
  return (await storedShards(drive)).reduce((sum, shard) => sum + shard.bytes, 0);
}

/** Polls `probe` until it returns true or the time runs out. */
export async function eventually(probe: () => Promise<boolean>, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}
