// The set of drives a store was given: which drive id sits in which slot, across restarts, wipes and
// swaps. Membership is written into every drive's drive.json (like MinIO's format.json), so no
// separate file can disagree with the drives themselves.
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import type { DriveIoOptions } from './drive-io.js';
import { LocalDrive, localNode, readDriveIdentity, type DriveIdentity } from './drive.js';
import { newDriveId } from './ids.js';
import type { ShardStore, ShardTargets, TargetSlot } from './shard-store.js';

/** One configured drive position; `drive` is undefined while the drive cannot be opened. */
export interface DriveSlot {
  id: string;
  path: string;
  drive: LocalDrive | undefined;
}

/** The local drives as the block store's targets: the first ShardTargets. */
export class LocalDriveSet implements ShardTargets {
  readonly slots: readonly TargetSlot[];

  constructor(
    readonly setId: string,
    /** Generation of the membership record in drive.json; placement uses the stored layout's epochs instead. */
    readonly epoch: number,
    private readonly drives: DriveSlot[],
    /** What opening changed, for the log: new, re-formatted (wiped) or unreadable drives. */
    readonly notes: string[],
    private readonly io?: DriveIoOptions,
  ) {
    this.slots = drives.map((d) => ({ id: d.id, name: { node: localNode, drive: d.id }, where: d.path }));
  }

  async closeTargets(): Promise<void> {
    await Promise.all(this.drives.map((d) => d.drive?.close()));
  }

  storeOf(id: string): ShardStore | undefined {
    return this.drives.find((d) => d.id === id)?.drive;
  }

  /**
   * Gives slots whose drive came back empty (directory recreated, no drive.json) their identity again.
   * Explicit rather than automatic: an empty directory may also be an unmounted mount point, and only an
   * operator's heal should start filling it.
   */
  async revive(): Promise<string[]> {
    const revived: string[] = [];
    for (const slot of this.drives) {
      if (!slot.path) continue;
      // A suspect drive hangs rather than came back empty; the probe is bounded, as every drive call is.
      if (slot.drive && (slot.drive.suspect || (await slot.drive.probe().catch(() => undefined))?.state !== 'missing')) continue;
      const identity = await readIdentityQuietly(slot.path);
      if (identity !== undefined) continue; // unreadable, or a drive with an identity: leave it alone
      const drive = await LocalDrive.open(slot.path, { create: true, driveId: slot.id, ...(this.io ? { io: this.io } : {}) });
      const set = this.drives.find((s) => s.drive?.identity.set)?.drive?.identity.set;
      if (set) await drive.updateIdentity({ ...drive.identity, set });
      void slot.drive?.close(); // the old instance's pack index belonged to the directory that went away
      slot.drive = drive;
      revived.push(slot.id);
    }
    return revived;
  }
}

type Probe = { path: string; identity?: DriveIdentity; unreadable?: unknown };

/**
 * Opens every path. The slots are `knownDrives` (the drives the stored layout gives this node), or
 * without it the membership recorded in the drives' drive.json (by older releases too). Drives with an
 * identity take their slot. A readable path without one (a new or wiped drive) takes a free slot and gets
 * that slot's id back, so heal can refill it; paths beyond the slots join as new drives (the caller lays
 * them out in a new layout epoch). Unreadable paths leave their slot missing.
 */
