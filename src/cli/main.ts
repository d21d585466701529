#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { ConfigError } from '../core/errors.js';
import { CliError, type Command } from './command.js';

// `switchboard` (package.json bin; `npx switchboard`): run, check and use the gateway from a shell.

// Each command is loaded when it runs: `send` need not load the carriers' SDKs that `serve` does, so a command
// starts in a fraction of the time.
const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./serve.js')).serveCommand,
  migrate: async () => (await import('./migrate.js')).migrate,
  db: async () => (await import('./db.js')).db,
  doctor: async () => (await import('./doctor.js')).doctor,
  send: async () => (await import('./send.js')).send,
  messages: async () => (await import('./messages.js')).messages,
  keys: async () => (await import('./keys.js')).keys,
  simulate: async () => (await import('./simulate.js')).simulate,
};

const USAGE = `Usage: switchboard <command> [options]

Commands:
  serve                 run the gateway (configured by the environment, see the README)
  migrate               create or bring the database (DATABASE_URL) up to date
  db prune              delete (or redact) old messages and events: --older-than 90d
  doctor                check the configuration, the database and the keys; say what is wrong
  send                  send one message, or many from a CSV file (--csv FILE)
  messages list|show    list messages, or show one with its status history
  keys create|list|revoke
                        API keys with scopes (send, read, admin), stored hashed
  simulate              run the provider simulator (Twilio and Telnyx on loopback)

Commands that talk to a running gateway (send, messages) use SWITCHBOARD_URL (default
http://127.0.0.1:$PORT) and SWITCHBOARD_API_KEY, or --url and --key.
Run 'switchboard <command> --help' for a command's options.`;

async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!load) throw new CliError(`Unknown command "${name}".\n\n${USAGE}`, 2);
  return (await load())(rest);
}

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof CliError) {
      console.error(err.message);
      process.exitCode = err.exitCode;
    } else if (err instanceof ConfigError) {
      // One line per problem, as `serve` prints them; never a stack trace for an operator's mistake.
      console.error(err.message);
      process.exitCode = 1;
    } else {
      console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
      process.exitCode = 1;
    }
  },
);
