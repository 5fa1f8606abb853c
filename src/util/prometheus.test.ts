import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, PromPage } from './prometheus.js';

test('PromPage.merged - each family once, with every page\'s samples labelled by their process', () => {
  const pageOf = (connections: number, seconds: number) => {
    const page = new PromPage();
    const h = new Histogram([0.1, 1]);
    h.observe(seconds);
    page.histogram('t_duration_seconds', 'Duration.', [[{ operation: 'GetObject' }, h]]);
    page.metric('t_open_connections', 'Open connections.', 'gauge', [['', connections]]);
    return page.lines;
  };
  const merged = new PromPage();
  merged.merged([{ label: ['process', '1'], lines: pageOf(3, 0.05) }, { label: ['process', '2'], lines: pageOf(5, 2) }]);
  const text = merged.text();
  assert.equal(text.match(/^# HELP t_duration_seconds /gm)?.length, 1);
  assert.equal(text.match(/^# TYPE t_open_connections gauge$/gm)?.length, 1);
  assert.match(text, /^t_open_connections\{process="1"\} 3$/m);
  assert.match(text, /^t_open_connections\{process="2"\} 5$/m);
  assert.match(text, /^t_duration_seconds_bucket\{process="1",operation="GetObject",le="0.1"\} 1$/m);
  assert.match(text, /^t_duration_seconds_bucket\{process="2",operation="GetObject",le="0.1"\} 0$/m);
  assert.match(text, /^t_duration_seconds_count\{process="2",operation="GetObject"\} 1$/m);
  // Families stay contiguous: every sample line follows its own family's TYPE line.
  let current = '';
  for (const line of text.trim().split('\n')) {
    const type = /^# TYPE (\S+)/.exec(line);
    if (type) current = type[1]!;
    else if (!line.startsWith('#')) assert.ok(line.startsWith(current), `${line} under ${current}`);
  }
});
