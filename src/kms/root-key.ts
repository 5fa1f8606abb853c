// Where the KMS root key comes from: the TESSERA_KMS_ROOT_KEY environment variable (64 hex digits), else a
// file (--kms-root-key-file, default kms.key in the data directory, made on first start when missing).
import { join } from 'node:path';
import { loadKeyFile, parseKey } from '../util/key-file.js';
import { kmsRootKeyBytes } from './local-key-service.js';

export const kmsRootKeyEnv = 'TESSERA_KMS_ROOT_KEY';

export async function loadKmsRootKey(options: { dataDir: string; file?: string; env?: NodeJS.ProcessEnv }): Promise<Buffer> {
  const fromEnv = (options.env ?? process.env)[kmsRootKeyEnv];
  if (fromEnv !== undefined && fromEnv !== '') return parseKey(`the ${kmsRootKeyEnv} environment variable`, fromEnv, kmsRootKeyBytes);
  return loadKeyFile(options.file ?? join(options.dataDir, 'kms.key'), { create: true, name: 'KMS root key', bytes: kmsRootKeyBytes });
}
