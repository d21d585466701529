import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A subcommand: its arguments after the command name; resolves to the exit code. */
export type Command = (argv: string[]) => Promise<number>;

/** An error for the operator: printed as it is (no stack), with an exit code (2: usage). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * node:util parseArgs with `--help` built in and its errors as usage errors (exit 2) that show the usage.
 * Returns null when help was asked for (and printed).
 */
export function parse<O extends Options>(
  argv: string[],
  options: O,
  usage: string,
  allowPositionals = false,
): {
  values: ReturnType<typeof parseArgs<{ options: O; allowPositionals: true }>>['values'];
  positionals: string[];
} | null {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals,
      strict: true,
    });
  } catch (err) {
    throw new CliError(`${err instanceof Error ? err.message : String(err)}\n\n${usage}`, 2);
  }
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(`${usage}\n`);
    return null;
  }
  return parsed as never;
}

/** A positive integer option, or a usage error naming it. */
export function positiveInteger(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new CliError(`--${name} must be a positive integer, got "${value}".`, 2);
  return n;
}
