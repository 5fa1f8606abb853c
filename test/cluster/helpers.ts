// Runs `tessera dev-cluster` as a child for the cluster tests: waits for "Cluster ready", reads DIR/cluster.json,
// and stops everything by pid (dev-cluster first, then any child it left). Needs a build.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent } from 'node:https';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { repoRoot } from '../helpers/tessera.js';
import { packedShards } from '../ec/helpers.js';
import type { ClusterFile } from '../../src/cli/dev-cluster.js';

export interface DevCluster {
  dir: string;
  process: ChildProcess;
  /** cluster.json as it is now. */
  file(): Promise<ClusterFile>;
  /** An SDK v3 client with default settings against the gateway. */
  client(): Promise<S3Client>;
  output(): string;
  /** SIGTERM to dev-cluster; resolves with its exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL to dev-cluster and every process cluster.json names that is still alive: for finally blocks. */
  killAll(): Promise<void>;
}

export async function startDevCluster(dir: string, args: string[] = [], timeoutMs = 120_000): Promise<DevCluster> {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'tessera.js'), 'dev-cluster', '--dir', dir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const file = async () => JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')) as ClusterFile;
  const cluster: DevCluster = {
    dir,
    process: child,
    file,
    async client() {
      const f = await file();
      // A --tls cluster's certificates are signed by its own CA: the client trusts that and nothing else.
      const tls = f.caBundle ? { requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca: await readFile(f.caBundle) }) }) } : {};
      return new S3Client({ endpoint: f.endpoint, region: f.region, forcePathStyle: true, credentials: { accessKeyId: f.accessKeyId, secretAccessKey: f.secretAccessKey }, ...tls });
    },
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    async killAll() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      const pids = await file().then((f) => f.processes.map((p) => p.pid), () => []);
      for (const pid of pids) if (pid && isAlive(pid)) process.kill(pid, 'SIGKILL');
    },
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`dev-cluster was not ready within ${timeoutMs / 1000} s: ${output}`)), timeoutMs);
      child.stdout!.on('data', () => {
        if (/^Cluster ready/m.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`dev-cluster exited with ${code} before it was ready: ${output}`));
      });
    });
  } catch (err) {
    await cluster.killAll();
    throw err;
  }
  return cluster;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Committed shards under a drive directory: files (name ends in .INDEX) and packed records. */
export async function shardFilesUnder(drive: string): Promise<number> {
  const entries = await readdir(join(drive, 'shards'), { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile() && /^[0-9a-f]{32}\.\d+$/.test(e.name)).length + packedShards(drive).length;
}
