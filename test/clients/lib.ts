// Shared pieces of the client scenario tests: running a real client binary with an explicit
// environment, making file trees, and comparing them by content.
import { execFile, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';

export const MiB = 1024 * 1024;

/** Debian's packaged clients, by absolute path: a pyenv `aws` v1 shim may come first on PATH. */
export const clients = {
  aws: '/usr/bin/aws',
  python3: '/usr/bin/python3',
  rclone: '/usr/bin/rclone',
  s3cmd: '/usr/bin/s3cmd',
} as const;

/**
 * A reason to skip when a client is not installed, or false. Under CI (CI=true) a missing
 * client is a failure, not a skip: .ci/run installs them all, so a skip there would hide a
 * broken install.
 */
export function skipUnlessInstalled(...paths: string[]): string | false {
  const missing = paths.filter((p) => !existsSync(p));
  if (missing.length === 0) return false;
  if (process.env.CI) throw new Error(`Client scenario needs ${missing.join(', ')}, which is not installed (CI=true)`);
  return `not installed: ${missing.join(', ')} (run .ci/run, or apt-get install awscli python3-boto3 rclone s3cmd)`;
}

/**
 * The whole environment a client sees. Nothing is inherited from the test process, so no
 * user config, proxy or CA bundle (AWS_CA_BUNDLE breaks rclone over plain HTTP) leaks in.
 */
export function clientEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', TMPDIR: home, ...extra };
}

/**
 * The environment of an AWS client (boto3, the aws CLI) signing with `credentials`: clientEnv, plus no
 * config or credentials file to find and no instance metadata to ask.
 */
export function awsClientEnv(home: string, credentials: { accessKeyId: string; secretAccessKey: string }, extra: Record<string, string> = {}): Record<string, string> {
  return clientEnv(home, {
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: join(home, 'no-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-credentials'),
    PYTHONDONTWRITEBYTECODE: '1',
    ...extra,
  });
}

/**
 * The environment of rclone with one S3 remote named T at `server`, signing with its credentials: clientEnv,
 * plus the remote's settings (pass `--config` an empty file so that no user config is read).
 */
export function rcloneClientEnv(home: string, server: { url: string; accessKeyId: string; secretAccessKey: string }, extra: Record<string, string> = {}): Record<string, string> {
  return clientEnv(home, {
    RCLONE_CONFIG_T_TYPE: 's3',
    RCLONE_CONFIG_T_PROVIDER: 'Other',
    RCLONE_CONFIG_T_ENDPOINT: server.url,
    RCLONE_CONFIG_T_ACCESS_KEY_ID: server.accessKeyId,
    RCLONE_CONFIG_T_SECRET_ACCESS_KEY: server.secretAccessKey,
    RCLONE_CONFIG_T_REGION: 'us-east-1',
    ...extra,
  });
}

/** Like skipUnlessInstalled, for a Python module that Debian's python3 must import (boto3). */
export function skipUnlessPythonModule(module: string): string | false {
  const missing = skipUnlessInstalled(clients.python3);
  if (missing) return missing;
  const r = spawnSync(clients.python3, ['-c', `import ${module}`], { env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' }, timeout: 30_000, encoding: 'utf8' });
  if (r.status === 0) return false;
  if (process.env.CI) throw new Error(`Client scenario needs the Python module "${module}" in ${clients.python3}: ${r.stderr || r.error}`);
  return `${clients.python3} cannot import ${module} (apt-get install python3-boto3)`;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

export interface RunOptions {
  env: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
}

const outputBytesMax = 64 * MiB;
const runTimeoutMsDefault = 120_000;

/** Runs a command to its end. Never rejects on a nonzero exit: the caller asserts on `code`. */
export function run(file: string, args: string[], options: RunOptions): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { env: options.env, cwd: options.cwd, timeout: options.timeoutMs ?? runTimeoutMsDefault, killSignal: 'SIGKILL', maxBuffer: outputBytesMax, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const elapsedMs = Date.now() - started;
        // TESSERA_CLIENT_TRACE=1 logs every client command and its time, to see where a slow run goes.
        if (process.env.TESSERA_CLIENT_TRACE) process.stderr.write(`[client ${elapsedMs} ms] ${file} ${args.join(' ')}\n`);
        if (err && typeof (err as NodeJS.ErrnoException).code === 'string') {
          // Spawn failure (ENOENT) or maxBuffer overflow: not an exit status.
          reject(new Error(`Cannot run "${file}": ${err.message}`, { cause: err }));
          return;
        }
        const failed = err as (Error & { code?: number | null; signal?: NodeJS.Signals | null; killed?: boolean }) | null;
        resolve({ code: failed ? (failed.code ?? null) : 0, signal: failed?.signal ?? null, stdout, stderr, elapsedMs });
      },
    );
  });
}

