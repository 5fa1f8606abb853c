// A throwaway single-host Ceph as an S3 peer for benchmarks (issue 17): one monitor, one BlueStore OSD on
// a sparse file in a temporary directory, pools of size 1 and radosgw (beast) on 127.0.0.1, with cephx
// and an S3 user whose keys it returns. No manager daemon: RGW, pool creation and the OSD need none.
// Needs Debian's ceph-mon, ceph-osd and radosgw (apt-get install radosgw ceph-mon ceph-osd); benchmarks only.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processTreeCpuSeconds } from './machine.js';
import { freePort } from './nginx.js';
import type { Credentials } from './presign.js';

export interface CephRgw {
  url: string;
  credentials: Credentials;
  /** e.g. "ceph version 16.2.15 (...) pacific (stable)". */
  version: string;
  /** What BlueStore made of the block file's device ("hdd" or "ssd"), which picks its defaults. */
  deviceClass: string;
  pids: { mon: number; osd: number; rgw: number };
  /** CPU seconds (every thread, user + kernel) of radosgw, the OSD and the monitor so far. */
  cpuSeconds(): number;
  /** The same, per daemon. */
  cpuSecondsByDaemon(): { mon: number; osd: number; rgw: number };
  /** Stops the daemons by PID and removes the directory with the block file. */
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
`;
}

export async function startCephRgw(options: { blockGiB?: number; under?: string; log?: (line: string) => void } = {}): Promise<CephRgw> {
  const missing = cephMissingTool();
  if (missing) throw new Error(`Cannot start Ceph: "${missing}" is not installed (apt-get install radosgw ceph-mon ceph-osd)`);
  const log = options.log ?? (() => {});
  const dir = await mkdtemp(join(options.under ?? tmpdir(), 'tessera-ceph-'));
  const conf = join(dir, 'ceph.conf');
  const children: ChildProcess[] = [];
  // Should this process die first, the daemons and their block file must not outlive it.
  const killAll = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', killAll);
  const run = (file: string, args: string[], timeoutMs = 120_000) => {
    try {
      return execFileSync(file, ['-c', conf, ...args], { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`${file} ${args.join(' ')} failed: ${e.stderr?.trim().split('\n').slice(-3).join(' / ') || e.message}`);
    }
  };
  const daemon = async (name: string, file: string, args: string[]) => {
    const out = await open(join(dir, 'log', `${name}.out`), 'a');
    const child = spawn(file, ['-f', '-c', conf, ...args], { stdio: ['ignore', out.fd, out.fd] });
    await out.close();
    children.push(child);
    return child;
  };
  try {
    for (const sub of ['run', 'log', 'rgw', 'mon.a', 'osd.0']) await mkdir(join(dir, sub));
    const [monPort, rgwPort] = [await freePort(), await freePort()];
    const fsid = randomUUID();
    await writeFile(conf, configText(dir, fsid, monPort, rgwPort, (options.blockGiB ?? 16) * 2 ** 30));
    const keyring = join(dir, 'keyring');
    run('ceph-authtool', ['--create-keyring', keyring, '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
    run('ceph-authtool', [keyring, '--gen-key', '-n', 'client.admin', '--cap', 'mon', 'allow *', '--cap', 'osd', 'allow *', '--cap', 'mgr', 'allow *']);
    run('ceph-authtool', [keyring, '--gen-key', '-n', 'client.rgw.bench', '--cap', 'mon', 'allow rw', '--cap', 'osd', 'allow rwx']);
    execFileSync('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, join(dir, 'monmap')], { stdio: 'ignore' });
    run('ceph-mon', ['--mkfs', '-i', 'a', '--monmap', join(dir, 'monmap'), '--keyring', keyring]);
    const mon = await daemon('mon.a', 'ceph-mon', ['-i', 'a']);
    log('ceph: monitor started');
    // The OSD: its key first (so mkfs can reach the monitor), then BlueStore made on the sparse block file.
    const osdKeyring = join(dir, 'osd.0', 'keyring');
    run('ceph-authtool', ['--create-keyring', osdKeyring, '--gen-key', '-n', 'osd.0']);
    run('ceph', ['--connect-timeout', '60', 'auth', 'add', 'osd.0', 'osd', 'allow *', 'mon', 'allow profile osd', 'mgr', 'allow profile osd', '-i', osdKeyring]);
    const osdUuid = randomUUID();
    const id = run('ceph', ['osd', 'new', osdUuid]);
    if (id !== '0') throw new Error(`Expected OSD id 0, the monitor gave "${id}"`);
    run('ceph-osd', ['-i', '0', '--mkfs', '--osd-uuid', osdUuid]);
    const osd = await daemon('osd.0', 'ceph-osd', ['-i', '0']);
    await waitFor('the OSD to be up', 60_000, () => (JSON.parse(run('ceph', ['osd', 'stat', '-f', 'json'])) as { num_up_osds: number }).num_up_osds === 1);
    log('ceph: OSD up');
    // radosgw-admin creates the RGW pools (size 1, from the defaults above) as it stores the user.
    run('radosgw-admin', ['-n', 'client.rgw.bench', 'user', 'create', '--uid', 'bench', '--display-name', 'bench', '--access-key', cephCredentials.accessKeyId, '--secret', cephCredentials.secretAccessKey]);
    const rgw = await daemon('rgw', 'radosgw', ['-n', 'client.rgw.bench']);
    const url = `http://127.0.0.1:${rgwPort}`;
    await waitFor('radosgw to answer', 60_000, async () => (await fetch(`${url}/`).then((r) => r.status, () => 0)) === 200);
    log('ceph: radosgw answers');
    const metadata = JSON.parse(run('ceph', ['osd', 'metadata', '0', '-f', 'json'])) as { bluestore_bdev_type?: string };
    const pids = { mon: mon.pid!, osd: osd.pid!, rgw: rgw.pid! };
    return {
      url,
      credentials: cephCredentials,
      version: execFileSync('ceph-osd', ['--version'], { encoding: 'utf8' }).trim(),
      deviceClass: metadata.bluestore_bdev_type ?? 'unknown',
      pids,
      cpuSeconds: () => processTreeCpuSeconds(pids.mon) + processTreeCpuSeconds(pids.osd) + processTreeCpuSeconds(pids.rgw),
      cpuSecondsByDaemon: () => ({ mon: processTreeCpuSeconds(pids.mon), osd: processTreeCpuSeconds(pids.osd), rgw: processTreeCpuSeconds(pids.rgw) }),
      stop: async () => {
        await stopAll([rgw, osd, mon]);
        process.removeListener('exit', killAll);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    const logs = await readFile(join(dir, 'log', 'osd.0.out'), 'utf8').catch(() => '');
    await stopAll(children.reverse());
    process.removeListener('exit', killAll);
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
