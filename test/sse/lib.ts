// Shared pieces of the server-side encryption tests: an HTTPS server (SSE-C is refused over plain HTTP)
// over six drives, an SDK client trusting its CA, KMS keys made through the admin API, and the request
// parameters of each SSE mode.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Agent as UndiciAgent, fetch as undiciFetch } from 'undici';
import { signRequest } from '../../src/s3/sigv4/sign.js';
import { repoRoot, startTessera, type TesseraProcess } from '../helpers/tessera.js';

const exec = promisify(execFile);
export const tesseraBin = join(repoRoot, 'bin', 'tessera.js');

export interface SseServer {
  server: TesseraProcess;
  /** Everything the server writes lives under here: data/ (metadata, key files), drive1..N/, tls/. */
  root: string;
  drives: string[];
  tlsDir: string;
  caFile: string;
  ca: Buffer;
  /** An SDK v3 client (default settings) trusting the server's CA. */
  client(): S3Client;
  /** A signed admin API call (POST/GET /_tessera/admin/PATH); rejects with the status and body on a refusal. */
  admin<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>;
  /** `tessera admin ARGS --endpoint URL --ca-bundle CA` with the root's key; resolves with stdout. */
  cli(...args: string[]): Promise<string>;
  /** Stops the server (SIGTERM) and starts it again over the same data and drives. */
  restart(): Promise<void>;
  cleanup(): Promise<void>;
}

/** Makes a CA and a certificate for 127.0.0.1 and localhost in `dir` with `tessera tls init`. */
export async function makeCertificates(dir: string): Promise<void> {
  await exec(process.execPath, [tesseraBin, 'tls', 'init', '--dir', dir, '--hosts', 'localhost,127.0.0.1']);
}

/** An HTTPS tessera over `driveCount` drives (0: the data directory's own drive). */
export async function startSseServer(options: { driveCount?: number; args?: string[]; env?: Record<string, string> } = {}): Promise<SseServer> {
  const root = await mkdtemp(join(tmpdir(), 'tessera-sse-'));
  const tlsDir = join(root, 'tls');
  await makeCertificates(tlsDir);
  const caFile = join(tlsDir, 'ca.pem');
  const ca = await readFile(caFile);
  const drives = Array.from({ length: options.driveCount ?? 6 }, (_, i) => join(root, `drive${i + 1}`));
  for (const drive of drives) await mkdir(drive);
  const dataDir = join(root, 'data');
  const args = [
    '--tls-cert', join(tlsDir, 'server.pem'), '--tls-key', join(tlsDir, 'server.key'),
    ...(drives.length > 0 ? ['--drives', drives.join(',')] : []),
    ...(options.args ?? []),
  ];
  const start = () => startTessera({ dataDir, args, ...(options.env ? { env: options.env } : {}) });
  let server: TesseraProcess;
  try {
    server = await start();
  } catch (err) {
    await rm(root, { recursive: true, force: true }); // a server that never started leaves no caller to clean up
    throw err;
  }
  const agent = new UndiciAgent({ connect: { ca } });
  const self: SseServer = {
    get server() {
      return server;
    },
    root,
    drives,
    tlsDir,
    caFile,
    ca,
    client: () => sdkClient(server, ca),
    admin: async <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => {
      const url = new URL(`/_tessera/admin/${path}`, server.url);
      const bytes = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const headers = signRequest({ method, url, region: 'us-east-1', accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey, ...(bytes ? { body: bytes } : {}) });
      const res = await undiciFetch(url, { method, headers: { ...headers, ...(bytes ? { 'content-type': 'application/json' } : {}) }, ...(bytes ? { body: bytes } : {}), dispatcher: agent });
      const text = await res.text();
      if (!res.ok) throw new Error(`Admin call "${method} ${path}" answered ${res.status}: ${text.slice(0, 500)}`);
      return JSON.parse(text) as T;
    },
    cli: async (...cliArgs: string[]) => {
      const { stdout } = await exec(process.execPath, [tesseraBin, 'admin', ...cliArgs, '--endpoint', server.url, '--ca-bundle', caFile], {
        env: { ...process.env, TESSERA_ROOT_ACCESS_KEY: server.accessKeyId, TESSERA_ROOT_SECRET_KEY: server.secretAccessKey },
        timeout: 120_000,
      });
      return stdout;
    },
    restart: async () => {
      await server.stop();
      server = await start();
    },
    cleanup: async () => {
      await server.stop();
      await agent.close();
      await rm(root, { recursive: true, force: true });
    },
  };
  return self;
}

export function sdkClient(server: TesseraProcess, ca: Buffer): S3Client {
  return new S3Client({
    endpoint: server.url, region: 'us-east-1', forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca }) }),
  });
}

/** Creates a key of the built-in key service through the admin API (idempotent for the tests' purposes). */
export async function createKmsKey(sse: SseServer, keyId: string): Promise<void> {
  await sse.admin('POST', 'kms/keys', { keyId });
}

export type SseMode = 'SSE-S3' | 'SSE-KMS' | 'SSE-C';
export const sseModes: SseMode[] = ['SSE-S3', 'SSE-KMS', 'SSE-C'];

/** A customer key for SSE-C: 32 random bytes, and the base64 the SDK sends. */
export function customerKey(): { key: Buffer; base64: string } {
  const key = randomBytes(32);
  return { key, base64: key.toString('base64') };
}

/**
 * The SDK parameters that write with `mode` (PutObject, CreateMultipartUpload), and those that every later
 * call on the object needs (SSE-C: the key again on UploadPart, GET and HEAD; nothing for the others).
 */
export function sseParams(mode: SseMode, options: { kmsKeyId: string; customerKeyBase64: string }): { write: Record<string, string>; read: Record<string, string> } {
  if (mode === 'SSE-S3') return { write: { ServerSideEncryption: 'AES256' }, read: {} };
  if (mode === 'SSE-KMS') return { write: { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: options.kmsKeyId }, read: {} };
  const customer = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: options.customerKeyBase64 };
  return { write: customer, read: customer };
}

/** The x-amz-server-side-encryption value AWS answers for `mode` (SSE-C answers none, only the customer algorithm). */
export function expectedSseHeader(mode: SseMode): string | undefined {
  return mode === 'SSE-S3' ? 'AES256' : mode === 'SSE-KMS' ? 'aws:kms' : undefined;
}
