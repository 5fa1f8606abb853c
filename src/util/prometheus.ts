// Prometheus text exposition (format 0.0.4), written by hand: histograms with fixed buckets, and a page
// builder that groups samples under their HELP and TYPE lines. Nothing here knows what is measured.

/** Seconds, from a cached small GET (~1 ms) to a large upload over a slow link. */
export const durationBucketsSec: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * A histogram with fixed upper bounds: observe() is a short linear search and an increment, so it can sit
 * on every request. Counts are kept per bucket and made cumulative only when written.
 */
export class Histogram {
  readonly bounds: readonly number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  constructor(bounds: readonly number[]) {
    for (let i = 1; i < bounds.length; i++) {
      if (!(bounds[i]! > bounds[i - 1]!)) throw new RangeError(`Cannot use histogram bounds ${JSON.stringify(bounds)}: they must ascend`);
    }
    this.bounds = bounds;
    this.#counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.#counts[i]!++;
    this.#sum += value;
    this.#count++;
  }

  get count(): number {
    return this.#count;
  }

  get sum(): number {
    return this.#sum;
  }

  /** Cumulative counts per bound, then +Inf (the total). */
  cumulative(): number[] {
    let running = 0;
    return this.#counts.map((c) => (running += c));
  }
}

/** A label value as the exposition format quotes it. */
export function labelValue(value: string): string {
  return /["\\\n]/.test(value) ? value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : value;
}

/** `{a="x",b="y"}` from label pairs; empty without any. */
export function labelsOf(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([name, value]) => `${name}="${labelValue(value)}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

export type MetricType = 'gauge' | 'counter' | 'histogram';

/** The lines of one exposition page; each family is written once with all its samples. */
export class PromPage {
  readonly lines: string[] = [];

  /** A gauge or counter family: `samples` are [labels as `{...}` or '', value]. */
  metric(name: string, help: string, type: 'gauge' | 'counter', samples: [labels: string, value: number][]): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) this.lines.push(`${name}${labels} ${value}`);
  }

  /** A histogram family: one histogram per label set. */
  histogram(name: string, help: string, series: [labels: Record<string, string>, histogram: Histogram][]): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
    for (const [labels, h] of series) {
      const counts = h.cumulative();
      h.bounds.forEach((bound, i) => this.lines.push(`${name}_bucket${labelsOf({ ...labels, le: String(bound) })} ${counts[i]}`));
      this.lines.push(`${name}_bucket${labelsOf({ ...labels, le: '+Inf' })} ${counts[counts.length - 1]}`);
      this.lines.push(`${name}_sum${labelsOf(labels)} ${h.sum}`, `${name}_count${labelsOf(labels)} ${h.count}`);
    }
  }

  text(): string {
    return `${this.lines.join('\n')}\n`;
  }

  /**
   * The families of several processes' pages (lines as PromPage writes them), each sample given a label
   * naming its process, merged so each family's HELP and TYPE appear once with every process's samples:
   * the exposition format allows a family only once per page.
   */
  merged(pages: { label: [name: string, value: string]; lines: readonly string[] }[]): void {
    const families = new Map<string, { head: string[]; samples: string[] }>();
    for (const { label, lines } of pages) {
      const labelText = `${label[0]}="${labelValue(label[1])}"`;
      let family: { head: string[]; samples: string[] } | undefined;
      for (const line of lines) {
        const help = /^# HELP (\S+)/.exec(line);
        if (help) {
          family = families.get(help[1]!);
          if (!family) families.set(help[1]!, (family = { head: [line], samples: [] }));
          continue;
        }
        if (line.startsWith('# TYPE ')) {
          if (family && family.head.length === 1) family.head.push(line);
          continue;
        }
        if (!family || line === '') continue;
        const brace = line.indexOf('{');
        const space = line.indexOf(' ');
        family.samples.push(brace !== -1 && brace < space ? `${line.slice(0, brace + 1)}${labelText},${line.slice(brace + 1)}` : `${line.slice(0, space)}{${labelText}}${line.slice(space)}`);
      }
    }
    for (const family of families.values()) this.lines.push(...family.head, ...family.samples);
  }
}
