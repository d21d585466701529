import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { databaseUrlOf, loadConfig, MIN_API_KEY_LENGTH, type Config } from '../config.js';
import { ConfigError } from '../core/errors.js';
import { inspectDatabase } from '../db/sqlite/inspect.js';
import { newerVersionMessage } from '../db/sqlite/migration-journal.js';
import { parse, type Command } from './command.js';

const USAGE = `Usage: switchboard doctor

Checks what 'switchboard serve' would run with (the environment, SWITCHBOARD_CONFIG) without starting it:
every configuration problem, PUBLIC_BASE_URL, the database (reachable, writable, migrations), API keys and
webhook verification. Prints one line per check; exit code 1 if anything must be fixed.`;

type Level = 'ok' | 'warn' | 'fail';
interface Finding {
  level: Level;
  text: string;
}

const MARK: Record<Level, string> = { ok: '[ ok ]', warn: '[warn]', fail: '[FAIL]' };

export const doctor: Command = async (argv) => {
  if (parse(argv, {}, USAGE) === null) return 0;
  const findings = diagnose(process.env);
  process.stdout.write(`${findings.map((f) => `${MARK[f.level]} ${f.text}`).join('\n')}\n`);
  const failures = findings.filter((f) => f.level === 'fail').length;
  const warnings = findings.filter((f) => f.level === 'warn').length;
  process.stdout.write(
    failures === 0
      ? `\nNo problems${warnings > 0 ? ` (${warnings} warning${warnings > 1 ? 's' : ''})` : ''}.\n`
      : `\n${failures} problem${failures > 1 ? 's' : ''} to fix${warnings > 0 ? `, ${warnings} warning(s)` : ''}.\n`,
  );
  return failures > 0 ? 1 : 0;
};

/** Every check, in the order an operator fixes things: configuration, public URL, database, keys. */
export function diagnose(env: NodeJS.ProcessEnv): Finding[] {
  const findings: Finding[] = [];
  let config: Config | null = null;
  try {
    config = loadConfig(env);
    findings.push({ level: 'ok', text: 'configuration: every variable is valid' });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const problem of err.problems) findings.push({ level: 'fail', text: problem });
  }
  findings.push(...publicUrl(env, config));
  if (config?.sandbox) {
    findings.push({
      level: 'warn',
      text: 'no carrier credentials: the gateway runs the sandbox (simulated carriers); nothing reaches a phone',
    });
  }
  if (config?.unsafeSkipWebhookVerification) {
    findings.push({
      level: 'fail',
      text: 'UNSAFE_SKIP_WEBHOOK_VERIFICATION=true: anyone who can reach the gateway can inject messages',
    });
  }
  // A DATABASE_URL that cannot work is among loadConfig's problems already: nothing more to learn from it.
  const databaseUrl = config?.databaseUrl ?? readableDatabaseUrl(env);
  const database = databaseUrl === null ? { findings: [], activeKeys: null } : checkDatabase(databaseUrl);
  findings.push(...database.findings);
  findings.push(...apiKeys(config, env, database.activeKeys));
  return findings;
}

function publicUrl(env: NodeJS.ProcessEnv, config: Config | null): Finding[] {
  const raw = env.PUBLIC_BASE_URL?.trim();
  if (!raw) {
    // Twilio without PUBLIC_BASE_URL or TRUST_PROXY=true is a configuration problem, reported by loadConfig.
    if (config === null || config.sandbox) return [];
    return [
      {
        level: 'warn',
        text:
          config.twilio !== null && config.trustProxy
            ? 'PUBLIC_BASE_URL is not set: with TRUST_PROXY=true the URL Twilio signed is rebuilt from ' +
              'X-Forwarded-Proto/Host, so only your proxy may reach the gateway; sends carry no status callback URL'
            : 'PUBLIC_BASE_URL is not set: sends carry no status callback URL',
      },
    ];
  }
  if (!URL.canParse(raw)) return []; // loadConfig reported it
  const url = new URL(raw);
  if (url.protocol === 'https:') return [{ level: 'ok', text: `PUBLIC_BASE_URL is https (${url.origin})` }];
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  return [
    {
      level: local ? 'warn' : 'fail',
      text:
        `PUBLIC_BASE_URL is not https (${url.origin}): carriers would post message content in the clear, and ` +
        `Twilio signs the https URL it calls${local ? ' (fine on loopback for local testing only)' : ''}`,
    },
  ];
}

