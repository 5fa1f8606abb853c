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
