import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Readable } from 'node:stream';
import { IterableSource, PassingSource, ReadableSource, readAll, type ChunkSource } from './chunk-source.js';

/** A Readable the test pushes into, recording whether anyone asked it for data. */
function pushable(): { readable: Readable; reads: () => number } {
  let reads = 0;
  const readable = new Readable({ read: () => void reads++ });
  return { readable, reads: () => reads };
}

/** Runs `work` and returns the uncaught errors and unhandled rejections it left, once they have had time to surface. */
async function leftoversOf(work: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const onLeftover = (reason: unknown) => seen.push(reason);
  process.on('unhandledRejection', onLeftover);
  process.on('uncaughtException', onLeftover);
  try {
    await work();
    await new Promise((r) => setTimeout(r, 20));
  } finally {
    process.off('unhandledRejection', onLeftover);
    process.off('uncaughtException', onLeftover);
  }
  return seen;
}

async function takeNext(source: ChunkSource): Promise<Buffer | null> {
  for (;;) {
    const chunk = source.take();
    if (chunk !== undefined) return chunk;
    await source.wait();
  }
}

test('ReadableSource - does not read its stream before the first take', async () => {
  const { readable, reads } = pushable();
  const source = new ReadableSource(readable);
  await new Promise((r) => setImmediate(r));
  // A request's body read early would send 100 Continue before the handler checked the request.
  assert.equal(reads(), 0);
  assert.equal(source.take(), undefined);
  readable.push(Buffer.from('ab'));
  readable.push(null);
  assert.equal(readable.readableFlowing, true);
  assert.deepEqual(await readAll(source), Buffer.from('ab'));
});

test('ReadableSource - gives the chunks in order, then null at the end', async () => {
  const source = new ReadableSource(Readable.from([Buffer.from('one'), Buffer.from('two'), 'three'], { objectMode: false }));
  const out: string[] = [];
  for (let chunk = await takeNext(source); chunk !== null; chunk = await takeNext(source)) out.push(chunk.toString());
  assert.equal(out.join(''), 'onetwothree');
  assert.equal(source.take(), null);
});

test('ReadableSource - pauses its stream while the consumer lags, and resumes it when taken from', async () => {
  const { readable } = pushable();
  const source = new ReadableSource(readable);
  assert.equal(source.take(), undefined);
  await new Promise((r) => setImmediate(r));
  for (let i = 0; i < 6; i++) readable.push(Buffer.alloc(16 * 1024));
  await new Promise((r) => setImmediate(r));
  assert.equal(readable.isPaused(), true, 'the stream keeps flowing into a queue nobody takes from');
  let taken = 0;
  while (source.take() instanceof Buffer) taken++;
  assert.ok(taken >= 4, `only ${taken} chunks were queued`);
  await new Promise((r) => setImmediate(r));
  assert.equal(readable.isPaused(), false);
  assert.ok(source.take() instanceof Buffer, 'the chunks the stream held while paused come next');
});

test('ReadableSource - cancel rejects a pending wait and leaves the stream undestroyed', async () => {
  const { readable } = pushable();
  const source = new ReadableSource(readable);
  assert.equal(source.take(), undefined);
  const waiting = source.wait();
  const reason = new Error('stop');
  source.cancel(reason);
  await assert.rejects(waiting, (err) => err === reason);
  assert.throws(() => source.take(), (err) => err === reason);
  assert.equal(readable.destroyed, false);
  assert.equal(readable.listenerCount('data'), 0);
});

test('ReadableSource - a stream that fails after its consumer gave up does not take the process down (post-object client gone)', async () => {
  const { readable } = pushable();
  const source = new ReadableSource(readable);
  assert.equal(source.take(), undefined);
  const leftovers = await leftoversOf(async () => {
    source.cancel(new Error('aborted by the block writer'));
    readable.destroy(new Error('the request underneath went away'));
  });
  assert.deepEqual(leftovers, []);
});

test('ReadableSource - a stream closed before its end fails the wait', async () => {
  const { readable } = pushable();
  const source = new ReadableSource(readable);
  assert.equal(source.take(), undefined);
  const waiting = source.wait();
  readable.destroy();
  await assert.rejects(waiting, { code: 'ERR_STREAM_PREMATURE_CLOSE' });
});

test('IterableSource - a cancel while waiting rejects at once and leaves no unhandled rejection when the iterator fails later (issue 2)', async () => {
  let fail!: (err: Error) => void;
  let returned = false;
  const iterable: AsyncIterable<Buffer> = {
    [Symbol.asyncIterator]: () => ({
      next: () => new Promise<IteratorResult<Buffer>>((_, reject) => (fail = reject)),
      return: async () => {
        returned = true;
        return { done: true, value: undefined };
      },
    }),
  };
  const source = new IterableSource(iterable);
  const leftovers = await leftoversOf(async () => {
    assert.equal(source.take(), undefined);
    const waiting = source.wait();
    source.cancel(new Error('cancelled'));
    await assert.rejects(waiting, /cancelled/);
    fail(new Error('aborted')); // what an IncomingMessage's iterator does once its socket closes
  });
  assert.deepEqual(leftovers, []);
  assert.equal(returned, true);
});

test('PassingSource - an error in its layer cancels the source underneath', async () => {
  const { readable } = pushable();
  const wire = new ReadableSource(readable);
  class Refusing extends PassingSource {
    protected next(): Buffer | null | undefined {
      const chunk = this.inner.take();
      if (chunk) throw new Error('refused');
      return chunk;
    }
  }
  const source = new Refusing(wire);
  assert.equal(source.take(), undefined);
  readable.push(Buffer.from('x'));
  await source.wait();
  assert.throws(() => source.take(), /refused/);
  assert.throws(() => wire.take(), /refused/);
  assert.equal(readable.listenerCount('data'), 0);
  assert.equal(readable.destroyed, false);
});

test('ChunkSource - for-await reads every chunk, and an early exit cancels the source', async () => {
  const source = new IterableSource(Readable.from([Buffer.from('a'), Buffer.from('b')], { objectMode: false }));
  const out: string[] = [];
  for await (const chunk of source) out.push(chunk.toString());
  assert.equal(out.join(''), 'ab');
  const { readable } = pushable();
  const early = new ReadableSource(readable);
  readable.push(Buffer.from('first'));
  for await (const chunk of early) {
    assert.equal(chunk.toString(), 'first');
    break;
  }
  assert.throws(() => early.take(), /stopped before the end/);
});

test('IterableSource - takes a sync iterable (an array\'s values) as for await does', async () => {
  const source = new IterableSource([Buffer.from('ab'), new Uint8Array([0x63]), 'd'].values());
  assert.equal((await readAll(source)).toString(), 'abcd');
});
