// Invariant checks that stay on in production. A failed assert is a bug: it becomes a 500 InternalError.

export class AssertionError extends Error {
  override name = 'AssertionError';
}

export function assert(condition: unknown, message = 'Assertion failed'): asserts condition {
  if (!condition) throw new AssertionError(message);
}
