// Errors of S3 semantics (no such key, failed precondition, bad part list ...), raised by the object layer
// without knowing HTTP. src/s3 turns each into the S3 error of the same name.

export type ObjectErrorCode =
  | 'AccessDenied'
  | 'BucketAlreadyExists'
  | 'BucketAlreadyOwnedByYou'
  | 'BucketNotEmpty'
  | 'ConditionalRequestConflict'
  | 'EntityTooLarge'
  | 'EntityTooSmall'
  | 'IncompleteBody'
  | 'BadDigest'
  | 'InvalidArgument'
  | 'InvalidBucketState'
  | 'InvalidPart'
  | 'InvalidPartOrder'
  | 'InvalidRange'
  | 'InvalidRequest'
  | 'MethodNotAllowed'
  | 'NoSuchBucket'
  | 'NoSuchKey'
  | 'NoSuchObjectLockConfiguration'
  | 'NoSuchUpload'
  | 'NoSuchVersion'
  | 'NotModified'
  | 'ObjectLockConfigurationNotFoundError'
  | 'PreconditionFailed';

export class ObjectError extends Error {
  override name = 'ObjectError';
  readonly code: ObjectErrorCode;
  /** Extra fields AWS puts in the error body (Key, BucketName, ArgumentName ...). */
  readonly extra: Record<string, string>;
  /** Response headers AWS sends with this error (x-amz-delete-marker, x-amz-version-id, Last-Modified ...). */
  readonly headers: Record<string, string>;

  constructor(code: ObjectErrorCode, message?: string, options: { extra?: Record<string, string>; headers?: Record<string, string> } = {}) {
    super(message ?? code);
    this.code = code;
    this.extra = options.extra ?? {};
    this.headers = options.headers ?? {};
  }
}
