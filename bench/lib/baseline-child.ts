// The Node ceiling for GET on this machine: a bare node:http server with no S3 work at all (no auth,
// no metadata, no checksums). Files up to 8 MiB are answered from memory with res.end(); larger ones
// stream from disk. Run by bench/http.ts as its own process; prints its URL as JSON on stdout.
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';

const root = process.argv[2];
if (!root) throw new Error('Usage: baseline-child.ts ROOT');
const cachedBytesMax = 8 * 1024 * 1024;
const cache = new Map<string, Buffer>();
const sizes = new Map<string, number>();

for (const dir of await readdir(root)) {
  for (const name of await readdir(join(root, dir))) {
    const path = `/${dir}/${name}`;
    const { size } = await stat(join(root, dir, name));
    sizes.set(path, size);
    if (size <= cachedBytesMax) cache.set(path, await readFile(join(root, dir, name)));
  }
}

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const path = (req.url ?? '/').split('?')[0]!;
  const size = sizes.get(path);
  if (size === undefined) {
    res.writeHead(404, { 'content-length': '0' }).end();
    return;
  }
  res.writeHead(200, { 'content-length': String(size), 'content-type': 'application/octet-stream' });
  const cached = cache.get(path);
  if (cached) res.end(cached);
  else pipeline(createReadStream(join(root, path)), res).catch(() => res.destroy());
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}` })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
