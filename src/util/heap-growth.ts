// How far V8 lets a server's old generation grow past what the last full GC left live (issue 17).
// V8 picks that factor from how cheap its GCs look to the main thread (1.1 to 4); concurrent marking
// and sweeping run on other threads, so a PUT load's collections look cheap, the factor stays near its
// floor, and a 20 MB heap ran a full GC every 10-15 PUTs of 1 MiB (docs/benchmarks.md).
import { setFlagsFromString } from 'node:v8';

/** 1 + this / 100 is the factor: 4, the top of V8's own range, so the heap is at most about 4 × live. */
export const heapGrowingPercent = 300;

/** The flag to set, or undefined when the operator gave node one (`node --heap-growing-percent=N`). */
export function heapGrowthFlag(execArgv: readonly string[]): string | undefined {
  if (execArgv.some((arg) => arg.replace(/_/g, '-').startsWith('--heap-growing-percent'))) return undefined;
  return `--heap-growing-percent=${heapGrowingPercent}`;
}

/** Sets the growth factor for this process; V8 reads it at every full GC, so setting it late works. */
export function tuneHeapGrowth(): void {
  const flag = heapGrowthFlag(process.execArgv);
  if (flag) setFlagsFromString(flag);
}
