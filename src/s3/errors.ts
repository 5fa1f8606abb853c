// The S3 error catalog: every S3 error code we send, with its HTTP status and AWS's message.
// S3 errors are built only here and in src/s3; toS3Error() maps the lower layers' errors onto them.
import { AssertionError } from '../util/assert.js';
import { DrivesFullError, StoreError } from '../util/errors.js';
import { ObjectError, type ObjectErrorCode } from '../objects/errors.js';
import { KmsError } from '../kms/types.js';

export const errorCatalog = {
  AccessControlListNotSupported: [400, 'The bucket does not allow ACLs'],
  AccessDenied: [403, 'Access Denied'],
  // A preflight no CORS rule allows; AWS's message, typo included.
  AccessForbidden: [403, 'CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource\'s CORS spec.'],
  AuthorizationHeaderMalformed: [400, 'The authorization header is malformed'],
  AuthorizationQueryParametersError: [400, 'Error parsing the X-Amz-Credential parameter'],
  BadRequest: [400, 'Bad Request'],
  BadDigest: [400, 'The Content-MD5 or checksum value that you specified did not match what the server received.'],
  BucketAlreadyExists: [409, 'The requested bucket name is not available.'],
  BucketAlreadyOwnedByYou: [409, 'Your previous request to create the named bucket succeeded and you already own it.'],
  BucketNotEmpty: [409, 'The bucket you tried to delete is not empty'],
  ConditionalRequestConflict: [409, 'A conflicting operation occurred. If using PutObject you can retry the request.'],
  EntityTooLarge: [400, 'Your proposed upload exceeds the maximum allowed size'],
  EntityTooSmall: [400, 'Your proposed upload is smaller than the minimum allowed size'],
  ExpiredToken: [400, 'The provided token has expired.'],
  IllegalLocationConstraintException: [400, 'The specified location-constraint is not valid'],
  IllegalVersioningConfigurationException: [400, 'The versioning configuration specified in the request is invalid.'],
  IncompleteBody: [400, 'You did not provide the number of bytes specified by the Content-Length HTTP header.'],
  IncorrectNumberOfFilesInPostRequest: [400, 'POST requires exactly one file upload per request.'],
  InternalError: [500, 'We encountered an internal error. Please try again.'],
  InvalidAccessKeyId: [403, 'The AWS Access Key Id you provided does not exist in our records.'],
  InvalidArgument: [400, 'Invalid Argument'],
  InvalidBucketName: [400, 'The specified bucket is not valid.'],
  InvalidBucketState: [409, 'The request is not valid with the current state of the bucket.'],
  InvalidBucketAclWithObjectOwnership: [400, 'Bucket cannot have ACLs set with ObjectOwnership\'s BucketOwnerEnforced setting'],
  InvalidChunkSizeError: [403, 'Only the last chunk is allowed to have a size less than 8192 bytes'],
  InvalidEncryptionAlgorithmError: [400, 'The Encryption request you specified is not valid. Supported value: AES256.'],
  InvalidDigest: [400, 'The Content-MD5 you specified is not valid.'],
  InvalidLocationConstraint: [400, 'The specified location constraint is not valid.'],
  InvalidObjectState: [403, 'The operation is not valid for the current state of the object.'],
  InvalidPolicyDocument: [400, 'The content of the form does not meet the conditions specified in the policy document.'],
  InvalidPart: [400, 'One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part\'s entity tag.'],
  InvalidPartOrder: [400, 'The list of parts was not in ascending order. Parts must be ordered by part number.'],
  InvalidPartNumber: [416, 'The requested partnumber is not satisfiable'],
  InvalidRange: [416, 'The requested range is not satisfiable'],
  InvalidRequest: [400, 'Invalid Request'],
  InvalidRetentionPeriod: [400, 'The retention period must be a positive integer'],
  InvalidURI: [400, 'Couldn\'t parse the specified URI.'],
  InvalidTag: [400, 'The TagValue you have provided is invalid'],
  InvalidStorageClass: [400, 'The storage class you specified is not valid'],
  // The key service's errors, as S3 passes them on (KmsError codes, prefixed).
  'KMS.AlreadyExistsException': [400, 'The KMS key already exists'],
  'KMS.DisabledException': [400, 'The KMS key is disabled'],
  'KMS.InvalidCiphertextException': [400, 'The data key could not be decrypted with the given KMS key and encryption context'],
  'KMS.KMSInternalException': [500, 'The key service failed'],
  'KMS.NotFoundException': [400, 'Invalid keyId'],
  'KMS.UnsupportedOperationException': [400, 'The key service does not support this operation'],
  'KMS.ValidationException': [400, 'The KMS key id is not valid'],
  KeyTooLongError: [400, 'Your key is too long'],
  MalformedACLError: [400, 'The XML you provided was not well-formed or did not validate against our published schema'],
  MalformedPolicy: [400, 'Policies must be valid JSON and the first byte must be \'{\''],
  MalformedXML: [400, 'The XML you provided was not well-formed or did not validate against our published schema'],
  MalformedPOSTRequest: [400, 'The body of your POST request is not well-formed multipart/form-data.'],
  MaxMessageLengthExceeded: [400, 'Your request was too big.'],
  MaxPostPreDataLengthExceededError: [400, 'Your POST request fields preceding the upload file were too large.'],
  MetadataTooLarge: [400, 'Your metadata headers exceed the maximum allowed metadata size.'],
  MethodNotAllowed: [405, 'The specified method is not allowed against this resource.'],
  MissingContentLength: [411, 'You must provide the Content-Length HTTP header.'],
  MissingRequestBodyError: [400, 'Request Body is empty'],
  MissingSecurityHeader: [400, 'Your request was missing a required header'],
  NoSuchBucket: [404, 'The specified bucket does not exist'],
  NoSuchBucketPolicy: [404, 'The bucket policy does not exist'],
  NoSuchCORSConfiguration: [404, 'The CORS configuration does not exist'],
  NoSuchKey: [404, 'The specified key does not exist.'],
  NoSuchLifecycleConfiguration: [404, 'The lifecycle configuration does not exist'],
  NoSuchObjectLockConfiguration: [404, 'The specified object does not have a ObjectLock configuration'],
  NoSuchPublicAccessBlockConfiguration: [404, 'The public access block configuration was not found'],
  NoSuchTagSet: [404, 'The TagSet does not exist'],
  NoSuchUpload: [404, 'The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed.'],
  NoSuchVersion: [404, 'The specified version does not exist.'],
  NotImplemented: [501, 'A header you provided implies functionality that is not implemented'],
  NotModified: [304, 'Not Modified'],
  ObjectLockConfigurationNotFoundError: [404, 'Object Lock configuration does not exist for this bucket'],
  OwnershipControlsNotFoundError: [404, 'The bucket ownership controls were not found'],
  PreconditionFailed: [412, 'At least one of the pre-conditions you specified did not hold'],
  RequestHeaderSectionTooLarge: [400, 'Your request header section exceeds the maximum allowed size.'],
  RequestTimeTooSkewed: [403, 'The difference between the request time and the server\'s time is too large.'],
  RequestTimeout: [400, 'Your socket connection to the server was not read from or written to within the timeout period.'],
  ServerSideEncryptionConfigurationNotFoundError: [404, 'The server side encryption configuration was not found'],
  ServiceUnavailable: [503, 'Please reduce your request rate.'],
  SignatureDoesNotMatch: [403, 'The request signature we calculated does not match the signature you provided. Check your key and signing method.'],
  SlowDown: [503, 'Please reduce your request rate.'],
  UnexpectedContent: [400, 'This request does not support content'],
  UnresolvableGrantByEmailAddress: [400, 'The e-mail address you provided does not match any account on record.'],
  XAmzContentSHA256Mismatch: [400, 'The provided \'x-amz-content-sha256\' header does not match what was computed.'],
} as const satisfies Record<string, readonly [number, string]>;

