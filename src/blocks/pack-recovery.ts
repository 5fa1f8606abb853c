// Finding again the records of an open pack whose index rows were lost (issue 17).
//
// Most groups (pack-store.ts) acknowledge their records once the pack is fdatasynced and the rows are
// committed, without fdatasyncing the index's WAL: they do so only when every record reserved below theirs
// in the pack had been written before that fdatasync began. So after a power cut, which may lose the WAL's
// last transactions, the records between a pack's indexed_to (below which every committed record has its
// row) and the last acknowledged one form an unbroken run of whole records, one after the other at aligned
// offsets. A walk from indexed_to, record by record, each header giving the next record's place, finds them
// all. It stops at the first place that is not a whole record with every checksum right: a record being
// written when the power went, or space never written. It never steps into a record's bytes looking for a
// header, so a shard's data, which a client chose, is never taken for a record.
import type { FileHandle } from 'node:fs/promises';
import type { DriveIo } from './drive-io.js';
import { packRecordAlignBytes, packShardBytesMax } from './limits.js';
import type { PackRow } from './pack-index.js';
import { firstBadBlock } from './shard-file.js';
import { decodeShardHeader, shardFileBytes, shardHeaderBytes, type ShardHeader } from './shard-format.js';

export interface FoundRecords {
  /** A row for each whole, verified record from `from` on, in offset order. */
  rows: PackRow[];
  /** Where the walk stopped: the end of the last record found (`from` if none). */
  to: number;
}

/** Walks `pack`'s records from `from` (a record boundary) to the first that is not whole and verified, or to `size`. */
export async function findRecords(io: DriveIo, handle: FileHandle, pack: number, from: number, size: number, writtenMs: number): Promise<FoundRecords> {
  const rows: PackRow[] = [];
  let offset = from;
  const read = async (bytes: number, position: number): Promise<Buffer> => {
    const buffer = Buffer.allocUnsafe(bytes);
    const { bytesRead } = await io.run(() => handle.read(buffer, 0, bytes, position));
    return buffer.subarray(0, bytesRead);
  };
  while (offset + shardHeaderBytes <= size) {
    const header = headerAt(await read(shardHeaderBytes, offset));
    if (!header) break;
    const bytes = shardFileBytes(header.shardBytes, header.blockBytes);
    if (offset + bytes > size) break;
    const record = await read(bytes, offset);
    if (record.length !== bytes || firstBadBlock(record.subarray(shardHeaderBytes), 0, header) !== undefined) break;
    rows.push({ blockId: header.blockId, shardIndex: header.shardIndex, pack, offset, bytes, writtenMs });
    offset = Math.ceil((offset + bytes) / packRecordAlignBytes) * packRecordAlignBytes;
  }
  return { rows, to: rows.length > 0 ? offset : from };
}

/** The header at the start of `bytes`, or undefined when it is not one a pack record could have. */
function headerAt(bytes: Buffer): ShardHeader | undefined {
  let header: ShardHeader;
  try {
    header = decodeShardHeader(bytes, 'pack record');
  } catch {
    return undefined;
  }
  return header.shardBytes <= packShardBytesMax ? header : undefined;
}
