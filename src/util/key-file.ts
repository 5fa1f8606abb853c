// Server keys kept in files of their own (the IAM key, the KMS root key): 32 random bytes as 64 hex digits
// and a newline, mode 0600, made on first start when missing.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';

export interface KeyFileOptions {
  /** Make a fresh random key when the file does not exist. */
  create: boolean;
  /** What the key is, for messages: "IAM key", "KMS root key". */
  name: string;
  bytes: number;
}

/**
 * The key in `path`; when `create` and the file does not exist, a fresh random one written there (mode
 * 0600, never overwriting: two processes starting at once keep the first).
 */
export async function loadKeyFile(path: string, options: KeyFileOptions): Promise<Buffer> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !options.create) {
      throw new Error(`Cannot read ${options.name} file "${path}": ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    const created = randomBytes(options.bytes);
    try {
      await writeFile(path, `${created.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
      return created;
    } catch (writeErr) {
      if ((writeErr as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`Cannot create ${options.name} file "${path}": ${(writeErr as NodeJS.ErrnoException).code ?? String(writeErr)}`);
      text = await readFile(path, 'utf8');
    }
  }
  return parseKey(`${options.name} file "${path}"`, text, options.bytes);
}

/** A key given as hex text (a file's content, an environment variable); `source` names it in messages. */
export function parseKey(source: string, text: string, bytes: number): Buffer {
  const hex = text.trim();
  if (hex.length !== bytes * 2 || !/^[0-9a-fA-F]*$/.test(hex)) throw new Error(`Cannot use ${source}: expected ${bytes} bytes as ${bytes * 2} hex digits`);
  return Buffer.from(hex, 'hex');
}
