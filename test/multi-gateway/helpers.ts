// Shared by the multi-gateway tests: a `tessera dev-cluster --gateways N --postgres` (HAProxy in front), an
// SDK client per gateway and one on HAProxy, the root-signed admin status of a gateway, and the skip rule
// (PostgreSQL or HAProxy missing outside CI; under CI=true nothing skips).
import { existsSync } from 'node:fs';
import { S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { postgresBinDir } from '../../src/cli/local-postgres.js';
import { haproxyPath } from '../../src/cli/local-haproxy.js';
import { signRequest } from '../../src/s3/sigv4/sign.js';
import type { ClusterFile, ClusterProcess } from '../../src/cli/dev-cluster.js';
import { startDevCluster, type DevCluster } from '../cluster/helpers.js';

export function skipWithoutClusterTools(): string | false {
  if (process.env.CI === 'true') return false;
  if (postgresBinDir() === undefined) return 'PostgreSQL is not installed; CI installs it';
  if (!existsSync(haproxyPath)) return 'HAProxy is not installed; CI installs it';
  return false;
}

export async function startMultiGateway(dir: string, gateways: number, nodes = 3): Promise<DevCluster> {
  return startDevCluster(dir, ['--nodes', String(nodes), '--gateways', String(gateways), '--postgres', '--address', '127.0.0.1:0']);
}

export function clientFor(file: ClusterFile, endpoint: string, maxAttempts?: number): S3Client {
  return new S3Client({
    endpoint,
    region: file.region,
    forcePathStyle: true,
    credentials: { accessKeyId: file.accessKeyId, secretAccessKey: file.secretAccessKey },
    ...(maxAttempts ? { maxAttempts } : {}),
  });
}

export const gatewaysOf = (file: ClusterFile): ClusterProcess[] => file.processes.filter((p) => p.role === 'gateway');

/** The HTTP status an SDK call failed with (0: no HTTP answer). */
export function statusOf(err: unknown): number {
  if (err instanceof S3ServiceException) return err.$metadata.httpStatusCode ?? 0;
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 0;
}

export interface WorkerStatusLine {
  name: string;
  leaseHeld: boolean;
}

/** The background workers a gateway reports in its admin status (which leases it holds). */
export async function workersOf(file: ClusterFile, address: string): Promise<WorkerStatusLine[]> {
  const url = new URL('/_tessera/admin/status', `http://${address}`);
  const res = await fetch(url, { headers: signRequest({ method: 'GET', url, region: file.region, accessKeyId: file.accessKeyId, secretAccessKey: file.secretAccessKey }) });
  if (res.status !== 200) throw new Error(`Admin status of ${address} answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { workers: WorkerStatusLine[] }).workers;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadlineMs = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadlineMs) throw new Error(`Timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(250);
  }
}
