// The HTTP endpoint a server or gateway role serves: one listener that sends the admin API and metrics
// (/_tessera/...) to the admin module and everything else to the S3 module, SigV4 shared between them,
// plus the optional unauthenticated metrics listener. Also the address helpers of every role.
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createS3HttpServer, newRequestCounters, rootOnlyListener, s3Listener, type RequestCounters } from '../s3/server.js';
import { isAdminRequest, serveAdmin, type AdminDeps } from '../admin/admin-api.js';
import { createMetricsServer } from '../admin/metrics.js';
import type { ObjectContext } from '../objects/context.js';
import type { Logger } from '../util/log.js';
import type { RootCredentials } from './stores.js';
import { isHealthRequest, serveHealth, type HealthReport } from './health.js';
import type { RateLimiter } from '../util/rate-limiter.js';

export interface EndpointOptions {
  /** host:port to listen on; port 0 picks a free one. */
  address: string;
  /** host:port of the separate, unauthenticated metrics listener; unset: none. */
  metricsAddress?: string;
  region: string;
  domains: string[];
  credentials: RootCredentials;
  objects: ObjectContext;
  /** The admin module's dependencies, given the endpoint's request counters. */
  admin: (counters: () => Record<string, number>) => AdminDeps;
  log: Logger;
  /** The unauthenticated health check (health.ts); unset: the path is S3's like any other. */
  health?: () => Promise<HealthReport>;
  /** Rate limits of S3 requests (the admin API changes them through its own reference). */
  limits?: RateLimiter;
  /** Test-only access keys (id → secret) accepted beside the root key, with its rights: see EndpointConfig. */
  testAccessKeys?: Record<string, string>;
}

export interface RunningEndpoint {
  url: string;
  metricsUrl?: string;
  admin: AdminDeps;
  close(): Promise<void>;
}

export async function startEndpoint(options: EndpointOptions): Promise<RunningEndpoint> {
  const { credentials, log } = options;
  const counters: RequestCounters = newRequestCounters();
  const admin = options.admin(() => ({ ...counters }));
  const s3Options = {
    objects: options.objects,
    log,
    rootAccessKeyId: credentials.accessKeyId,
    counters,
    ...(options.limits ? { limits: options.limits } : {}),
    config: {
      region: options.region,
      baseDomains: options.domains,
      secretFor: secretsOf(credentials, options.testAccessKeys),
      nowMs: () => Date.now(),
    },
  };
  const s3 = s3Listener(s3Options);
  const adminListener = rootOnlyListener(s3Options, (req, res, rawPath) => serveAdmin(admin, req, res, rawPath));
  // The one extra cost per S3 request is a character compare (isAdminRequest's first check).
  const health = options.health;
  const server = createS3HttpServer((req: IncomingMessage, res: ServerResponse) => {
    if (health && isHealthRequest(req.method, req.url ?? '/')) void serveHealth(health, req, res);
    else if (isAdminRequest(req.method, req.url ?? '/')) adminListener(req, res);
    else s3(req, res);
  });
  const bound = await listen(server, options.address);
  const metricsServer = options.metricsAddress ? createMetricsServer(admin, log) : undefined;
  if (options.metricsAddress && !isLoopback(parseAddress(options.metricsAddress).host)) {
    log.warn('The metrics listener is not on loopback: anyone who reaches it reads drive ids and request counts', { address: options.metricsAddress });
  }
  const metricsBound = metricsServer ? await listen(metricsServer, options.metricsAddress!).catch(async (err: unknown) => {
    await closeServer(server);
    throw err;
  }) : undefined;
  return {
    url: urlOf(bound),
    ...(metricsBound ? { metricsUrl: `${urlOf(metricsBound)}/metrics` } : {}),
    admin,
    async close() {
      await Promise.all([closeServer(server), metricsServer && closeServer(metricsServer)]);
    },
  };
}

function secretsOf(credentials: RootCredentials, testKeys: Record<string, string> | undefined): (id: string) => string | undefined {
  if (!testKeys) return (id) => (id === credentials.accessKeyId ? credentials.secretAccessKey : undefined);
  const secrets = new Map(Object.entries(testKeys));
  return (id) => (id === credentials.accessKeyId ? credentials.secretAccessKey : secrets.get(id));
}

export function parseAddress(address: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]*):(\d+)$/.exec(address);
  if (!m) throw new RangeError(`Cannot parse address "${address}": expected HOST:PORT`);
  const port = Number(m[2]);
  if (port > 65535) throw new RangeError(`Cannot listen on port ${port}: out of range`);
  return { host: (m[1] || '127.0.0.1').replace(/^\[|\]$/g, ''), port };
}

async function listen(server: Server, address: string): Promise<AddressInfo> {
  const { host, port } = parseAddress(address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server.address() as AddressInfo;
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

function urlOf(bound: AddressInfo): string {
  return `http://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
}