function readableDatabaseUrl(env: NodeJS.ProcessEnv): string | null {
  try {
    return databaseUrlOf(env);
  } catch (err) {
    if (err instanceof ConfigError) return null;
    throw err;
  }
}

function checkDatabase(path: string): { findings: Finding[]; activeKeys: number | null } {
  if (path === ':memory:') {
    return {
      findings: [
        { level: 'warn', text: 'DATABASE_URL is :memory:: every message is lost when the process ends' },
      ],
      // A new database every start: no key but SWITCHBOARD_API_KEYS.
      activeKeys: 0,
    };
  }
  const parent = nearestExisting(dirname(path));
  if (!statSync(parent).isDirectory()) {
    return {
      findings: [
        { level: 'fail', text: `database ${path} is unreachable: ${parent} is a file, not a directory` },
      ],
      activeKeys: null,
    };
  }
  let report;
  try {
    report = inspectDatabase(path);
  } catch (err) {
    return {
      findings: [{ level: 'fail', text: `database ${path} is unreachable: ${(err as Error).message}` }],
      activeKeys: null,
    };
  }
  if (!report.exists) {
    return {
      findings: [
        {
          level: 'warn',
          text: `database ${path} does not exist yet; 'switchboard migrate' (or the first start) creates it`,
        },
      ],
      activeKeys: 0,
    };
  }
  if (report.unknown.length > 0) {
    return {
      findings: [{ level: 'fail', text: newerVersionMessage(path, report.unknown) }],
      activeKeys: null,
    };
  }
  const findings: Finding[] = [];
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
    // WAL mode writes -wal and -shm files beside the database.
    accessSync(dirname(path), constants.W_OK);
  } catch {
    findings.push({
      level: 'fail',
      text: `database ${path} (or its directory) is not writable by this user`,
    });
  }
  findings.push(
    report.pending.length === 0
      ? { level: 'ok', text: `database ${path}: reachable, ${report.applied.length} migrations applied` }
      : {
          level: 'warn',
          text: `database ${path}: ${report.pending.length} migration(s) pending (${report.pending.join(', ')}); 'switchboard migrate' applies them`,
        },
  );
  return { findings, activeKeys: report.activeApiKeys };
}

/**
 * Whether any API key exists, said only when it is known: with a configuration that failed to load (a broken
 * SWITCHBOARD_CONFIG file, say), SWITCHBOARD_API_KEYS is read as written, and a database that cannot be read
 * may hold keys. A problem in SWITCHBOARD_API_KEYS itself is reported with the configuration's.
 */
function apiKeys(config: Config | null, env: NodeJS.ProcessEnv, activeKeys: number | null): Finding[] {
  const written = (env.SWITCHBOARD_API_KEYS ?? '').split(',').map((key) => key.trim());
  const envKeys = config?.apiKeys.length ?? written.filter((key) => key.length >= MIN_API_KEY_LENGTH).length;
  const total = envKeys + (activeKeys ?? 0);
  if (total > 0) {
    return [
      {
        level: 'ok',
        text: `API keys: ${activeKeys ?? 0} in the database${envKeys > 0 ? `, ${envKeys} in SWITCHBOARD_API_KEYS` : ''}`,
      },
    ];
  }
  if (activeKeys === null || (config === null && written.some((key) => key !== ''))) return [];
  return [
    {
      level: 'fail',
      text: "no API key: the API answers 401 to everyone; create one with 'switchboard keys create --name NAME --scopes send,read'",
    },
  ];
}

function nearestExisting(dir: string): string {
  let d = dir;
  while (!existsSync(d) && dirname(d) !== d) d = dirname(d);
  return d;
}