export async function openDriveSet(paths: string[], io?: DriveIoOptions, knownDrives?: readonly string[]): Promise<LocalDriveSet> {
  const resolved = paths.map((p) => resolve(p));
  if (new Set(resolved).size !== resolved.length) throw new RangeError(`Cannot open drives "${paths.join(',')}": a path repeats`);
  const probes: Probe[] = await Promise.all(
    resolved.map(async (path) => {
      try {
        return { path, identity: await readDriveIdentity(path) };
      } catch (unreadable) {
        return { path, unreadable };
      }
    }),
  );
  const reference = newestSet(probes);
  const setId = reference?.setId ?? randomBytes(8).toString('hex');
  // The stored layout names this node's drives; drive.json's membership is only read before there is one.
  const slotIds = knownDrives ? [...knownDrives] : reference ? [...reference.drives] : [];
  for (const probe of probes) {
    const id = probe.identity?.driveId;
    if (id !== undefined && !slotIds.includes(id)) {
      if (probe.identity?.set && probe.identity.set.setId !== setId) {
        throw new RangeError(`Cannot use drive "${probe.path}": it belongs to drive set "${probe.identity.set.setId}", not "${setId}"`);
      }
      slotIds.push(id); // a drive formatted before sets existed, or by a single-drive server
    }
  }
  const notes: string[] = [];
  const assigned = assignPaths(probes, slotIds, notes);
  const epoch = (reference?.epoch ?? 0) + (slotIds.length !== reference?.drives.length ? 1 : 0);
  const slots = await Promise.all(slotIds.map((id) => openSlot(id, assigned.get(id), notes, io)));
  const set = { setId, epoch, drives: slotIds };
  await Promise.all(slots.map((slot) => recordSet(slot, set)));
  return new LocalDriveSet(setId, epoch, slots, notes, io);
}

function newestSet(probes: Probe[]): DriveIdentity['set'] | undefined {
  let newest: DriveIdentity['set'] | undefined;
  for (const probe of probes) {
    const set = probe.identity?.set;
    if (set && (!newest || set.epoch > newest.epoch)) newest = set;
  }
  return newest;
}

/** Maps slot id → probe. Free slots go to identity-less paths, position-first; extra paths become new slots. */
function assignPaths(probes: Probe[], slotIds: string[], notes: string[]): Map<string, Probe> {
  const assigned = new Map<string, Probe>();
  for (const probe of probes) if (probe.identity) assigned.set(probe.identity.driveId, probe);
  const blank = probes.filter((p) => !p.identity);
  for (const probe of blank) {
    const position = probes.indexOf(probe);
    const preferred = slotIds[position];
    const free = preferred !== undefined && !assigned.has(preferred) ? preferred : slotIds.find((id) => !assigned.has(id));
    if (free !== undefined) {
      assigned.set(free, probe);
    } else if (!probe.unreadable) {
      const id = newDriveId();
      slotIds.push(id);
      assigned.set(id, probe);
      notes.push(`Drive "${probe.path}" joins as new drive "${id}"`);
    }
  }
  return assigned;
}

async function openSlot(id: string, probe: Probe | undefined, notes: string[], io: DriveIoOptions | undefined): Promise<DriveSlot> {
  if (!probe) {
    notes.push(`Drive "${id}" is missing: no path given for it`);
    return { id, path: '', drive: undefined };
  }
  if (probe.unreadable) {
    notes.push(`Drive "${id}" at "${probe.path}" is missing: ${String(probe.unreadable)}`);
    return { id, path: probe.path, drive: undefined };
  }
  try {
    const drive = await LocalDrive.open(probe.path, { create: true, driveId: id, ...(io ? { io } : {}) });
    if (!probe.identity) notes.push(`Drive "${id}" at "${probe.path}" had no identity: formatted, heal will refill it`);
    return { id, path: probe.path, drive };
  } catch (err) {
    notes.push(`Drive "${id}" at "${probe.path}" is missing: ${String(err)}`);
    return { id, path: probe.path, drive: undefined };
  }
}

async function recordSet(slot: DriveSlot, set: NonNullable<DriveIdentity['set']>): Promise<void> {
  const drive = slot.drive;
  if (!drive) return;
  const current = drive.identity.set;
  if (current && current.setId === set.setId && current.epoch === set.epoch && current.drives.join() === set.drives.join()) return;
  await drive.updateIdentity({ ...drive.identity, set });
}

/** undefined: the directory is readable and has no identity (empty); null: it has one, or cannot be read. */
async function readIdentityQuietly(path: string): Promise<undefined | null> {
  try {
    return (await readDriveIdentity(path)) === undefined ? undefined : null;
  } catch {
    return null;
  }
}