export type S3ErrorCode = keyof typeof errorCatalog;

export class S3Error extends Error {
  override name = 'S3Error';
  readonly code: S3ErrorCode;
  readonly httpStatus: number;
  /** Extra elements for the XML body, in order (AWS adds e.g. <Key>, <BucketName>, <ArgumentName>). */
  readonly extra: Record<string, string>;
  /** Response headers to send with the error (e.g. x-amz-delete-marker). */
  readonly headers: Record<string, string>;

  constructor(code: S3ErrorCode, message?: string, options: { extra?: Record<string, string>; headers?: Record<string, string>; cause?: unknown } = {}) {
    const [status, defaultMessage] = errorCatalog[code];
    super(message ?? defaultMessage, { cause: options.cause });
    this.code = code;
    this.httpStatus = status;
    this.extra = options.extra ?? {};
    this.headers = options.headers ?? {};
  }
}

/** Maps any error thrown below src/s3 to the S3 error a client gets. Unknown errors and bugs become InternalError. */
export function toS3Error(err: unknown): S3Error {
  if (err instanceof S3Error) return err;
  if (err instanceof ObjectError) {
    // Messages of the object layer are for logs; the client gets AWS's wording unless the layer gave one.
    const message = err.message === err.code ? undefined : err.message;
    return new S3Error(err.code, message, { extra: err.extra, headers: err.headers, cause: err });
  }
  if (err instanceof StoreError) {
    switch (err.code) {
      case 'ERR_QUORUM_UNREACHABLE':
      case 'ERR_SHARD_MISSING':
      case 'ERR_SHARD_CORRUPT':
      case 'ERR_TARGET_TIMEOUT':
        return new S3Error('ServiceUnavailable', 'Too few healthy drives to serve the request', { cause: err });
      case 'ERR_META_CONFLICT':
        return new S3Error('ConditionalRequestConflict', undefined, { cause: err });
      case 'ERR_ABORTED':
        return new S3Error('RequestTimeout', undefined, { cause: err });
      case 'ERR_CLOSED':
        return new S3Error('ServiceUnavailable', 'The server is shutting down', { cause: err });
      case 'ERR_DRIVES_FULL':
        return new S3Error('ServiceUnavailable', drivesFullMessage(err), { cause: err });
      case 'ERR_NO_LAYOUT':
        return new S3Error('ServiceUnavailable', 'Cannot store data yet: the cluster has no layout (assign nodes with "tessera admin layout assign", then apply)', { cause: err });
      case 'ERR_META_FULL':
        return new S3Error('ServiceUnavailable', 'Cannot write: the metadata disk is full', { cause: err });
      case 'ERR_META_IO':
        return new S3Error('ServiceUnavailable', 'Cannot write: the metadata store failed to commit', { cause: err });
      case 'ERR_META_UNAVAILABLE':
        return new S3Error('ServiceUnavailable', 'The metadata store is unavailable', { cause: err });
    }
  }
  // The key service's message names the key and what failed, never key material.
  if (err instanceof KmsError) return new S3Error(`KMS.${err.code}`, err.message, { cause: err });
  if (err instanceof AssertionError) return new S3Error('InternalError', undefined, { cause: err });
  return new S3Error('InternalError', undefined, { cause: err });
}

/** `Cannot write: drives "a" (99% used), "b" (100% used) are full`: ids, never paths, go to clients. */
function drivesFullMessage(err: StoreError): string {
  if (!(err instanceof DrivesFullError) || err.drives.length === 0) return 'Cannot write: drives are full';
  const names = err.drives.map((d) => `"${d.id}"${d.usedPercent === undefined ? '' : ` (${d.usedPercent}% used)`}`);
  return `Cannot write: ${names.length === 1 ? `drive ${names[0]} is` : `drives ${names.join(', ')} are`} full`;
}

// Every object-layer error code must name an S3 error.
const objectCodesAreS3Codes: ObjectErrorCode extends S3ErrorCode ? true : never = true;
void objectCodesAreS3Codes;
