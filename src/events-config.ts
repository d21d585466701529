import { Type } from '@sinclair/typebox';
import {
  EVENT_TYPES,
  STATUS_CALLBACK_ENDPOINT,
  type EndpointDefinition,
  type EventType,
} from './core/events.js';
import type { ConfigFile } from './config-file.js';
import { whole, type Read } from './sending-config.js';

/** An app's endpoint with what signing and posting to it need. */
export interface EndpointSettings extends EndpointDefinition {
  /** HMAC keys (decoded `whsec_` secrets): the first signs, every one adds a signature (rotation). */
  secrets: Buffer[];
  /** Requests in flight to this endpoint at once (each conversation has at most one). @default 8 */
  concurrency: number;
}

export interface AppEventsConfig {
  endpoints: EndpointSettings[];
  /**
   * Messages' own status callbacks (the send API's `statusCallback`), signed with APP_WEBHOOK_SECRET; null without
   * it (the send API then refuses `statusCallback`).
   */
  statusCallbacks: EndpointSettings | null;
  /** Waits before each retry; after the last, a delivery is dead. @default 5s,5m,30m,2h,5h,10h */
  retryScheduleMs: number[];
  /** Per request. @default 10000 */
  timeoutMs: number;
}

export const EVENT_DEFAULTS = {
  APP_WEBHOOK_RETRY_SCHEDULE: '5s,5m,30m,2h,5h,10h',
  APP_WEBHOOK_TIMEOUT_MS: '10000',
  concurrency: 8,
  /** Status callbacks go to many URLs, one per message. */
  statusCallbackConcurrency: 16,
} as const;

/** The id APP_WEBHOOK_URL's endpoint has in the API. */
export const DEFAULT_ENDPOINT_ID = 'default';

const ENDPOINT_ID = '^[a-z0-9][a-z0-9_-]{0,62}$';

/** The endpoints part of SWITCHBOARD_CONFIG (see config-file.ts). */
export const eventsFileFields = {
  endpoints: Type.Optional(
    Type.Array(
      Type.Object(
        {
          id: Type.String({ pattern: ENDPOINT_ID }),
          url: Type.String({ pattern: '^https?://', maxLength: 2048 }),
          events: Type.Optional(
            Type.Array(Type.Union(EVENT_TYPES.map((t) => Type.Literal(t))), { minItems: 1, maxItems: 10 }),
          ),
          secret: Type.Optional(Type.String({ pattern: '^whsec_' })),
          concurrency: Type.Optional(whole(1, 100)),
        },
        { additionalProperties: false },
      ),
      { maxItems: 50 },
    ),
  ),
};

/**
 * Where and how Switchboard delivers events to apps: APP_WEBHOOK_URL (endpoint `default`, APP_WEBHOOK_EVENTS
 * filtering it) and SWITCHBOARD_CONFIG `endpoints`, signed with APP_WEBHOOK_SECRET unless an endpoint has its own.
 */
export function readEventsConfig(read: Read, file: ConfigFile, problems: string[]): AppEventsConfig {
  const shared = readSecrets(read('APP_WEBHOOK_SECRET'), 'APP_WEBHOOK_SECRET', problems);
  const endpoints: EndpointSettings[] = [];
  const url = read('APP_WEBHOOK_URL');
  if (url !== undefined) {
    // Not echoed: an endpoint's URL may carry a token.
    const problem = urlProblem(url);
    if (problem) problems.push(`APP_WEBHOOK_URL ${problem}.`);
    const events = readEventList(read('APP_WEBHOOK_EVENTS'), problems);
    if (shared.length === 0) {
      problems.push(
        'APP_WEBHOOK_URL is set but APP_WEBHOOK_SECRET is not: events are always signed. Set APP_WEBHOOK_SECRET to ' +
          'a whsec_ secret (try: echo "whsec_$(openssl rand -base64 32)").',
      );
    }
    endpoints.push({
      id: DEFAULT_ENDPOINT_ID,
      url,
      events,
      secrets: shared,
      concurrency: EVENT_DEFAULTS.concurrency,
    });
  } else if (read('APP_WEBHOOK_EVENTS') !== undefined) {
    problems.push('APP_WEBHOOK_EVENTS is set but APP_WEBHOOK_URL is not; it filters that endpoint.');
  }

  (file.endpoints ?? []).forEach((e, i) => {
    const field = `endpoints[${i}]`;
    if (e.id === STATUS_CALLBACK_ENDPOINT) {
      problems.push(`${field}.id "${e.id}" is reserved for messages' own status callbacks; choose another.`);
      return;
    }
    if (endpoints.some((other) => other.id === e.id)) {
      problems.push(
        e.id === DEFAULT_ENDPOINT_ID && url !== undefined
          ? `${field}.id "default" is APP_WEBHOOK_URL's endpoint; give this one another id.`
          : `${field}.id repeats "${e.id}"; endpoint ids must be unique.`,
      );
      return;
    }
    const problem = urlProblem(e.url);
    if (problem) problems.push(`${field}.url ${problem}.`);
    const own = e.secret === undefined ? [] : readSecrets(e.secret, `${field}.secret`, problems);
    if (e.secret === undefined && shared.length === 0) {
      problems.push(`${field} (${e.id}) has no secret: set APP_WEBHOOK_SECRET or ${field}.secret.`);
    }
    endpoints.push({
      id: e.id,
      url: e.url,
      events: e.events ? [...new Set(e.events)] : [...EVENT_TYPES],
      secrets: own.length > 0 ? own : shared,
      concurrency: e.concurrency ?? EVENT_DEFAULTS.concurrency,
    });
  });

  const retryScheduleMs = readSchedule(
    read('APP_WEBHOOK_RETRY_SCHEDULE') ?? EVENT_DEFAULTS.APP_WEBHOOK_RETRY_SCHEDULE,
    problems,
  );
  const rawTimeout = read('APP_WEBHOOK_TIMEOUT_MS') ?? EVENT_DEFAULTS.APP_WEBHOOK_TIMEOUT_MS;
  const timeoutMs = Number(rawTimeout);
  if (!/^\d+$/.test(rawTimeout) || timeoutMs < 100 || timeoutMs > 60_000) {
    problems.push(`APP_WEBHOOK_TIMEOUT_MS must be a whole number from 100 to 60000, got "${rawTimeout}".`);
  }
  const statusCallbacks: EndpointSettings | null =
    shared.length === 0
      ? null
      : {
          id: STATUS_CALLBACK_ENDPOINT,
          url: '',
          events: ['message.status', 'message.failed'],
          secrets: shared,
          concurrency: EVENT_DEFAULTS.statusCallbackConcurrency,
        };
  return { endpoints, statusCallbacks, retryScheduleMs, timeoutMs };
}

