import { ConfigError } from './core/errors.js';
import { withoutCredentials } from './core/url-credentials.js';
import { readConfigFile } from './config-file.js';
import { readEventsConfig, type AppEventsConfig } from './events-config.js';
import { parseNetwork, type Network } from './net/ip.js';
import { readSendingConfig, type SendingConfig } from './sending-config.js';

export type ProcessingMode = 'fast' | 'compute';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface TwilioConfig {
  accountSid: string;
  /** Every token that may have signed a webhook: the current one and, during a rotation, the secondary. */
  authTokens: string[];
}

export interface TelnyxConfig {
  /** Base64 of 32-byte Ed25519 public keys; several during a key rotation. */
  publicKeys: string[];
  /** For sending (TELNYX_API_KEY); null: Telnyx receives only. */
  apiKey: string | null;
}

export interface Config {
  port: number;
  host: string;
  /** A file path or `:memory:`. */
  databaseUrl: string;
  /** The external base URL carriers call (no trailing slash), used to rebuild the URL Twilio signed. */
  publicBaseUrl: string | null;
  /**
   * TRUST_PROXY: without PUBLIC_BASE_URL, X-Forwarded-Proto/Host come from the operator's own proxy and rebuild the
   * URL Twilio signed. Off: they are ignored (the URL is rebuilt from the Host header, in the sandbox only).
   */
  trustProxy: boolean;
  processingMode: ProcessingMode;
  computeTimeoutMs: number;
  /** Null: Twilio is disabled. */
  twilio: TwilioConfig | null;
  /** Null: Telnyx is disabled. */
  telnyx: TelnyxConfig | null;
  /** SWITCHBOARD_API_KEYS: keys with every scope, beside the database's keys (`switchboard keys`). */
  apiKeys: string[];
  /** Requests per minute per API key (a key may have its own); 0: no limit. */
  apiRateLimitPerMinute: number;
  logLevel: LogLevel;
  /** Accept webhooks without checking signatures. For local experiments only; logged loudly at start. */
  unsafeSkipWebhookVerification: boolean;
  /**
   * No carrier credentials at all: both carriers are played by the built-in simulator (src/simulator), so a new
   * user can send and see receipts at once. SWITCHBOARD_SANDBOX=false turns this off.
   */
  sandbox: boolean;
  /** Replaces https://api.twilio.com (TWILIO_API_BASE_URL), e.g. the simulator. */
  twilioApiBaseUrl: string | null;
  /** Replaces https://api.telnyx.com/v2 (TELNYX_API_BASE_URL), e.g. the simulator. */
  telnyxApiBaseUrl: string | null;
  sending: SendingConfig;
  /** Where events go (APP_WEBHOOK_URL, SWITCHBOARD_CONFIG endpoints), how they are signed and retried. */
  events: AppEventsConfig;
  retention: RetentionConfig;
  /**
   * Networks messages' status callbacks may reach beside public addresses (CALLBACK_ALLOWED_NETWORKS): an operator's
   * apps on a private network or on this machine. Configured endpoints are never restricted.
   */
  callbackAllowedNetworks: Network[];
}

/** How long data is kept (core/retention.ts); null: forever. */
export interface RetentionConfig {
  /** RETENTION_DAYS: messages, their events, attempts and idempotency keys are deleted after this. */
  deleteAfterDays: number | null;
  /** REDACT_BODIES_AFTER_DAYS: message bodies and media are emptied after this (sooner than deletion). */
  redactBodiesAfterDays: number | null;
}

/** A century: beyond that a number of days is a mistake, not a policy. */
export const MAX_RETENTION_DAYS = 36_500;

/** Where an automatic sandbox keeps its messages, apart from the real database. */
export const SANDBOX_DATABASE_URL = './data/sandbox.db';

/** Twilio gives up on a webhook after 15 s; the compute deadline must leave room to answer. */
export const TWILIO_WEBHOOK_TIMEOUT_MS = 15_000;
export const MIN_API_KEY_LENGTH = 16;

type Env = Record<string, string | undefined>;

/** With none of these set (and SWITCHBOARD_SANDBOX unset), the gateway runs the sandbox. */
const CARRIER_CREDENTIALS = [
  'TWILIO_ACCOUNT_SID',
  'TWILIO_AUTH_TOKEN',
  'TELNYX_PUBLIC_KEY',
  'TELNYX_API_KEY',
];

/** Every environment variable Switchboard reads, with its default; the README's table mirrors this. */
export const DEFAULTS = {
  PORT: '3000',
  HOST: '127.0.0.1',
  DATABASE_URL: './data/switchboard.db',
  PROCESSING_MODE: 'fast',
  COMPUTE_TIMEOUT_MS: '10000',
  LOG_LEVEL: 'info',
  API_RATE_LIMIT_PER_MINUTE: '6000',
  TRUST_PROXY: 'false',
} as const;

