// The GET references: Debian's nginx (the ceiling: a generated config in a temporary prefix, plain files
// with sendfile, no access log, keep-alive without a request cap, pid file in the prefix), and a bare
// node:http server over the same files (what Node itself allows on this machine).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killOnBenchExit } from './exit-guard.js';

export interface Nginx {
  url: string;
  /** The master's pid; its workers are its children. */
  pid: number;
  /** Files under here are served at the same path. */
  root: string;
  version: string;
  stop(): Promise<void>;
}

export function nginxBinary(): string | undefined {
  for (const path of ['/usr/sbin/nginx', 'nginx']) {
    if (spawnSync(path, ['-v']).error === undefined) return path;
  }
  return undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

export async function startNginx(): Promise<Nginx> {
  const binary = nginxBinary();
  if (!binary) throw new Error('nginx is not installed: apt-get install nginx');
  const version = spawnSync(binary, ['-v'], { encoding: 'utf8' }).stderr.trim();
  const prefix = await mkdtemp(join(tmpdir(), 'tessera-nginx-'));
  const root = join(prefix, 'www');
  await mkdir(root);
  const port = await freePort();
  const user = process.getuid?.() === 0 ? 'user root;' : ''; // workers would otherwise run as nobody, who cannot read a 0700 temp dir
  const temp = (name: string) => `${name}_temp_path ${join(prefix, name)};`;
  const config = `
${user}
worker_processes auto;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'error.log')} warn;
daemon off;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000000;
  keepalive_timeout 60s;
  default_type application/octet-stream;
  ${temp('client_body')} ${temp('proxy')} ${temp('fastcgi')} ${temp('uwsgi')} ${temp('scgi')}
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / { }
  }
}
`;
  const configPath = join(prefix, 'nginx.conf');
  await writeFile(configPath, config);
  const child = spawn(binary, ['-p', prefix, '-c', configPath, '-e', join(prefix, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const unhook = killOnBenchExit([child], prefix, 'SIGTERM');
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await fetch(`${url}/`).then(() => true, () => false);
    if (up) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      const log = await readFile(join(prefix, 'error.log'), 'utf8').catch(() => '');
      throw new Error(`nginx did not start: ${stderr}${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    pid: child.pid!,
    root,
    version,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGQUIT'); // graceful: the master stops its workers
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      unhook();
      await rm(prefix, { recursive: true, force: true });
    },
  };
}

export interface Baseline {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Runs a TypeScript child (through tsx) that prints `{"url": ...}` as its first stdout line once it
 * listens; `stop` ends it (SIGKILL after 10 s) and waits for its exit.
 */
export function startUrlChild(script: string, args: string[], what: string, nodeArgs: string[] = []): Promise<Baseline> {
  return startUrlCommand(process.execPath, [...nodeArgs, '--import', 'tsx', script, ...args], what);
}

/** The same for any program that prints `{"url": ...}` as its first stdout line once it listens. */
export async function startUrlCommand(file: string, args: string[], what: string): Promise<Baseline> {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const unhook = killOnBenchExit([child]);
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once('exit', (code) => reject(new Error(`${what} exited with ${code}: ${stderr}`)));
  });
  return {
    url,
    pid: child.pid!,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      unhook();
    },
  };
}

/** Starts baseline-child.ts (a bare node:http file server) over `root`, in its own process. */
export function startNodeBaseline(root: string): Promise<Baseline> {
  return startUrlChild(join(import.meta.dirname, 'baseline-child.ts'), [root], 'The node:http baseline');
}
