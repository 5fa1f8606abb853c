// The request's query parameters, decoded once: SigV4 needs them to find its presigned fields, the router
// and handlers to find sub-resources and options. URLSearchParams parsed the same query a second time on
// every request (3.6% of a small GET's main thread, bench/http.ts profile).
import { parseQuery, type QueryPair } from './sigv4/canonical.js';

/** The parts of URLSearchParams the handlers use, over pairs decoded as the form encoding does. */
export class Query {
  readonly pairs: readonly QueryPair[];

  constructor(pairs: readonly QueryPair[]) {
    this.pairs = pairs;
  }

  static parse(rawQuery: string): Query {
    return new Query(parseQuery(rawQuery));
  }

  /** The first value of `name`, or null, as URLSearchParams.get answers. */
  get(name: string): string | null {
    for (const [n, v] of this.pairs) if (n === name) return v;
    return null;
  }

  has(name: string): boolean {
    for (const [n] of this.pairs) if (n === name) return true;
    return false;
  }
}
