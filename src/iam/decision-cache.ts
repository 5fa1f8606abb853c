// Evaluator decisions remembered per (scope, action, resource), so a repeated request skips the policy
// walk. The scope is the objects the decision was made from (the identity with its policies, the bucket's
// access record, the store's Block Public Access): a change anywhere replaces one of them, so its old
// entries can never be found again. Each entry also keeps the condition values the evaluation read and
// is found only by a request with the same values (aws:CurrentTime by the window its Date conditions allow;
// a decision that read the time any other way is not kept).
import type { ConditionValues } from './conditions.js';
import { evaluate, type AccessInputs, type AccessRequest, type Decision } from './evaluate.js';
import type { Policy } from './policy.js';

interface Entry {
  decision: Decision;
  /** The condition keys the evaluation read (aws:currenttime aside when windowed), and what it read. */
  keys: string[];
  seen: (readonly string[] | undefined)[];
  /** When aws:CurrentTime was read by Date conditions alone: the times the decision holds for, [fromMs, untilMs). */
  window?: { fromMs: number; untilMs: number };
}

/** How a policy reads aws:CurrentTime: whether only Date comparisons against fixed times do, and those times. */
interface TimeUse {
  windowable: boolean;
  /** The instants (ms) at which a Date condition's answer can change: each fixed time and the ms after it. */
  edgesMs: number[];
}

const currentTime = 'aws:currenttime';
const currentTimeVariable = /\$\{\s*aws:currenttime\s*\}/i;
const timeUses = new WeakMap<Policy, TimeUse>();

export class DecisionCache {
  readonly #entries = new Map<string, Entry>();
  readonly #ids = new WeakMap<object, number>();
  #nextId = 1;

  constructor(private readonly entriesMax: number) {}

  get size(): number {
    return this.#entries.size;
  }

  /** The key of a decision: its scope objects (undefined where a level has none), action and resource. */
  keyOf(scope: readonly (object | undefined)[], action: string, resource: string): string {
    let key = '';
    for (const o of scope) key += `${o === undefined ? 0 : this.#idOf(o)}:`;
    return `${key}${action}\n${resource}`;
  }

  /** The remembered decision, if the request reads the same condition values the evaluation did. */
  lookup(key: string, values: ConditionValues, nowMs: number): Decision | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    // aws:CurrentTime is written to the millisecond, so a clock's fraction of one does not count.
    const ms = Math.floor(nowMs);
    if (entry.window && !(entry.window.fromMs <= ms && ms < entry.window.untilMs)) return undefined;
    for (let i = 0; i < entry.keys.length; i++) {
      if (!sameValues(values(entry.keys[i]!), entry.seen[i])) return undefined;
    }
    return entry.decision;
  }

  /** Evaluates the request (see evaluate()) and remembers the decision under `key`. */
  evaluate(key: string, request: AccessRequest, inputs: AccessInputs): Decision {
    const reads = new Map<string, readonly string[] | undefined>();
    // Each key is read once per evaluation, so aws:CurrentTime is one instant throughout.
    const recording: ConditionValues = (name) => {
      if (reads.has(name)) return reads.get(name);
      const value = request.values(name);
      reads.set(name, value);
      return value;
    };
    const decision = evaluate({ ...request, values: recording }, inputs);
    const entry: Entry = { decision, keys: [], seen: [] };
    const now = reads.get(currentTime)?.[0];
    const window = now === undefined ? undefined : windowOf(inputs, Date.parse(now));
    // A decision that read the time otherwise than by Date conditions holds for this millisecond only:
    // not worth an entry, which would push out one that can be found again.
    if (now !== undefined && !window) return decision;
    if (window) entry.window = window;
    for (const [name, value] of reads) {
      if (name === currentTime && window) continue;
      entry.keys.push(name);
      entry.seen.push(value);
    }
    if (this.#entries.size >= this.entriesMax) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, entry);
    return decision;
  }

  #idOf(o: object): number {
    let id = this.#ids.get(o);
    if (id === undefined) {
      id = this.#nextId++;
      this.#ids.set(o, id);
    }
    return id;
  }
}

function sameValues(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The times around `nowMs` over which every policy's Date conditions on aws:CurrentTime answer as they
 * did at `nowMs`; undefined when a policy reads the time otherwise (a string operator, a ${aws:CurrentTime}
 * variable), whose answer may change any millisecond: the time is then compared as a value.
 */
function windowOf(inputs: AccessInputs, nowMs: number): { fromMs: number; untilMs: number } | undefined {
  if (Number.isNaN(nowMs)) return undefined;
  let fromMs = -Infinity;
  let untilMs = Infinity;
  const policies = inputs.bucketPolicy ? [...inputs.identityPolicies, inputs.bucketPolicy] : inputs.identityPolicies;
  for (const policy of policies) {
    const use = timeUseOf(policy);
    if (!use.windowable) return undefined;
    for (const edge of use.edgesMs) {
      if (edge <= nowMs) fromMs = Math.max(fromMs, edge);
      else untilMs = Math.min(untilMs, edge);
    }
  }
  return { fromMs, untilMs };
}

function timeUseOf(policy: Policy): TimeUse {
  let use = timeUses.get(policy);
  if (use) return use;
  use = { windowable: true, edgesMs: [] };
  for (const s of policy.statements) {
    const texts = [...(s.resources ?? []), ...(s.notResources ?? []), ...s.conditions.flatMap((c) => c.values)];
    if (texts.some((t) => currentTimeVariable.test(t))) use.windowable = false;
    for (const c of s.conditions) {
      if (c.key !== currentTime || c.base === 'Null') continue;
      if (!c.base.startsWith('Date') || !c.numbers) use.windowable = false;
      else for (const ms of c.numbers) use.edgesMs.push(ms, ms + 1);
    }
  }
  timeUses.set(policy, use);
  return use;
}
