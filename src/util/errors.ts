// Operating errors of the storage layers, each with a stable code. src/s3 maps them to S3 errors;
// nothing below src/s3 builds an S3 error.

export type StoreErrorCode =
  | 'ERR_QUORUM_UNREACHABLE' // too few healthy targets to write or read
  | 'ERR_SHARD_CORRUPT' // a shard block failed its checksum
  | 'ERR_SHARD_MISSING'
  | 'ERR_TARGET_TIMEOUT' // a drive (or node) did not answer within its timeout
  | 'ERR_META_CONFLICT' // a conditional transaction lost a race
  | 'ERR_ABORTED' // the request was cancelled (client went away)
  | 'ERR_META_LOCKED' // another process has the metadata store open for writing
  | 'ERR_LAYOUT_CORRUPT' // a stored cluster layout failed its checksum or checks
  | 'ERR_META_FULL' // the metadata's disk is out of space (SQLITE_FULL)
  | 'ERR_META_IO' // a metadata commit failed for another reason (I/O error, corruption)
  | 'ERR_META_UNAVAILABLE' // the metadata database cannot be reached or did not answer in time
  | 'ERR_META_SCHEMA' // the metadata database's schema is newer than this program (or unusable)
  | 'ERR_DRIVES_FULL' // a write lost its quorum because drives are out of space
  | 'ERR_NO_LAYOUT' // a cluster gateway has no layout epoch yet: no node to write to
  | 'ERR_LAYOUT_UNSAFE' // a layout change would leave too few targets or nodes for the redundancy in use
  | 'ERR_CLOSED';

export class StoreError extends Error {
  override name = 'StoreError';
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isStoreError(err: unknown, code?: StoreErrorCode): err is StoreError {
  return err instanceof StoreError && (code === undefined || err.code === code);
}

/** A full drive, as the write that met it saw it: for the log (path) and the client (id, how full). */
export interface FullDrive {
  id: string;
  path: string;
  /** Percent of the file system in use, when it could be read. */
  usedPercent?: number;
}

/** ERR_DRIVES_FULL with the drives that were out of space. */
export class DrivesFullError extends StoreError {
  override name = 'DrivesFullError';
  readonly drives: readonly FullDrive[];
  constructor(drives: readonly FullDrive[], message: string, options?: { cause?: unknown }) {
    super('ERR_DRIVES_FULL', message, options);
    this.drives = drives;
  }
}

/** Whether an error, or one in its cause chain, is the file system's "no space left" (ENOSPC, EDQUOT). */
export function isNoSpace(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') return true;
  }
  return false;
}
