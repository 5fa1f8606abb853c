import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OnDemandThread } from './on-demand-thread.js';

// Echoes n * 2; exits with code 3 when sent a negative number.
const source = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', (n) => {
  if (n < 0) process.exit(3);
  parentPort.postMessage(n * 2);
});
`;

test('OnDemandThread - starts on the first post, answers, reports one failure and starts again after it', async () => {
  const replies: number[] = [];
  const failures: Error[] = [];
  let waiting = 0;
  let wake: (() => void) | undefined;
  const thread = new OnDemandThread<number, number>({
    name: 'test',
    source,
    busy: () => waiting > 0,
    onReply: (n) => {
      replies.push(n);
      waiting--;
      wake?.();
    },
    onFail: (err) => {
      failures.push(err);
      waiting = 0;
      wake?.();
    },
  });
  const settled = () => new Promise<void>((resolve) => (wake = resolve));
  assert.equal(thread.running, false, 'nothing starts before the first post');
  waiting++;
  thread.post(21);
  assert.equal(thread.running, true);
  await settled();
  assert.deepEqual(replies, [42]);

  waiting++;
  thread.post(-1);
  await settled();
  assert.equal(failures.length, 1, "'error' and 'exit' of one thread report once");
  assert.match(failures[0]!.message, /test thread exited with code 3/);
  assert.equal(thread.running, false);

  waiting++;
  thread.post(5);
  await settled();
  assert.deepEqual(replies, [42, 10], 'a new thread serves after a failure');
  thread.refresh(); // not busy: unref'd, so this test's process can exit with the thread still up
});
