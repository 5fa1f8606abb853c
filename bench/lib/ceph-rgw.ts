// A throwaway single-host Ceph as an S3 peer for benchmarks (issue 17): one monitor, one BlueStore OSD on a
// sparse file, pools of size 1 and radosgw (beast) on 127.0.0.1, cephx, an S3 user; no manager daemon
// (nothing here needs one). With `erasure` (k + m), k + m OSDs, each on its own sparse file in the same
// directory, and RGW's data pool erasure-coded k+m over them (one chunk per OSD), as Tessera's RS k+m over
// as many drives. Needs Debian's radosgw, ceph-mon and ceph-osd; benchmarks only, never CI.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killOnBenchExit } from './exit-guard.js';
import { processTreeCpuSeconds } from './machine.js';
import { benchGc } from './server.js';
import { freePort } from './nginx.js';
import type { Credentials } from './presign.js';

export interface CephRgw {
  url: string;
  credentials: Credentials;
  /** e.g. "ceph version 16.2.15 (...) pacific (stable)". */
  version: string;
  /** What BlueStore made of the block file's device ("hdd" or "ssd"), which picks its defaults. */
  deviceClass: string;
  pids: { mon: number; osds: number[]; rgw: number };
  /** What holds the objects' data, e.g. "pools of size 1" or "data pool erasure-coded 4+2 over 6 OSDs". */
  dataPool: string;
  /** CPU seconds (every thread, user + kernel) of radosgw, the OSDs and the monitor so far. */
  cpuSeconds(): number;
  /** The same, per daemon (every OSD together). */
  cpuSecondsByDaemon(): { mon: number; osd: number; rgw: number };
  /** Stops the daemons by PID and removes the directory with the block files. */
  stop(): Promise<void>;
}

const tools = ['ceph', 'ceph-authtool', 'monmaptool', 'ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin'];

