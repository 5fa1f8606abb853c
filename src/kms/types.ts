// The key service seam: what server-side encryption asks of a key service (SSE-S3 and SSE-KMS). The data
// path never sees a master key, only data keys: fresh ones with their wrapped form to store beside the
// object, and stored ones unwrapped again on read. The built-in service (local-key-service.ts) keeps its
// master keys in the MetaStore under a root key held outside it; an external KMS plugs in behind the same
// interface.

/** The master key SSE-S3 (x-amz-server-side-encryption: AES256) wraps data keys under; made on first use. */
export const sseS3KeyId = 'tessera-sse-s3';

/** AWS KMS's encryption context: string pairs bound to a wrapped key, needed again to unwrap it. */
export type EncryptionContext = Readonly<Record<string, string>>;

export interface DataKey {
  /** The 32-byte data key. Never logged, never stored: only `wrapped` is. */
  plaintext: Buffer;
  /** The data key wrapped by the master key (which version wrapped it included), base64, opaque to callers. */
  wrapped: string;
  /** The master key's full id as responses name it (its ARN for SSE-KMS). */
  keyArn: string;
}

export interface KmsKeyInfo {
  keyId: string;
  arn: string;
  enabled: boolean;
  createdMs: number;
  /** Key material versions: 1 until the key is first rotated; data keys name the version that wrapped them. */
  versions: number;
  rotatedMs?: number;
  description?: string;
}

/** AWS KMS's error names; S3 answers them as "KMS.<code>" (s3/errors.ts maps them). */
export type KmsErrorCode =
  | 'NotFoundException'
  | 'DisabledException'
  | 'InvalidCiphertextException'
  | 'AlreadyExistsException'
  | 'ValidationException'
  | 'KMSInternalException'
  /** The key service cannot do this (an external KMS manages its keys itself). */
  | 'UnsupportedOperationException';

export class KmsError extends Error {
  override name = 'KmsError';
  constructor(readonly code: KmsErrorCode, message: string) {
    super(message);
  }
}

export interface KeyService {
  /**
   * A fresh 256-bit data key and its wrapped form, under the current version of master key `keyId` (a key
   * id, its ARN or an alias the service knows), bound to `context`. KmsError NotFoundException or
   * DisabledException when the key cannot be used.
   */
  generateDataKey(keyId: string, context: EncryptionContext): Promise<DataKey>;
  /**
   * The data key `wrapped` holds. The same `context` it was wrapped with is needed; KmsError
   * InvalidCiphertextException when it does not open, DisabledException while its master key is disabled.
   */
  decryptDataKey(keyId: string, wrapped: string, context: EncryptionContext): Promise<Buffer>;
  /** The key's description, or undefined when there is no such key. */
  describeKey(keyId: string): Promise<KmsKeyInfo | undefined>;
}

/**
 * Managing master keys (the admin API, `tessera admin kms`): what the built-in service does. An external KMS
 * manages its keys itself and answers these with KmsError UnsupportedOperationException.
 */
export interface KeyManager {
  create(options: { keyId?: string; description?: string }): Promise<KmsKeyInfo>;
  /** Every master key, by key id (the SSE-S3 key among them once made). */
  list(): Promise<KmsKeyInfo[]>;
  describeKey(keyId: string): Promise<KmsKeyInfo | undefined>;
  rotate(keyId: string): Promise<KmsKeyInfo>;
  setEnabled(keyId: string, enabled: boolean): Promise<KmsKeyInfo>;
}
