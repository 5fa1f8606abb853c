// The admin API and `tessera admin` of a test server, signed by its root key: what the admin tests of
// IAM and KMS both drive.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { repoRoot, type TesseraProcess } from './tessera.js';
import { raw, type RawResponse } from '../s3/raw-http.js';

const exec = promisify(execFile);

export interface AdminAccess {
  /** One admin API call under /_tessera/admin/, its body as JSON. */
  admin(method: string, path: string, body?: unknown): Promise<RawResponse>;
  /** `tessera admin ARGS --endpoint URL` as the root key; its stdout. */
  cli(...args: string[]): Promise<string>;
  /** The same, expected to fail; its stderr. */
  cliFails(...args: string[]): Promise<string>;
}

export function adminAccess(server: TesseraProcess): AdminAccess {
  const cli = async (...args: string[]): Promise<string> => {
    const { stdout } = await exec(process.execPath, [join(repoRoot, 'bin', 'tessera.js'), 'admin', ...args, '--endpoint', server.url], {
      env: { ...process.env, TESSERA_ROOT_ACCESS_KEY: server.accessKeyId, TESSERA_ROOT_SECRET_KEY: server.secretAccessKey },
    });
    return stdout;
  };
  return {
    admin: (method, path, body) => raw(server, { method, path: `/_tessera/admin/${path}`, ...(body === undefined ? {} : { body: JSON.stringify(body) }) }),
    cli,
    async cliFails(...args) {
      try {
        await cli(...args);
      } catch (err) {
        return (err as { stderr: string }).stderr;
      }
      throw new Error(`tessera admin ${args.join(' ')} succeeded`);
    },
  };
}