/**
 * The database the gateway would open, from the database settings alone: DATABASE_URL, else the sandbox's own
 * database when the sandbox would start unasked, else the default. `switchboard migrate` needs nothing more, so a
 * problem elsewhere in the configuration (no carrier credentials, say) does not stop it.
 */
export function databaseUrlOf(env: Env = process.env): string {
  const read = (name: string) => env[name]?.trim() || undefined;
  const named = read('DATABASE_URL');
  if (named !== undefined) {
    const problem = unsupportedDatabaseProblem(named);
    if (problem !== null) throw new ConfigError([problem]);
    return named;
  }
  const unaskedSandbox =
    read('SWITCHBOARD_SANDBOX') === undefined &&
    CARRIER_CREDENTIALS.every((name) => read(name) === undefined);
  return unaskedSandbox ? SANDBOX_DATABASE_URL : DEFAULTS.DATABASE_URL;
}

/**
 * Reads and validates the configuration. Throws a ConfigError listing every bad value, each naming its variable,
 * so an operator fixes them all in one go rather than one per restart.
 */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };

  const port = parseInteger(read('PORT') ?? DEFAULTS.PORT, 'PORT', 0, 65_535, problems);
  const host = read('HOST') ?? DEFAULTS.HOST;

  let publicBaseUrl: string | null = null;
  const rawBase = read('PUBLIC_BASE_URL');
  if (rawBase !== undefined) {
    const parsed = URL.canParse(rawBase) ? new URL(rawBase) : null;
    if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) {
      problems.push(
        `PUBLIC_BASE_URL must be an absolute http(s) URL such as https://sms.example.com, got ` +
          `"${withoutCredentials(rawBase)}".`,
      );
    } else if (parsed.search || parsed.hash) {
      problems.push(
        'PUBLIC_BASE_URL must not have a query or fragment; the request path and query are appended to it.',
      );
    } else {
      publicBaseUrl = rawBase.replace(/\/+$/, '');
    }
  }

  const rawTrustProxy = read('TRUST_PROXY') ?? DEFAULTS.TRUST_PROXY;
  if (rawTrustProxy !== 'true' && rawTrustProxy !== 'false') {
    problems.push(`TRUST_PROXY must be "true" or "false", got "${rawTrustProxy}".`);
  }
  const trustProxy = rawTrustProxy === 'true';

  const mode = read('PROCESSING_MODE') ?? DEFAULTS.PROCESSING_MODE;
  if (mode !== 'fast' && mode !== 'compute') {
    problems.push(`PROCESSING_MODE must be "fast" or "compute", got "${mode}".`);
  }
  const computeTimeoutMs = parseInteger(
    read('COMPUTE_TIMEOUT_MS') ?? DEFAULTS.COMPUTE_TIMEOUT_MS,
    'COMPUTE_TIMEOUT_MS',
    1,
    TWILIO_WEBHOOK_TIMEOUT_MS - 1,
    problems,
    ` (Twilio abandons a webhook after ${TWILIO_WEBHOOK_TIMEOUT_MS / 1000} s)`,
  );

  const twilio = readTwilio(read('TWILIO_ACCOUNT_SID'), read('TWILIO_AUTH_TOKEN'), problems);
  // Twilio signs the exact URL it called. Without PUBLIC_BASE_URL that URL would come from headers any client can
  // set, and one captured signature could be re-split into a forged webhook; only the operator's own proxy may set
  // them (TRUST_PROXY). The sandbox (no credentials here) keeps working without either.
  if (twilio !== null && rawBase === undefined && !trustProxy) {
    problems.push(
      'TWILIO_ACCOUNT_SID is set but PUBLIC_BASE_URL is not: Twilio signs the exact URL it calls, which cannot be ' +
        'known from headers any client can set. Set PUBLIC_BASE_URL to the URL Twilio calls (e.g. ' +
        'https://sms.example.com), or TRUST_PROXY=true if your own proxy sets X-Forwarded-Proto and X-Forwarded-Host.',
    );
  }
  const telnyx = readTelnyx(read('TELNYX_PUBLIC_KEY'), read('TELNYX_API_KEY'), problems);

  const rawSandbox = read('SWITCHBOARD_SANDBOX');
  const hasCredentials = CARRIER_CREDENTIALS.some((name) => read(name) !== undefined);
  if (rawSandbox !== undefined && rawSandbox !== 'true' && rawSandbox !== 'false') {
    problems.push(`SWITCHBOARD_SANDBOX must be "true" or "false", got "${rawSandbox}".`);
  }
  if (rawSandbox === 'true' && hasCredentials) {
    problems.push(
      'SWITCHBOARD_SANDBOX=true, but carrier credentials are set; the sandbox replaces the carriers, so unset one or the other.',
    );
  }
  const sandbox = rawSandbox === 'true' || (rawSandbox === undefined && !hasCredentials);
  // A sandbox started by accident (credentials missing from a production environment) must not send a real
  // database's outbox to the simulator: unasked, it uses a database of its own, and refuses one that is named.
  let databaseUrl = read('DATABASE_URL') ?? DEFAULTS.DATABASE_URL;
  const unsupported = unsupportedDatabaseProblem(databaseUrl);
  if (unsupported !== null) {
    problems.push(unsupported);
  } else if (sandbox && rawSandbox === undefined) {
    const named = read('DATABASE_URL');
    if (named === undefined) databaseUrl = SANDBOX_DATABASE_URL;
    else if (named !== ':memory:') {
      problems.push(
        `No carrier credentials are set, so Switchboard would run the sandbox (simulated carriers), but DATABASE_URL ` +
          `names a database (${withoutCredentials(named)}). Set the carrier credentials, or SWITCHBOARD_SANDBOX=true to run the sandbox ` +
          'on that database.',
      );
    }
  }
  const twilioApiBaseUrl = readUrl(read('TWILIO_API_BASE_URL'), 'TWILIO_API_BASE_URL', problems);
  const telnyxApiBaseUrl = readUrl(read('TELNYX_API_BASE_URL'), 'TELNYX_API_BASE_URL', problems);
  const file = readConfigFile(read('SWITCHBOARD_CONFIG'), problems);
  const sending = readSendingConfig(
    read,
    file,
    { twilio: sandbox || twilio !== null, telnyx: sandbox || (telnyx?.apiKey ?? null) !== null },
    problems,
  );
  const events = readEventsConfig(read, file, problems);
  const callbackAllowedNetworks = readNetworks(read('CALLBACK_ALLOWED_NETWORKS'), problems);

  const rawApiKeys = read('SWITCHBOARD_API_KEYS');
  const apiKeys = splitList(rawApiKeys);
  if (rawApiKeys !== undefined && apiKeys.length === 0) problems.push('SWITCHBOARD_API_KEYS lists no key.');
  apiKeys.forEach((key, i) => {
    if (key.length < MIN_API_KEY_LENGTH) {
      problems.push(
        `SWITCHBOARD_API_KEYS entry ${i + 1} is ${key.length} characters; each key needs at least ${MIN_API_KEY_LENGTH} ` +
          '(try: openssl rand -hex 24).',
      );
    }
  });

  const apiRateLimitPerMinute = parseInteger(
    read('API_RATE_LIMIT_PER_MINUTE') ?? DEFAULTS.API_RATE_LIMIT_PER_MINUTE,
    'API_RATE_LIMIT_PER_MINUTE',
    0,
    10_000_000,
    problems,
    ' (0: no limit)',
  );

  const logLevel = read('LOG_LEVEL') ?? DEFAULTS.LOG_LEVEL;
  const levels: LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  if (!levels.includes(logLevel as LogLevel)) {
    problems.push(`LOG_LEVEL must be one of ${levels.join(', ')}, got "${logLevel}".`);
  }

  const retention = readRetention(read, problems);

  const unsafe = read('UNSAFE_SKIP_WEBHOOK_VERIFICATION');
  if (unsafe !== undefined && unsafe !== 'true' && unsafe !== 'false') {
    problems.push(`UNSAFE_SKIP_WEBHOOK_VERIFICATION must be "true" or "false", got "${unsafe}".`);
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    port,
    host,
    databaseUrl,
    publicBaseUrl,
    trustProxy,
    processingMode: mode as ProcessingMode,
    computeTimeoutMs,
    twilio,
    telnyx,
    apiKeys,
    apiRateLimitPerMinute,
    logLevel: logLevel as LogLevel,
    unsafeSkipWebhookVerification: unsafe === 'true',
    sandbox,
    twilioApiBaseUrl,
    telnyxApiBaseUrl,
    sending,
    events,
    retention,
    callbackAllowedNetworks,
  };
}

