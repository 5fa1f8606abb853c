// Summarises a .cpuprofile (from bench/http.ts --profile, or node --cpu-prof): the functions with the
// most self time, and the most inclusive time, as shares of all samples.
// Run: npx tsx bench/profile.ts FILE.cpuprofile [TOP=30]
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  startTime: number;
  endTime: number;
}

const file = process.argv[2];
if (!file) throw new Error('Usage: npx tsx bench/profile.ts FILE.cpuprofile [TOP]');
const top = Number(process.argv[3] ?? '30');
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);

const label = (n: ProfileNode) =>
  `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(src|dist|node_modules|bench)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;

const hits = new Map<number, number>();
for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
const self = new Map<string, number>();
const inclusive = new Map<string, number>();
for (const [id, count] of hits) {
  const node = nodes.get(id)!;
  self.set(label(node), (self.get(label(node)) ?? 0) + count);
  const seen = new Set<string>(); // recursion counts once
  for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
    const name = label(nodes.get(at)!);
    if (seen.has(name)) continue;
    seen.add(name);
    inclusive.set(name, (inclusive.get(name) ?? 0) + count);
  }
}
const total = profile.samples.length;
const list = (m: Map<string, number>) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, count]) => `${((100 * count) / total).toFixed(1).padStart(5)}%  ${name}`)
    .join('\n');
process.stdout.write(`${total} samples over ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s\n--- self\n${list(self)}\n--- inclusive\n${list(inclusive)}\n`);
