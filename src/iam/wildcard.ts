// Wildcard matching as IAM does it: `*` is any run of characters (slashes included), `?` exactly one,
// nothing else is special. Linear backtracking, no RegExp, so a hostile pattern cannot cost more than
// pattern × value steps. ARNs match segment by segment, so a wildcard never crosses a ":" before the resource.

/** Whether `value` matches `pattern`; `ignoreCase` compares both lower-cased. */
export function matchWildcard(pattern: string, value: string, ignoreCase = false): boolean {
  if (ignoreCase) {
    pattern = pattern.toLowerCase();
    value = value.toLowerCase();
  }
  let p = 0;
  let v = 0;
  let starP = -1;
  let starV = 0;
  while (v < value.length) {
    const pc = pattern[p];
    if (pc === '*') {
      starP = p++;
      starV = v;
    } else if (pc !== undefined && (pc === '?' || pc === value[v])) {
      p++;
      v++;
    } else if (starP >= 0) {
      // Let the last star swallow one more character and try again from there.
      p = starP + 1;
      v = ++starV;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

const s3ArnPrefix = 'arn:aws:s3:::';

/** Whether a text has a wildcard in it. */
export function hasWildcard(text: string): boolean {
  return text.includes('*') || text.includes('?');
}

/** The six parts of an ARN (the last keeps its colons), or undefined when it has fewer. */
export function arnParts(arn: string): string[] | undefined {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < 5; i++) {
    const colon = arn.indexOf(':', start);
    if (colon < 0) return undefined;
    parts.push(arn.slice(start, colon));
    start = colon + 1;
  }
  parts.push(arn.slice(start));
  return parts;
}

/**
 * Whether an ARN matches an ARN pattern: "*" alone matches everything; otherwise part by part, with
 * wildcards inside a part (ArnLike, and the Resource element, work this way).
 */
export function matchArn(pattern: string, arn: string): boolean {
  if (pattern === '*') return true;
  if (!hasWildcard(pattern)) return pattern === arn;
  // S3 ARNs have empty region and account parts: only the resource part can hold a wildcard (the hot path).
  if (pattern.startsWith(s3ArnPrefix) && !hasWildcard(pattern.slice(0, s3ArnPrefix.length))) {
    return arn.startsWith(s3ArnPrefix) && matchWildcard(pattern.slice(s3ArnPrefix.length), arn.slice(s3ArnPrefix.length));
  }
  const want = arnParts(pattern);
  const have = arnParts(arn);
  if (!want || !have) return false;
  for (let i = 0; i < 6; i++) {
    if (!matchWildcard(want[i]!, have[i]!)) return false;
  }
  return true;
}
