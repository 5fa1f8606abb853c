// TLS for every listener (S3 endpoint, metrics, node RPC) and for the gateways' node RPC client: reading
// the PEM files a role is given, and reloading them on SIGHUP without dropping a connection.
import { readFileSync } from 'node:fs';
import type { Server as TlsServer } from 'node:tls';
import type { Logger } from './log.js';

/** The PEM files of a listener: its certificate chain and private key. */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
}

/** Reads a listener's certificate and key, with errors that name the file and what is wrong with it. */
export function readTlsFiles(files: TlsFiles): TlsMaterial {
  const cert = readPem(files.certFile, 'certificate', /-----BEGIN CERTIFICATE-----/);
  const key = readPem(files.keyFile, 'private key', /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/);
  return { cert, key };
}

/** A CA bundle (one or more PEM certificates) that peers' certificates are checked against. */
export function readCaBundle(file: string): Buffer {
  return readPem(file, 'CA bundle', /-----BEGIN CERTIFICATE-----/);
}

function readPem(file: string, what: string, marker: RegExp): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (err) {
    throw new Error(`Cannot read the TLS ${what} "${file}": ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (!marker.test(pem.toString('latin1'))) throw new Error(`Cannot use the TLS ${what} "${file}": it holds no PEM ${what}`);
  return pem;
}

/** Both flags or neither: a certificate without its key (or the reverse) is a mistake, not plain HTTP. */
export function tlsFilesOf(certFile: string | undefined, keyFile: string | undefined): TlsFiles | undefined {
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) throw new Error('Cannot serve TLS with only one of --tls-cert and --tls-key: give both');
  return { certFile, keyFile };
}

const reloaders = new Set<() => void>();
let listening = false;

/**
 * Re-reads `files` into `server` on every SIGHUP: new handshakes use the new certificate, connections already
 * open keep theirs. A file that fails to read or parse leaves the old certificate in place (logged), so a
 * half-copied renewal never takes the endpoint down. Returns the function that stops reloading.
 */
export function reloadOnSighup(server: TlsServer, files: TlsFiles, log: Logger): () => void {
  const reload = (): void => {
    try {
      server.setSecureContext(readTlsFiles(files));
      log.info('Reloaded the TLS certificate', { certFile: files.certFile });
    } catch (err) {
      log.error('Kept the old TLS certificate: the new one cannot be used', { certFile: files.certFile, err: (err as Error).message });
    }
  };
  reloaders.add(reload);
  // One process-wide handler (a process may serve S3 and metrics on two listeners). With it, SIGHUP no
  // longer ends the process, which is what an operator renewing a certificate wants.
  if (!listening) {
    listening = true;
    process.on('SIGHUP', () => {
      for (const r of reloaders) r();
    });
  }
  return () => {
    reloaders.delete(reload);
  };
}