function urlProblem(value: string): string | null {
  const parsed = URL.canParse(value) ? new URL(value) : null;
  if (
    parsed === null ||
    (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') ||
    parsed.hostname === ''
  ) {
    return 'must be an absolute http(s) URL';
  }
  // fetch refuses them, so every delivery would fail; and they would be stored with every attempt's error.
  if (parsed.username !== '' || parsed.password !== '') {
    return 'must not carry a user name or password (user:pass@); the signature authenticates the request';
  }
  return null;
}

function readEventList(raw: string | undefined, problems: string[]): EventType[] {
  if (raw === undefined) return [...EVENT_TYPES];
  const events: EventType[] = [];
  for (const name of raw.split(',').map((v) => v.trim())) {
    if ((EVENT_TYPES as readonly string[]).includes(name)) events.push(name as EventType);
    else problems.push(`APP_WEBHOOK_EVENTS: "${name}" is not an event type (${EVENT_TYPES.join(', ')}).`);
  }
  return [...new Set(events)];
}

/** Standard Webhooks secrets: `whsec_` and the base64 of 24 to 64 random bytes; a comma separates several. */
function readSecrets(raw: string | undefined, name: string, problems: string[]): Buffer[] {
  if (raw === undefined) return [];
  const keys: Buffer[] = [];
  raw.split(',').forEach((entry, i) => {
    const secret = entry.trim();
    const base64 = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : null;
    const key =
      base64 !== null && /^[A-Za-z0-9+/]+={0,2}$/.test(base64) ? Buffer.from(base64, 'base64') : null;
    // Never echo a secret back: this message goes to the log.
    if (key === null || key.length < 24 || key.length > 64) {
      problems.push(
        `${name} entry ${i + 1} must be "whsec_" followed by the base64 of 24 to 64 random bytes ` +
          '(try: echo "whsec_$(openssl rand -base64 32)").',
      );
    } else keys.push(key);
  });
  return keys;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const MAX_WAIT_MS = 7 * 86_400_000;

/** `5s,5m,30m,2h,5h,10h` -> milliseconds. `none`: no retries. */
export function readSchedule(raw: string, problems: string[]): number[] {
  if (raw === 'none') return [];
  const steps: number[] = [];
  for (const entry of raw.split(',').map((v) => v.trim())) {
    const match = /^(\d+)(ms|s|m|h|d)$/.exec(entry);
    const ms = match ? Number(match[1]) * (UNIT_MS[match[2] as string] as number) : NaN;
    if (!match || ms > MAX_WAIT_MS) {
      problems.push(
        `APP_WEBHOOK_RETRY_SCHEDULE: "${entry}" must be a wait such as 500ms, 5s, 5m, 2h or 1d (at most 7d); ` +
          'the list is comma-separated, e.g. 5s,5m,30m,2h,5h,10h, or "none" for no retries.',
      );
      return [];
    }
    steps.push(ms);
  }
  if (steps.length > 30) problems.push('APP_WEBHOOK_RETRY_SCHEDULE lists more than 30 retries.');
  return steps;
}
