// Structured logs as JSON lines on stderr. Values named like secrets are redacted, so a stray credential
// in a log call never reaches the output.

export interface Logger {
  /** Dropped unless debug logging is on (TESSERA_LOG_LEVEL=debug): expected events worth seeing only when tracing. */
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const secretField = /secret|password|authorization|signature|credential|token/i;

function serialise(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (secretField.test(name)) out[name] = '[redacted]';
    else if (value instanceof Error) out[name] = serialiseError(value, 0);
    else out[name] = value;
  }
  return out;
}

/**
 * An error with its cause chain: the operating error says what failed ("Cannot write block ..."), its
 * cause says why (ENOSPC and the file's path), and a log without the latter points the wrong way.
 */
function serialiseError(err: Error, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = { name: err.name, message: err.message, code: (err as { code?: unknown }).code };
  if (depth === 0) out.stack = err.stack;
  if (err.cause instanceof Error && depth < causeDepthMax) out.cause = serialiseError(err.cause, depth + 1);
  else if (err.cause !== undefined && !(err.cause instanceof Error)) out.cause = String(err.cause);
  return out;
}

const causeDepthMax = 4;

export function createLogger(options: { quiet?: boolean; debug?: boolean } = {}): Logger {
  const debug = options.debug ?? process.env.TESSERA_LOG_LEVEL === 'debug';
  const write = (level: string, message: string, fields: Record<string, unknown> = {}): void => {
    if (options.quiet && level === 'info') return;
    if (!debug && level === 'debug') return;
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, message, ...serialise(fields) })}\n`);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}
