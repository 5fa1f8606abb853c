// `tessera tls init|cert`: a private CA and certificates signed by it, for trying TLS out and for a cluster's
// own node RPC. Made by the openssl command (Debian's openssl package): node:crypto parses certificates but
// cannot issue them.
import { execFile } from 'node:child_process';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { access, chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Command, Option } from 'commander';
import { list } from './options.js';

const run = promisify(execFile);

/** A CA lives ten years; a certificate 825 days, the most Apple's TLS clients accept. */
const caDays = 3650;
const certDays = 825;

export function tlsCommand(): Command {
  const cmd = new Command('tls').description('Make a private certificate authority and certificates signed by it (needs the openssl command)');
  cmd.command('init')
    .description('Make DIR/ca.pem and DIR/ca.key (a new CA, unless DIR has one), and a certificate DIR/NAME.pem with key DIR/NAME.key for the given hosts')
    .addOption(new Option('--dir <dir>', 'where the files go').makeOptionMandatory())
    .addOption(hostsOption())
    .addOption(new Option('--name <name>', 'file name of the certificate').default('server'))
    .action(async (opts: { dir: string; hosts: string; name: string }) => {
      const made = await makeCertificate(opts.dir, opts.name, list(opts.hosts));
      process.stdout.write(describe(made));
    });
  cmd.command('cert')
    .description("Make one more certificate signed by DIR's CA (made by \"tessera tls init\"): DIR/NAME.pem and DIR/NAME.key")
    .addOption(new Option('--dir <dir>', 'the directory with ca.pem and ca.key').makeOptionMandatory())
    .addOption(new Option('--name <name>', 'file name of the certificate, e.g. the node id').makeOptionMandatory())
    .addOption(hostsOption())
    .action(async (opts: { dir: string; hosts: string; name: string }) => {
      if (!(await exists(join(opts.dir, 'ca.key')))) throw new Error(`Cannot sign a certificate: "${opts.dir}" has no ca.key (run "tessera tls init --dir ${opts.dir}" first)`);
      const made = await makeCertificate(opts.dir, opts.name, list(opts.hosts));
      process.stdout.write(describe(made));
    });
  return cmd;
}

function hostsOption(): Option {
  return new Option('--hosts <names>', 'comma-separated DNS names and IP addresses the certificate is for').default(`localhost,127.0.0.1,::1,${hostname()}`);
}

export interface MadeCertificate {
  ca: string;
  caCreated: boolean;
  cert: string;
  key: string;
  hosts: string[];
}

function describe(made: MadeCertificate): string {
  return `${made.caCreated ? 'Made a new CA' : 'Used the CA'}: ${made.ca}\n` +
    `Certificate: ${made.cert}\nKey:         ${made.key}\nHosts:       ${made.hosts.join(', ')}\n` +
    `Serve with --tls-cert ${made.cert} --tls-key ${made.key}; clients trust ${made.ca} (aws --ca-bundle, AWS_CA_BUNDLE).\n`;
}

/** Makes `dir`'s CA when it has none, then a certificate for `hosts` signed by it. Keys are readable by their owner only. */
export async function makeCertificate(dir: string, name: string, hosts: string[]): Promise<MadeCertificate> {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name) || name === 'ca') throw new RangeError(`Cannot name a certificate "${name}": expected 1-64 letters, digits, ".", "_" or "-", other than "ca"`);
  if (hosts.length === 0) throw new RangeError('Cannot make a certificate for no host: give --hosts');
  for (const h of hosts) {
    if (isIP(h) === 0 && !/^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/.test(h)) throw new RangeError(`Cannot make a certificate for host "${h}": expected a DNS name or an IP address`);
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ca = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca.key');
  const caCreated = !(await exists(caKey));
  if (caCreated) {
    await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', caKey, '-out', ca,
      '-days', String(caDays), '-subj', '/O=Tessera/CN=Tessera private CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-addext', 'subjectKeyIdentifier=hash']);
    await chmod(caKey, 0o600);
  }
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  const work = await mkdtemp(join(dir, '.csr-'));
  try {
    const csr = join(work, 'req.csr');
    const ext = join(work, 'ext.cnf');
    const san = hosts.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
    await writeFile(ext, `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=${san}\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n`);
    await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', `/O=Tessera/CN=${hosts[0]}`]);
    await chmod(key, 0o600);
    await openssl(['x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-set_serial', `0x${Date.now().toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`,
      '-days', String(certDays), '-extfile', ext, '-out', cert]);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return { ca, caCreated, cert, key, hosts };
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args, { timeout: 30_000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('Cannot make certificates: the openssl command is not installed (Debian: apt install openssl)');
    throw new Error(`Cannot make certificates: openssl ${args[0]} failed: ${(e.stderr ?? e.message).trim().split('\n').slice(-2).join(' ')}`);
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}
