import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Poller } from './poller.js';
import type { Logger } from './log.js';

test('poller - refreshes asked for during a look share one more look that starts after it', async () => {
  let looks = 0;
  let release: () => void = () => undefined;
  const poller = new Poller(async () => {
    const n = ++looks;
    if (n === 1) await new Promise<void>((r) => (release = r));
    return n;
  }, 'failed');
  const first = poller.refresh();
  const second = poller.refresh();
  const third = poller.refresh();
  release();
  assert.deepEqual(await Promise.all([first, second, third]), [1, 2, 2]);
  assert.equal(looks, 2);
});

test('poller - a run of failed polled looks is logged once, and again after a success', async () => {
  const warnings: string[] = [];
  const log = { warn: (m: string) => warnings.push(m) } as unknown as Logger;
  const outcomes = [false, false, true, false];
  const poller = new Poller(async () => {
    if (!outcomes.shift()) throw new Error('down');
  }, 'Cannot look', log);
  poller.start(5);
  while (outcomes.length > 0) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 20));
  poller.stop();
  assert.deepEqual(warnings, ['Cannot look', 'Cannot look']);
});
