// The layout as stored in the MetaStore: versioned JSON with the assignment as base64 target indices
// and a CRC32C over the rest, so a torn or edited record is refused rather than followed.
import { checksumOf } from '../util/checksum.js';
import { StoreError } from '../util/errors.js';
import { widthMax, type Layout, type LayoutNode, type LayoutTarget, type MemberState } from './types.js';

const format = 'tessera-layout';
const formatVersion = 1;
const states: readonly MemberState[] = ['active', 'draining', 'removed'];

interface Stored {
  format: string;
  version: number;
  epoch: number;
  partitionCount: number;
  width: number;
  nodes: LayoutNode[];
  targets: LayoutTarget[];
  /** Bytes per target index: 2 while fewer than 65,536 targets, else 4; little-endian. */
  indexBytes: 2 | 4;
  assignment: string;
}

function checksumText(body: Stored): string {
  return checksumOf('CRC32C', Buffer.from(JSON.stringify(body), 'utf8')).toString('hex');
}

export function encodeLayout(layout: Layout): Buffer {
  const indexBytes = layout.targets.length < 65_536 ? 2 : 4;
  const raw = Buffer.alloc(layout.assignment.length * indexBytes);
  layout.assignment.forEach((t, k) => (indexBytes === 2 ? raw.writeUInt16LE(t, k * 2) : raw.writeUInt32LE(t, k * 4)));
  const body: Stored = {
    format,
    version: formatVersion,
    epoch: layout.epoch,
    partitionCount: layout.partitionCount,
    width: layout.width,
    nodes: layout.nodes.map(({ id, address, zone, state }) => ({ id, address, zone, state })),
    targets: layout.targets.map(({ id, nodeId, capacity, state }) => ({ id, nodeId, capacity, state })),
    indexBytes,
    assignment: raw.toString('base64'),
  };
  return Buffer.from(JSON.stringify({ ...body, checksum: checksumText(body) }), 'utf8');
}

function corrupt(reason: string): StoreError {
  return new StoreError('ERR_LAYOUT_CORRUPT', `Cannot decode the stored layout: ${reason}`);
}

export function decodeLayout(encoded: Buffer): Layout {
  let parsed: (Stored & { checksum?: unknown }) | undefined;
  try {
    parsed = JSON.parse(encoded.toString('utf8')) as Stored & { checksum?: unknown };
  } catch (err) {
    throw new StoreError('ERR_LAYOUT_CORRUPT', 'Cannot decode the stored layout: not JSON', { cause: err });
  }
  if (typeof parsed !== 'object' || parsed === null || parsed.format !== format) throw corrupt('not a layout record');
  if (parsed.version !== formatVersion) throw corrupt(`format version "${String(parsed.version)}" is not ${formatVersion}`);
  const { checksum, ...body } = parsed;
  if (checksum !== checksumText(body)) throw corrupt('checksum mismatch');
  const { epoch, partitionCount, width, nodes, targets, indexBytes } = body;
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw corrupt(`bad epoch "${String(epoch)}"`);
  if (!Number.isInteger(partitionCount) || partitionCount < 1 || (partitionCount & (partitionCount - 1)) !== 0) throw corrupt(`bad partition count "${String(partitionCount)}"`);
  if (!Number.isInteger(width) || width < 0 || width > widthMax) throw corrupt(`bad width "${String(width)}"`);
  if (!Array.isArray(nodes) || !nodes.every(isNode)) throw corrupt('bad node list');
  if (!Array.isArray(targets) || !targets.every(isTarget)) throw corrupt('bad target list');
  const nodeIds = new Set(nodes.map((n) => n.id));
  if (!targets.every((t) => nodeIds.has(t.nodeId))) throw corrupt('a target names an unknown node');
  if (indexBytes !== 2 && indexBytes !== 4) throw corrupt(`bad index size "${String(indexBytes)}"`);
  const raw = Buffer.from(String(body.assignment), 'base64');
  if (raw.length !== partitionCount * width * indexBytes) throw corrupt(`assignment of ${raw.length} bytes, expected ${partitionCount * width * indexBytes}`);
  const assignment = new Uint32Array(partitionCount * width);
  for (let k = 0; k < assignment.length; k++) {
    const t = indexBytes === 2 ? raw.readUInt16LE(k * 2) : raw.readUInt32LE(k * 4);
    if (t >= targets.length) throw corrupt(`slot ${k} names target index ${t} of ${targets.length}`);
    assignment[k] = t;
  }
  return { epoch, partitionCount, width, nodes, targets, assignment };
}

function isNode(n: unknown): n is LayoutNode {
  const v = n as Partial<LayoutNode> | null;
  return typeof v === 'object' && v !== null && typeof v.id === 'string' && typeof v.address === 'string' && typeof v.zone === 'string' && states.includes(v.state as MemberState);
}

function isTarget(t: unknown): t is LayoutTarget {
  const v = t as Partial<LayoutTarget> | null;
  return (
    typeof v === 'object' && v !== null && typeof v.id === 'string' && typeof v.nodeId === 'string' &&
    typeof v.capacity === 'number' && Number.isFinite(v.capacity) && v.capacity >= 0 && states.includes(v.state as MemberState)
  );
}