/**
 * A DATABASE_URL with a URL scheme (`postgres://user:pass@host/db`; two letters or more, so not `C://`) is not a file
 * name: never taken for one (SQLite would create `postgres:/...` beside the gateway), never quoted whole. Null: fine.
 */
function unsupportedDatabaseProblem(value: string): string | null {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]+):\/\//.exec(value)?.[1]?.toLowerCase();
  if (scheme === undefined) return null;
  return (
    `DATABASE_URL is a ${scheme}:// URL (${withoutCredentials(value)}), which this version does not support: ` +
    'Switchboard stores in SQLite; set DATABASE_URL to a file path (./data/switchboard.db) or :memory:.'
  );
}

function readRetention(read: (name: string) => string | undefined, problems: string[]): RetentionConfig {
  const days = (name: string): number | null => {
    const raw = read(name);
    if (raw === undefined) return null;
    const before = problems.length;
    const value = parseInteger(raw, name, 1, MAX_RETENTION_DAYS, problems, ' (unset: keep everything)');
    return problems.length === before ? value : null;
  };
  const deleteAfterDays = days('RETENTION_DAYS');
  const redactBodiesAfterDays = days('REDACT_BODIES_AFTER_DAYS');
  if (
    deleteAfterDays !== null &&
    redactBodiesAfterDays !== null &&
    redactBodiesAfterDays >= deleteAfterDays
  ) {
    problems.push(
      `REDACT_BODIES_AFTER_DAYS (${redactBodiesAfterDays}) must be smaller than RETENTION_DAYS (${deleteAfterDays}): ` +
        'messages are deleted before their bodies would be redacted.',
    );
  }
  return { deleteAfterDays, redactBodiesAfterDays };
}