/** Undefined when every tool is installed, else the first one missing. */
export function cephMissingTool(): string | undefined {
  return tools.find((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
}

export const cephCredentials: Credentials = {
  accessKeyId: 'CEPHBENCHACCESSKEY01',
  secretAccessKey: 'ceph/bench/secret/key/000000000000000001',
  region: 'us-east-1',
};

function configText(dir: string, fsid: string, monPort: number, rgwPort: number, blockBytes: number): string {
  return `[global]
fsid = ${fsid}
mon host = v2:127.0.0.1:${monPort}
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
run dir = ${dir}/run
admin socket = ${dir}/run/$name.asok
log file = ${dir}/log/$name.log
keyring = ${dir}/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 1
[mon]
mon data = ${dir}/mon.$id
[osd]
osd data = ${dir}/osd.$id
keyring = ${dir}/osd.$id/keyring
osd objectstore = bluestore
bluestore block create = true
bluestore block size = ${blockBytes}
bluestore fsck on mkfs = false
osd memory target = ${1536 * 2 ** 20}
[client.rgw.bench]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw data = ${dir}/rgw
rgw gc obj min wait = ${benchGc.delaySeconds}
rgw gc processor period = ${benchGc.intervalSeconds}
`;
}

/** Where one cluster lives: its directory, its ceph.conf and the daemons started so far. */
interface Cluster {
  dir: string;
  conf: string;
  children: ChildProcess[];
}

/** Runs a Ceph tool against the cluster's ceph.conf; its output, trimmed. */
function run(cluster: Cluster, file: string, args: string[], timeoutMs = 120_000): string {
  try {
    return execFileSync(file, ['-c', cluster.conf, ...args], { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${file} ${args.join(' ')} failed: ${e.stderr?.trim().split('\n').slice(-3).join(' / ') || e.message}`);
  }
}

/** A daemon in the foreground (-f), a child of this process, its output in log/NAME.out. */
async function daemon(cluster: Cluster, name: string, file: string, args: string[]): Promise<ChildProcess> {
  const out = await open(join(cluster.dir, 'log', `${name}.out`), 'a');
  const child = spawn(file, ['-f', '-c', cluster.conf, ...args], { stdio: ['ignore', out.fd, out.fd] });
  await out.close();
  cluster.children.push(child);
  return child;
}

/** The keys (monitor, admin, gateway) and the monitor's store, then the monitor itself. */
async function startMonitor(cluster: Cluster, fsid: string, monPort: number): Promise<ChildProcess> {
  const keyring = join(cluster.dir, 'keyring');
  run(cluster, 'ceph-authtool', ['--create-keyring', keyring, '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
  run(cluster, 'ceph-authtool', [keyring, '--gen-key', '-n', 'client.admin', '--cap', 'mon', 'allow *', '--cap', 'osd', 'allow *', '--cap', 'mgr', 'allow *']);
  run(cluster, 'ceph-authtool', [keyring, '--gen-key', '-n', 'client.rgw.bench', '--cap', 'mon', 'allow rw', '--cap', 'osd', 'allow rwx']);
  const monmap = join(cluster.dir, 'monmap');
  execFileSync('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, monmap], { stdio: 'ignore' });
  run(cluster, 'ceph-mon', ['--mkfs', '-i', 'a', '--monmap', monmap, '--keyring', keyring]);
  return daemon(cluster, 'mon.a', 'ceph-mon', ['-i', 'a']);
}

/** OSD `n`: its key first (so mkfs can reach the monitor), then BlueStore made on its sparse block file. */
async function startOsd(cluster: Cluster, n: number): Promise<ChildProcess> {
  const osdKeyring = join(cluster.dir, `osd.${n}`, 'keyring');
  run(cluster, 'ceph-authtool', ['--create-keyring', osdKeyring, '--gen-key', '-n', `osd.${n}`]);
  run(cluster, 'ceph', ['--connect-timeout', '60', 'auth', 'add', `osd.${n}`, 'osd', 'allow *', 'mon', 'allow profile osd', 'mgr', 'allow profile osd', '-i', osdKeyring]);
  const osdUuid = randomUUID();
  const id = run(cluster, 'ceph', ['osd', 'new', osdUuid]);
  if (id !== String(n)) throw new Error(`Expected OSD id ${n}, the monitor gave "${id}"`);
  run(cluster, 'ceph-osd', ['-i', String(n), '--mkfs', '--osd-uuid', osdUuid]);
  return daemon(cluster, `osd.${n}`, 'ceph-osd', ['-i', String(n)]);
}

/**
 * RGW's data pool made before radosgw makes it replicated: erasure-coded k+m, one chunk per OSD (so the
 * CRUSH failure domain is the OSD, as Tessera's is the drive on one machine).
 */
function makeErasurePool(cluster: Cluster, k: number, m: number): void {
  run(cluster, 'ceph', ['osd', 'erasure-code-profile', 'set', 'bench-ec', `k=${k}`, `m=${m}`, 'crush-failure-domain=osd']);
  run(cluster, 'ceph', ['osd', 'pool', 'create', 'default.rgw.buckets.data', '8', '8', 'erasure', 'bench-ec']);
  run(cluster, 'ceph', ['osd', 'pool', 'application', 'enable', 'default.rgw.buckets.data', 'rgw']);
}

/** The S3 user (radosgw-admin creates RGW's pools, size 1 from the defaults, as it stores it), then radosgw. */
async function startGateway(cluster: Cluster, url: string): Promise<ChildProcess> {
  const { accessKeyId, secretAccessKey } = cephCredentials;
  run(cluster, 'radosgw-admin', ['-n', 'client.rgw.bench', 'user', 'create', '--uid', 'bench', '--display-name', 'bench', '--access-key', accessKeyId, '--secret', secretAccessKey]);
  const rgw = await daemon(cluster, 'rgw', 'radosgw', ['-n', 'client.rgw.bench']);
  await waitFor('radosgw to answer', 60_000, async () => (await fetch(`${url}/`).then((r) => r.status, () => 0)) === 200);
  return rgw;
}

export async function startCephRgw(options: { blockGiB?: number; under?: string; erasure?: { k: number; m: number }; log?: (line: string) => void } = {}): Promise<CephRgw> {
  const missing = cephMissingTool();
  if (missing) throw new Error(`Cannot start Ceph: "${missing}" is not installed (apt-get install radosgw ceph-mon ceph-osd)`);
  const log = options.log ?? (() => {});
  const dir = await mkdtemp(join(options.under ?? tmpdir(), 'tessera-ceph-'));
  const cluster: Cluster = { dir, conf: join(dir, 'ceph.conf'), children: [] };
  // Should this process end first, the daemons and their block files must not outlive it.
  const unhook = killOnBenchExit(cluster.children, dir);
  try {
    const osdCount = options.erasure ? options.erasure.k + options.erasure.m : 1;
    const osdIds = Array.from({ length: osdCount }, (_, n) => n);
    for (const sub of ['run', 'log', 'rgw', 'mon.a', ...osdIds.map((n) => `osd.${n}`)]) await mkdir(join(dir, sub));
    const [monPort, rgwPort] = [await freePort(), await freePort()];
    const fsid = randomUUID();
    await writeFile(cluster.conf, configText(dir, fsid, monPort, rgwPort, (options.blockGiB ?? 16) * 2 ** 30));
    const mon = await startMonitor(cluster, fsid, monPort);
    log('ceph: monitor started');
    const osds: ChildProcess[] = [];
    for (const n of osdIds) osds.push(await startOsd(cluster, n));
    await waitFor(`${osdCount} OSDs to be up`, 60_000 * osdCount, () => (JSON.parse(run(cluster, 'ceph', ['osd', 'stat', '-f', 'json'])) as { num_up_osds: number }).num_up_osds === osdCount);
    log(osdCount === 1 ? 'ceph: OSD up' : `ceph: ${osdCount} OSDs up`);
    if (options.erasure) makeErasurePool(cluster, options.erasure.k, options.erasure.m);
    const url = `http://127.0.0.1:${rgwPort}`;
    const rgw = await startGateway(cluster, url);
    log('ceph: radosgw answers');
    const metadata = JSON.parse(run(cluster, 'ceph', ['osd', 'metadata', '0', '-f', 'json'])) as { bluestore_bdev_type?: string };
    const pids = { mon: mon.pid!, osds: osds.map((o) => o.pid!), rgw: rgw.pid! };
    const cpuSecondsByDaemon = () => ({
      mon: processTreeCpuSeconds(pids.mon),
      osd: pids.osds.reduce((sum, pid) => sum + processTreeCpuSeconds(pid), 0),
      rgw: processTreeCpuSeconds(pids.rgw),
    });
    return {
      url,
      credentials: cephCredentials,
      version: execFileSync('ceph-osd', ['--version'], { encoding: 'utf8' }).trim(),
      deviceClass: metadata.bluestore_bdev_type ?? 'unknown',
      pids,
      dataPool: options.erasure ? `data pool erasure-coded ${options.erasure.k}+${options.erasure.m} over ${osdCount} OSDs, other pools of size 1` : 'pools of size 1',
      cpuSeconds: () => Object.values(cpuSecondsByDaemon()).reduce((a, b) => a + b, 0),
      cpuSecondsByDaemon,
      stop: async () => {
        await stopAll([rgw, ...osds, mon]);
        unhook();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    const logs = await readFile(join(dir, 'log', 'osd.0.out'), 'utf8').catch(() => '');
    await stopAll([...cluster.children].reverse());
    unhook();
    await rm(dir, { recursive: true, force: true });
    throw new Error(`${err instanceof Error ? err.message : String(err)}${logs ? `\nosd output: ${logs.slice(-2000)}` : ''}`);
  }
}

async function waitFor(what: string, timeoutMs: number, ready: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await Promise.resolve().then(ready).catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** SIGTERM to each daemon in turn (radosgw, OSD, monitor), SIGKILL to any still there after 20 s. */
async function stopAll(children: ChildProcess[]): Promise<void> {
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }
}
