// The store's storage classes: which redundancy each S3 storage class gets. Configured once for the store
// (--storage-classes) over defaults that fit one node and a cluster, and resolved against the failure
// domains there are now: a default too wide for them degrades to the store default, and says so.
import type { Redundancy } from '../blocks/types.js';
import { shardCountOf } from '../blocks/redundancy.js';

/**
 * The defaults. STANDARD is the drive-count default (RS 4+2 from 6 failure domains). REDUCED_REDUNDANCY
 * keeps 2 copies (one loss); EXPRESS_ONEZONE, the hot class for fast small reads, 3 copies (any copy
 * serves a read whole, no decoding); STANDARD_IA and GLACIER_IR, the cold classes, RS 8+3 (1.375× space,
 * three losses) where 11 failure domains exist. Other AWS class names get STANDARD's redundancy.
 */
export const defaultStorageClasses: Readonly<Record<string, Redundancy>> = {
  REDUCED_REDUNDANCY: { kind: 'replicate', copies: 2 },
  EXPRESS_ONEZONE: { kind: 'replicate', copies: 3 },
  STANDARD_IA: { kind: 'rs', data: 8, parity: 3 },
  GLACIER_IR: { kind: 'rs', data: 8, parity: 3 },
};

export interface ResolvedClass {
  name: string;
  /** Undefined: the store's default redundancy (what STANDARD gets). */
  redundancy: Redundancy | undefined;
  /** Why the class gets less than it asks for, when it does. */
  note?: string;
}

function describe(r: Redundancy): string {
  return r.kind === 'rs' ? `rs:${r.data}+${r.parity}` : `rep:${r.copies}`;
}

/**
 * A class's redundancy over `domains` failure domains. One too wide for the domains there are (a cold
 * class on one node, or a cluster that lost nodes from its layout) degrades rather than failing writes:
 * copies to one per domain, a code to the store default; status shows the note, so an operator sees it.
 */
export function resolveStorageClass(name: string, configured: Readonly<Record<string, Redundancy>>, domains: number): ResolvedClass {
  const wanted = configured[name] ?? defaultStorageClasses[name];
  if (!wanted) return { name, redundancy: undefined };
  const needed = shardCountOf(wanted);
  if (needed <= domains || domains === 0) return { name, redundancy: wanted };
  const asked = `${configured[name] ? '' : 'default '}${describe(wanted)} needs ${needed} failure domains and ${domains} exist`;
  if (wanted.kind === 'replicate') return { name, redundancy: { kind: 'replicate', copies: domains }, note: `${asked}: ${domains} ${domains === 1 ? 'copy' : 'copies'}` };
  return { name, redundancy: undefined, note: `${asked}: stored as STANDARD` };
}

/** Every class worth showing: STANDARD, the defaults and the configured ones. */
export function storageClassTable(configured: Readonly<Record<string, Redundancy>>, domains: number, standard: Redundancy): { name: string; redundancy: Redundancy; note?: string }[] {
  const names = [...new Set(['STANDARD', ...Object.keys(defaultStorageClasses), ...Object.keys(configured)])];
  return names.map((name) => {
    const r = resolveStorageClass(name, configured, domains);
    return { name, redundancy: r.redundancy ?? standard, ...(r.note ? { note: r.note } : {}) };
  });
}
