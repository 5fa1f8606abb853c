// The KMS root keys: where they come from (TESSERA_KMS_ROOT_KEY, 64 hex digits, else a file: --kms-root-key-file,
// default kms.key in the data directory, made on first start when missing), and the keyring that seals master
// key material under the current one and opens it under the current or a previous one, so a root key can be
// replaced while the master keys are re-sealed (LocalKeyService.rewrap).
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { loadKeyFile, parseKey } from '../util/key-file.js';
import { openBytes, sealBytes, type Sealed } from '../util/sealed.js';
import { KmsError } from './types.js';

export const kmsRootKeyBytes = 32;
export const kmsRootKeyEnv = 'TESSERA_KMS_ROOT_KEY';
/** Previous root keys, comma-separated hex: still opened, never sealed under, until a rewrap is done. */
export const kmsPreviousRootKeysEnv = 'TESSERA_KMS_PREVIOUS_ROOT_KEYS';
/** Root keys a keyring holds: the current one and a few being retired. */
export const kmsRootKeysMax = 8;

/** Key material sealed under a root key (base64 fields, so the record stays JSON). */
export interface SealedMaterial extends Sealed {
  /** The root key's id (rootKeyIdOf); absent in material sealed before root keys had ids. */
  root?: string;
}

/** A root key's name in records and answers: a digest of it, which reveals nothing of the key. */
export function rootKeyIdOf(key: Buffer): string {
  return createHash('sha256').update('tessera-kms-root-key-id\0').update(key).digest('hex').slice(0, 16);
}

export class RootKeyring {
  readonly currentId: string;
  private readonly byId = new Map<string, Buffer>();

  constructor(private readonly current: Buffer, previous: readonly Buffer[] = []) {
    if (current.length !== kmsRootKeyBytes || previous.some((k) => k.length !== kmsRootKeyBytes)) throw new RangeError(`Cannot use a KMS root key that is not ${kmsRootKeyBytes} bytes`);
    if (previous.length + 1 > kmsRootKeysMax) throw new RangeError(`Cannot hold ${previous.length + 1} KMS root keys: at most ${kmsRootKeysMax}`);
    this.currentId = rootKeyIdOf(current);
    for (const key of [current, ...previous]) this.byId.set(rootKeyIdOf(key), key);
  }

  /** Whether `sealed` is sealed under the current root key (a rewrap leaves it alone). */
  isCurrent(sealed: SealedMaterial): boolean {
    return sealed.root === this.currentId;
  }

  /** Whether some root key of this keyring may open `sealed`. */
  canOpen(sealed: SealedMaterial): boolean {
    return sealed.root === undefined || this.byId.has(sealed.root);
  }

  /** `material` sealed under the current root key, bound to `aad` (the key id and version it is). */
  seal(aad: Buffer, material: Buffer): SealedMaterial {
    return { ...sealBytes(this.current, aad, material), root: this.currentId };
  }

  /** The material `sealed` holds; `what` names it in the refusal when no root key here opens it. */
  open(aad: Buffer, sealed: SealedMaterial, what: string): Buffer {
    // Material without a root id predates ids: any of the keys may be its.
    const candidates = sealed.root === undefined ? [...this.byId.values()] : [this.byId.get(sealed.root)].filter((k) => k !== undefined);
    for (const key of candidates) {
      try {
        return openBytes(key, aad, sealed);
      } catch {
        // not this key: try the next
      }
    }
    const under = sealed.root === undefined ? 'a root key' : `root key ${sealed.root}`;
    throw new KmsError('KMSInternalException', `Cannot open ${what}: it is sealed under ${under}, which is not the KMS root key or a previous root key given to this process`);
  }
}

export interface RootKeySources {
  dataDir: string;
  /** The current root key's file; unset: kms.key in the data directory. */
  file?: string;
  /** Files of previous root keys, kept while a rewrap moves the master keys to the current one. */
  previousFiles?: readonly string[];
  env?: NodeJS.ProcessEnv;
}

/** The current root key (environment, else its file, made when missing) and the previous ones given. */
export async function loadKmsRootKeyring(sources: RootKeySources): Promise<RootKeyring> {
  const env = sources.env ?? process.env;
  const fromEnv = env[kmsRootKeyEnv];
  const current = fromEnv !== undefined && fromEnv !== ''
    ? parseKey(`the ${kmsRootKeyEnv} environment variable`, fromEnv, kmsRootKeyBytes)
    : await loadKeyFile(sources.file ?? join(sources.dataDir, 'kms.key'), { create: true, name: 'KMS root key', bytes: kmsRootKeyBytes });
  const previous: Buffer[] = [];
  for (const file of sources.previousFiles ?? []) previous.push(await loadKeyFile(file, { create: false, name: 'previous KMS root key', bytes: kmsRootKeyBytes }));
  const previousHex = env[kmsPreviousRootKeysEnv] ?? '';
  for (const hex of previousHex.split(',').filter((h) => h.trim() !== '')) previous.push(parseKey(`a key of the ${kmsPreviousRootKeysEnv} environment variable`, hex, kmsRootKeyBytes));
  return new RootKeyring(current, previous);
}

