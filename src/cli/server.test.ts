import { test } from 'node:test';
import assert from 'node:assert/strict';
import { autoWorkersMax, parseWorkers } from './server.js';

test('parseWorkers - auto is one per core, at most autoWorkersMax, and a count is taken as given', () => {
  assert.equal(parseWorkers('auto', 1), 1);
  assert.equal(parseWorkers('auto', 2), 2);
  assert.equal(parseWorkers(' AUTO ', 64), autoWorkersMax);
  assert.equal(parseWorkers('1', 64), 1);
  assert.equal(parseWorkers('32', 2), 32);
});

test('parseWorkers - refuses what is not auto or a whole number from 1 to 256, naming the value', () => {
  for (const bad of ['0', '-1', '1.5', '257', 'many', '']) assert.throws(() => parseWorkers(bad, 2), new RegExp(`--workers "${bad}"`));
});