/** One line describing a run, for assertion messages. */
export function describeRun(what: string, r: RunResult): string {
  const tail = (s: string) => (s.length > 4000 ? `…${s.slice(-4000)}` : s);
  return `${what}: exit ${r.code}${r.signal ? ` (signal ${r.signal}, timed out?)` : ''} after ${r.elapsedMs} ms\n--- stdout\n${tail(r.stdout)}\n--- stderr\n${tail(r.stderr)}`;
}

export async function makeTempDir(label: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `tessera-${label}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Writes `sizeBytes` random bytes, streaming, so a 100 MB file never sits in memory. */
export async function writeRandomFile(path: string, sizeBytes: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const chunkBytes = 4 * MiB;
  async function* chunks() {
    for (let left = sizeBytes; left > 0; left -= chunkBytes) yield randomBytes(Math.min(chunkBytes, left));
  }
  await pipeline(Readable.from(chunks()), createWriteStream(path));
}

export async function writeText(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function md5Hex(data: Buffer | string): string {
  return createHash('md5').update(data).digest('hex');
}

export async function md5File(path: string): Promise<Buffer> {
  const hash = createHash('md5');
  await pipeline(createReadStream(path), hash);
  return hash.digest();
}

/** The ETag S3 gives a multipart object: md5 of the parts' binary md5s, then "-N". */
export function multipartETag(partMd5s: Buffer[]): string {
  return `"${createHash('md5').update(Buffer.concat(partMd5s)).digest('hex')}-${partMd5s.length}"`;
}

/** Every regular file under `root`, as a sorted map of "/"-joined relative path to sha256 and size. */
export async function treeDigest(root: string): Promise<Map<string, { sha256: string; sizeBytes: number }>> {
  const entries: [string, { sha256: string; sizeBytes: number }][] = [];
  async function walk(dir: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) {
        entries.push([relative(root, path).split('\\').join('/'), { sha256: await sha256File(path), sizeBytes: (await stat(path)).size }]);
      }
    }
  }
  await walk(root);
  entries.sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return new Map(entries);
}

/** A tree digest as a plain object, so assert.deepEqual prints a readable diff. */
export async function treeObject(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [path, { sha256: digest, sizeBytes }] of await treeDigest(root)) out[path] = `${sizeBytes}:${digest}`;
  return out;
}

/**
 * The awkward-names tree every scenario uploads: nested directories, spaces, unicode in NFC
 * (including a 4-byte emoji), "+" and "%", XML's special characters, and an empty file.
 * Returns the relative paths.
 */
export async function writeNamesTree(root: string): Promise<string[]> {
  const files: Record<string, string> = {
    'top.txt': 'top level\n',
    'a/b/c/deep.txt': 'three levels down\n',
    'space dir/file with spaces.txt': 'spaces\n',
    'ünïcödé/naïve café.txt': 'unicode names\n',
    'ünïcödé/emoji 😀.txt': 'four-byte UTF-8\n',
    'odd/plus+and%percent.txt': 'plus and percent\n',
    'odd/it\'s "quoted" & <angled>.txt': 'XML special characters\n',
    'odd/empty.bin': '',
  };
  for (const [path, text] of Object.entries(files)) await writeText(join(root, path), text);
  return Object.keys(files);
}
