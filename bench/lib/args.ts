// A bench's command line: `--name value` options, bare `--flag`s the bench names, and the rest positional
// (the checkouts a bench compares, where it takes any).

export interface CommandLine {
  /** Each option's value; a bare flag's is ''. */
  options: Map<string, string>;
  positional: string[];
}

/** Parses `argv`; `flags` take no value, and positional arguments are refused unless `positional` is set. */
export function parseCommandLine(argv: readonly string[], { flags = [], positional = false }: { flags?: readonly string[]; positional?: boolean } = {}): CommandLine {
  const options = new Map<string, string>();
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (flags.includes(arg)) options.set(arg, '');
    else if (arg.startsWith('--')) options.set(arg, argv[++i] ?? '');
    else if (positional) rest.push(arg);
    else throw new RangeError(`Unexpected argument "${arg}"`);
  }
  return { options, positional: rest };
}
