#!/usr/bin/env node
// Entry point for `tessera` and `npm start`: runs the compiled CLI from dist/ (built by `npm install`).
// CommonJS on purpose (bin/package.json): libuv sizes its threadpool on first use, and loading an ES
// module already uses it, so only a CommonJS entry can still raise UV_THREADPOOL_SIZE.
'use strict';

// 16 threads rather than libuv's 4: a drive that hangs (a dead disk, a stuck FUSE mount) holds the
// threads of its calls in flight, at most driveOpsInFlightMax (4) plus a probe per drive (src/constants.ts),
// and the other drives and the Reed-Solomon encoder must keep threads of their own: two hung drives still
// leave 6. No more: 32 showed no gain on 1 MiB GETs and PUTs (docs/architecture.md). An operator's value wins.
if (process.env.UV_THREADPOOL_SIZE === undefined) process.env.UV_THREADPOOL_SIZE = '16';

import('../dist/cli/main.js')
  .then(({ main }) => main(process.argv.slice(2)))
  .catch((err) => {
    process.stderr.write(`tessera: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
