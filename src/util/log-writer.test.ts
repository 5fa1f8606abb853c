import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

const logModule = new URL('./log.ts', import.meta.url).href;

/** Runs `code` in a child whose stderr this process reads only after `holdMs`; answers its stdout and stderr. */
async function runChild(code: string, holdMs: number): Promise<{ stdout: string; stderr: string; code: number | null }> {
  // Without the test runner's NODE_TEST_CONTEXT, which would make the child's stdout the runner's channel.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const chunks: Buffer[] = [];
  child.stderr.pause();
  const ended = new Promise<void>((resolve) => child.stderr.once('end', resolve));
  setTimeout(() => {
    child.stderr.on('data', (d: Buffer) => chunks.push(d));
    child.stderr.resume();
  }, holdMs);
  const exitCode = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  await ended; // what the child wrote before it exited, read once the hold is over
  return { stdout, stderr: Buffer.concat(chunks).toString(), code: exitCode };
}

test('log writer - a reader that stops reading stalls no timer of the process that logs, and loses no line', async () => {
  const lines = 20_000;
  const code = `
    const { createLogger } = await import(${JSON.stringify(logModule)});
    const log = createLogger({ format: 'json', level: 'info' });
    let last = performance.now(); let gapMaxMs = 0;
    const timer = setInterval(() => { const now = performance.now(); gapMaxMs = Math.max(gapMaxMs, now - last); last = now; }, 10);
    for (let i = 0; i < ${lines}; i++) {
      log.info('request', { n: i, pad: 'x'.repeat(80) });
      if (i % 100 === 99) await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setTimeout(r, 2500));
    clearInterval(timer);
    process.stdout.write(JSON.stringify({ gapMaxMs }));
  `;
  // 2 MiB of lines against a pipe that holds far less: a blocking write would stall the child for the hold.
  const { stdout, stderr, code: exitCode } = await runChild(code, 1_500);
  assert.equal(exitCode, 0, stderr.slice(-2000));
  assert.ok(stdout !== "", `no result from the child; its stderr: ${stderr.slice(0, 1500)}`);
  const { gapMaxMs } = JSON.parse(stdout) as { gapMaxMs: number };
  assert.ok(gapMaxMs < 1_000, `a timer waited ${Math.round(gapMaxMs)} ms while stderr was not read`);
  const numbers = stderr.trim().split('\n').map((l) => (JSON.parse(l) as { n: number }).n);
  assert.equal(numbers.length, lines);
  assert.ok(numbers.every((n, i) => n === i), 'every line, in order');
});

test('log writer - lines still queued when the process exits are written, even while the reader lags', async () => {
  const code = `
    const { createLogger } = await import(${JSON.stringify(logModule)});
    const log = createLogger({ format: 'json', level: 'info' });
    for (let i = 0; i < 3000; i++) log.info('line', { n: i, pad: 'x'.repeat(80) });
    log.error('last words');
    process.exit(3);
  `;
  const { stderr, code: exitCode } = await runChild(code, 300);
  assert.equal(exitCode, 3);
  const messages = stderr.trim().split('\n').map((l) => (JSON.parse(l) as { message: string }).message);
  assert.equal(messages.length, 3001);
  assert.equal(messages.at(-1), 'last words');
});

test('log writer - lines logged over many event-loop turns go out in a few writes, one per gap at most', async () => {
  const logWriterModule = new URL('./log-writer.ts', import.meta.url).href;
  const code = `
    const { default: fs } = await import('node:fs');
    const { syncBuiltinESMExports } = await import('node:module');
    let writes = 0;
    const write = fs.write;
    fs.write = (...args) => { writes++; return write(...args); };
    syncBuiltinESMExports();
    const { logWriteGapMs } = await import(${JSON.stringify(logWriterModule)});
    const { createLogger } = await import(${JSON.stringify(logModule)});
    const log = createLogger({ format: 'json', level: 'info' });
    const startMs = performance.now();
    let n = 0;
    while (performance.now() - startMs < 300) {
      log.info('request', { n: n++ });
      await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setTimeout(r, 3 * logWriteGapMs));
    process.stdout.write(JSON.stringify({ writes, lines: n, gapMs: logWriteGapMs, elapsedMs: performance.now() - startMs }));
  `;
  const { stdout, stderr, code: exitCode } = await runChild(code, 0);
  assert.equal(exitCode, 0, stderr.slice(-2000));
  const { writes, lines, gapMs, elapsedMs } = JSON.parse(stdout) as { writes: number; lines: number; gapMs: number; elapsedMs: number };
  assert.equal(stderr.trim().split('\n').length, lines, 'every line arrives');
  assert.ok(lines > 100, `only ${lines} lines logged`);
  // One batch per gap; a batch larger than the pipe's 64 KiB buffer may take a few writes to drain.
  const pipeWritesMax = Math.ceil(Buffer.byteLength(stderr) / 65536);
  assert.ok(writes <= Math.ceil(elapsedMs / gapMs) + 1 + pipeWritesMax, `${writes} writes for ${lines} lines in ${Math.round(elapsedMs)} ms`);
});
