// What the numbers were measured on: cores, CPU model, memory, disk under the data directory, load.
// The machine is shared, so the load average before and after a run is part of every report.
import { cpus, freemem, loadavg, totalmem, tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';

export interface MachineInfo {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  disk: string;
  dataDir: string;
}

/** The block device and filesystem holding `dir`, e.g. "/dev/vda ext4 (rotational=1 per the kernel)". */
function diskOf(dir: string): string {
  const df = spawnSync('df', ['-h', '--output=source,fstype,size', dir], { encoding: 'utf8' });
  const line = df.stdout?.trim().split('\n')[1]?.trim().split(/\s+/);
  if (!line) return 'unknown';
  const [source = '?', fstype = '?', size = '?'] = line;
  const name = source.replace('/dev/', '');
  let rotational = '?';
  try {
    rotational = readFileSync(`/sys/block/${name}/queue/rotational`, 'utf8').trim();
  } catch {
    // a partition or a virtual filesystem: no queue entry to read
  }
  return `${source} ${fstype} ${size} (rotational=${rotational} per the kernel; a virtual disk may say so regardless)`;
}

export function machineInfo(dataDir = tmpdir()): MachineInfo {
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    disk: diskOf(dataDir),
    dataDir,
  };
}

export function loadText(): string {
  return loadavg().map((x) => x.toFixed(2)).join(' ');
}

export function describeMachine(info: MachineInfo): string {
  return [
    `date:    ${new Date().toISOString()}`,
    `machine: ${info.cores} cores, ${info.cpuModel}, ${info.memoryGiB} GiB RAM (${Math.round(freemem() / 2 ** 30)} GiB free), node ${info.node}`,
    `disk:    ${info.disk} under ${info.dataDir}`,
    `load:    ${loadText()} (1/5/15 min) at start`,
  ].join('\n');
}

export function median(values: number[]): number {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return NaN;
  const mid = finite.length >> 1;
  return finite.length % 2 === 1 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
}

/** A markdown table; numbers are formatted by the caller. */
export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** Three significant digits, thousands separated: 62,600 / 834 / 4.27 / 0.0312. */
export function num(value: number): string {
  if (!Number.isFinite(value)) return '–';
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toPrecision(3);
}

const ticksPerSecond = 100; // USER_HZ on Linux

/** The fields of a /proc/PID/stat text after the command name: [0] state, [1] ppid, [11] utime, [12] stime, [13] cutime, [14] cstime. */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU seconds (user + system) used so far by process `pid` and its direct children (nginx's workers). */
export function processTreeCpuSeconds(pid: number): number {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    const fields = statFields(stat);
    const parent = Number(fields[1]);
    if (Number(entry) === pid || parent === pid) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / ticksPerSecond;
}

/** CPU seconds of this process's children that have exited and been waited for (cutime + cstime): a load generator's, once it ends. */
export function exitedChildrenCpuSeconds(): number {
  const fields = statFields(readFileSync('/proc/self/stat', 'utf8'));
  return (Number(fields[13]) + Number(fields[14])) / ticksPerSecond;
}

/** The block device's counters from /proc/diskstats, so far (Documentation/admin-guide/iostats.rst). */
export interface DiskCounters {
  writes: number;
  sectorsWritten: number;
  flushes: number;
  /** Milliseconds the device had I/O in flight. */
  busyMs: number;
  atMs: number;
}

/**
 * The counters of the block device holding `path`, or undefined when it has none (tmpfs, an overlay) or
 * the kernel does not count flushes. A partition's line counts its own requests; a device-mapper volume
 * is counted as the dm device, not the disks below it.
 */
export function diskCounters(path: string): DiskCounters | undefined {
  let dev: number;
  try {
    dev = statSync(path).dev;
  } catch {
    return undefined;
  }
  // glibc's gnu_dev_major/minor of a 64-bit dev_t.
  const major = ((dev >>> 8) & 0xfff) | (Math.floor(dev / 2 ** 32) & ~0xfff);
  const minor = (dev & 0xff) | ((dev >>> 12) & ~0xff);
  let text: string;
  try {
    text = readFileSync('/proc/diskstats', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (Number(f[0]) !== major || Number(f[1]) !== minor || f.length < 20) continue;
    return { writes: Number(f[7]), sectorsWritten: Number(f[9]), flushes: Number(f[18]), busyMs: Number(f[12]), atMs: performance.now() };
  }
  return undefined;
}

/** What the device did between two readings, per operation (of `ops`), and how much of the time it was busy. */
export interface DiskPerOp {
  mib: number;
  writes: number;
  flushes: number;
  busyPercent: number;
}

export function diskPerOp(before: DiskCounters | undefined, after: DiskCounters | undefined, ops: number): DiskPerOp | undefined {
  if (!before || !after || ops === 0) return undefined;
  return {
    mib: ((after.sectorsWritten - before.sectorsWritten) * 512) / 2 ** 20 / ops,
    writes: (after.writes - before.writes) / ops,
    flushes: (after.flushes - before.flushes) / ops,
    busyPercent: ((after.busyMs - before.busyMs) * 100) / Math.max(1, after.atMs - before.atMs),
  };
}

/** The medians of several phases' figures: "1.09 MiB written, 4.4 write requests, 0.98 flushes per PUT; device busy 74 %". */
export function diskPerOpText(phases: (DiskPerOp | undefined)[], op: string): string | undefined {
  const known = phases.filter((p): p is DiskPerOp => p !== undefined);
  if (known.length === 0) return undefined;
  const m = (pick: (p: DiskPerOp) => number) => median(known.map(pick));
  return `${m((p) => p.mib).toFixed(2)} MiB written, ${m((p) => p.writes).toFixed(1)} write requests, ${m((p) => p.flushes).toFixed(2)} flushes per ${op}; device busy ${m((p) => p.busyPercent).toFixed(0)} %`;
}
