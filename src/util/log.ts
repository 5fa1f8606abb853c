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
    else if (value instanceof Error) out[name] = { name: value.name, message: value.message, code: (value as { code?: unknown }).code, stack: value.stack };
    else out[name] = value;
  }
  return out;
}

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