/** CALLBACK_ALLOWED_NETWORKS: comma-separated CIDR networks (a bare address is one host); one problem per entry. */
function readNetworks(raw: string | undefined, problems: string[]): Network[] {
  const networks: Network[] = [];
  splitList(raw).forEach((entry, i) => {
    const parsed = parseNetwork(entry);
    if (typeof parsed === 'string') problems.push(`CALLBACK_ALLOWED_NETWORKS entry ${i + 1}: ${parsed}.`);
    else networks.push(parsed);
  });
  return networks;
}

function readUrl(raw: string | undefined, name: string, problems: string[]): string | null {
  if (raw === undefined) return null;
  const parsed = URL.canParse(raw) ? new URL(raw) : null;
  if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) {
    problems.push(`${name} must be an absolute http(s) URL, got "${withoutCredentials(raw)}".`);
    return null;
  }
  return raw.replace(/\/+$/, '');
}

function readTwilio(
  sid: string | undefined,
  tokens: string | undefined,
  problems: string[],
): TwilioConfig | null {
  if (sid === undefined && tokens === undefined) return null;
  if (sid === undefined) {
    problems.push(
      'TWILIO_AUTH_TOKEN is set but TWILIO_ACCOUNT_SID is not; set both to enable Twilio, or neither.',
    );
    return null;
  }
  if (tokens === undefined) {
    problems.push(
      'TWILIO_ACCOUNT_SID is set but TWILIO_AUTH_TOKEN is not; set both to enable Twilio, or neither.',
    );
    return null;
  }
  if (!/^AC[0-9a-fA-F]{32}$/.test(sid)) {
    problems.push('TWILIO_ACCOUNT_SID must be "AC" followed by 32 hex characters.');
  }
  const authTokens = splitList(tokens);
  if (authTokens.length === 0) problems.push('TWILIO_AUTH_TOKEN lists no token.');
  authTokens.forEach((token, i) => {
    // Never echo a token back: this message goes to the log.
    if (!/^[0-9a-fA-F]{32}$/.test(token)) {
      problems.push(
        `TWILIO_AUTH_TOKEN entry ${i + 1} must be 32 hex characters (the Auth Token from the Twilio console).`,
      );
    }
  });
  return { accountSid: sid, authTokens };
}

function readTelnyx(
  keys: string | undefined,
  apiKey: string | undefined,
  problems: string[],
): TelnyxConfig | null {
  if (keys === undefined) {
    if (apiKey !== undefined) {
      problems.push(
        'TELNYX_API_KEY is set but TELNYX_PUBLIC_KEY is not: Telnyx delivery receipts could not be verified. ' +
          'Set TELNYX_PUBLIC_KEY (Telnyx portal, Keys & Credentials).',
      );
    }
    return null;
  }
  const publicKeys = splitList(keys);
  if (publicKeys.length === 0) problems.push('TELNYX_PUBLIC_KEY lists no key.');
  publicKeys.forEach((key, i) => {
    if (decodedLength(key) !== 32) {
      problems.push(
        `TELNYX_PUBLIC_KEY entry ${i + 1} must be the base64 of a 32-byte Ed25519 public key (from the Telnyx portal).`,
      );
    }
  });
  return { publicKeys, apiKey: apiKey ?? null };
}

function decodedLength(base64: string): number {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || base64.length % 4 !== 0) return -1;
  return Buffer.from(base64, 'base64').length;
}

function splitList(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
}

function parseInteger(
  raw: string,
  name: string,
  min: number,
  max: number,
  problems: string[],
  why = '',
): number {
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
    problems.push(`${name} must be a whole number from ${min} to ${max}${why}, got "${raw}".`);
    return min;
  }
  return value;
}
