import { Type } from '@sinclair/typebox';
import type { ConfigFile } from './config-file.js';
import { isProviderId, PROVIDER_IDS, type ProviderId } from './core/message.js';
import { normalizeSender, toE164 } from './core/phone.js';
import type { RouteRule } from './core/routing.js';

/** The circuit breaker of one carrier: opens after this many provider-side failures in a row, probes after cooldown. */
export interface BreakerSettings {
  /** @default 5 */
  failureThreshold: number;
  /** @default 30000 */
  cooldownMs: number;
}

/** How Switchboard sends through one carrier. */
export interface ProviderSendSettings {
  /** The default sender (E.164, short code or alphanumeric id). */
  from: string | null;
  /** The WhatsApp-enabled sender (E.164) for WhatsApp messages that name none; Twilio only. */
  whatsappFrom: string | null;
  /** Telnyx: the messaging profile; with no `from`, Telnyx picks a number of the profile. */
  messagingProfileId: string | null;
  /** Twilio: a Messaging Service; with no `from`, Twilio picks a number of the service. */
  messagingServiceSid: string | null;
  /** Message segments per second the carrier allows; null: no limit. @default 10 */
  mps: number | null;
  /** API calls in flight at once. @default 4 */
  concurrency: number;
  /** Tries on this carrier (the first included) before the message fails over. @default 4 */
  maxAttempts: number;
  /** Per API call. @default 10000 */
  timeoutMs: number;
  circuitBreaker: BreakerSettings;
}

export interface SendingConfig {
  /** Null when no carrier can send (no credentials): the send API answers `no_provider_available`. */
  defaultProvider: ProviderId | null;
  /** Where a message goes when its carrier fails for carrier-side reasons, in order. */
  failover: ProviderId[];
  /** Only carriers that have sending credentials. */
  providers: Partial<Record<ProviderId, ProviderSendSettings>>;
  /** First match wins; the default provider carries the rest. */
  routes: RouteRule[];
  retry: { baseDelayMs: number; maxDelayMs: number };
}

export const SEND_DEFAULTS = {
  mps: 10,
  concurrency: 4,
  maxAttempts: 4,
  timeoutMs: 10_000,
  failureThreshold: 5,
  cooldownMs: 30_000,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
} as const;

const positive = (max: number) => Type.Number({ exclusiveMinimum: 0, maximum: max });
export const whole = (min: number, max: number) => Type.Integer({ minimum: min, maximum: max });

const ProviderFileSettings = Type.Object(
  {
    from: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
    whatsappFrom: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
    messagingProfileId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    messagingServiceSid: Type.Optional(Type.String({ pattern: '^MG[0-9a-fA-F]{32}$' })),
    mps: Type.Optional(Type.Union([positive(100_000), Type.Null()])),
    concurrency: Type.Optional(whole(1, 1000)),
    maxAttempts: Type.Optional(whole(1, 20)),
    timeoutMs: Type.Optional(whole(100, 120_000)),
    circuitBreaker: Type.Optional(
      Type.Object(
        {
          failureThreshold: Type.Optional(whole(1, 1000)),
          cooldownMs: Type.Optional(whole(10, 3_600_000)),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

/** The sending part of SWITCHBOARD_CONFIG (see config-file.ts). */
export const sendingFileFields = {
  defaultProvider: Type.Optional(Type.String()),
  failover: Type.Optional(Type.Array(Type.String(), { maxItems: 10 })),
  providers: Type.Optional(
    Type.Object(
      { twilio: Type.Optional(ProviderFileSettings), telnyx: Type.Optional(ProviderFileSettings) },
      { additionalProperties: false },
    ),
  ),
  routes: Type.Optional(
    Type.Array(
      Type.Object(
        {
          toPrefix: Type.Optional(Type.String({ pattern: '^\\+\\d{1,14}$' })),
          from: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
          channel: Type.Optional(Type.Union([Type.Literal('sms'), Type.Literal('whatsapp')])),
          provider: Type.String(),
        },
        { additionalProperties: false },
      ),
      { maxItems: 1000 },
    ),
  ),
  retry: Type.Optional(
    Type.Object(
      { baseDelayMs: Type.Optional(whole(1, 600_000)), maxDelayMs: Type.Optional(whole(1, 3_600_000)) },
      { additionalProperties: false },
    ),
  ),
};

/** What a carrier needs from the environment to send; null fields: not configured. */
export interface SendCredentials {
  twilio: boolean;
  telnyx: boolean;
}

export type Read = (name: string) => string | undefined;

/**
 * The sending half of the configuration: SWITCHBOARD_CONFIG (a JSON file) and the environment variables that cover
 * the simple case (DEFAULT_PROVIDER, TWILIO_FROM, TELNYX_FROM, TELNYX_MESSAGING_PROFILE_ID). Where both give a
 * value, the environment wins, as it does for every other setting. Problems are appended, each naming its field.
 */
export function readSendingConfig(
  read: Read,
  file: ConfigFile,
  credentials: SendCredentials,
  problems: string[],
): SendingConfig {
  const sendable = PROVIDER_IDS.filter((id) => credentials[id]);
  const missing = (id: ProviderId) =>
    id === 'twilio'
      ? 'Twilio has no credentials (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)'
      : 'Telnyx has no API key (TELNYX_API_KEY)';
  const provider = (value: string, field: string): ProviderId | null => {
    if (!isProviderId(value)) {
      problems.push(`${field} must be one of ${PROVIDER_IDS.join(', ')}, got "${value}".`);
      return null;
    }
    if (!credentials[value]) {
      problems.push(`${field} names ${value}, but ${missing(value)}.`);
      return null;
    }
    return value;
  };

  // Senders are stored as the API normalizes a request's `from` (E.164), so opt-outs and rules match either way.
  const sender = (value: string | undefined, field: string): string | null => {
    if (value === undefined) return null;
    const normalized = normalizeSender(value);
    if (normalized === null) {
      problems.push(
        `${field} must be a phone number in international form (+14155550100), a short code or an alphanumeric ` +
          `sender id, got "${value}".`,
      );
    }
    return normalized;
  };

  // A WhatsApp sender is a phone number (Twilio writes it `whatsapp:+1...`; either form is taken).
  const whatsappSender = (value: string | undefined, field: string): string | null => {
    if (value === undefined) return null;
    const number = toE164(value.replace(/^whatsapp:/i, ''));
    if (number === null) {
      problems.push(
        `${field} must be a WhatsApp-enabled phone number in international form (+14155550100), got "${value}".`,
      );
    }
    return number;
  };

  const providers: Partial<Record<ProviderId, ProviderSendSettings>> = {};
  for (const id of sendable) {
    const f = file.providers?.[id] ?? {};
    const envName = id === 'twilio' ? 'TWILIO_FROM' : 'TELNYX_FROM';
    const envFrom = read(envName);
    const envWhatsApp = id === 'twilio' ? read('TWILIO_WHATSAPP_FROM') : undefined;
    const settings: ProviderSendSettings = {
      from: sender(envFrom ?? f.from, envFrom !== undefined ? envName : `providers.${id}.from`),
      whatsappFrom: whatsappSender(
        envWhatsApp ?? f.whatsappFrom,
        envWhatsApp !== undefined ? 'TWILIO_WHATSAPP_FROM' : `providers.${id}.whatsappFrom`,
      ),
      messagingProfileId:
        id === 'telnyx' ? (read('TELNYX_MESSAGING_PROFILE_ID') ?? f.messagingProfileId ?? null) : null,
      messagingServiceSid:
        id === 'twilio' ? (read('TWILIO_MESSAGING_SERVICE_SID') ?? f.messagingServiceSid ?? null) : null,
      mps: f.mps === undefined ? SEND_DEFAULTS.mps : f.mps,
      concurrency: f.concurrency ?? SEND_DEFAULTS.concurrency,
      maxAttempts: f.maxAttempts ?? SEND_DEFAULTS.maxAttempts,
      timeoutMs: f.timeoutMs ?? SEND_DEFAULTS.timeoutMs,
      circuitBreaker: {
        failureThreshold: f.circuitBreaker?.failureThreshold ?? SEND_DEFAULTS.failureThreshold,
        cooldownMs: f.circuitBreaker?.cooldownMs ?? SEND_DEFAULTS.cooldownMs,
      },
    };
    if (id === 'twilio' && file.providers?.twilio?.messagingProfileId !== undefined) {
      problems.push(
        'providers.twilio.messagingProfileId is a Telnyx setting; Twilio uses messagingServiceSid.',
      );
    }
    if (id === 'telnyx' && f.whatsappFrom !== undefined) {
      problems.push(
        'providers.telnyx.whatsappFrom: Switchboard sends WhatsApp through Twilio only (Telnyx messaging cannot).',
      );
    }
    if (id === 'telnyx' && file.providers?.telnyx?.messagingServiceSid !== undefined) {
      problems.push(
        'providers.telnyx.messagingServiceSid is a Twilio setting; Telnyx uses messagingProfileId.',
      );
    }
    providers[id] = settings;
  }

  const rawDefault = read('DEFAULT_PROVIDER') ?? file.defaultProvider;
  const field = read('DEFAULT_PROVIDER') !== undefined ? 'DEFAULT_PROVIDER' : 'defaultProvider';
  const defaultProvider = rawDefault !== undefined ? provider(rawDefault, field) : (sendable[0] ?? null);

  const failover: ProviderId[] = [];
  (file.failover ?? []).forEach((value, i) => {
    const id = provider(value, `failover[${i}]`);
    if (id === null) return;
    if (failover.includes(id)) problems.push(`failover[${i}] repeats ${id}.`);
    else failover.push(id);
  });

  const routes: RouteRule[] = [];
  (file.routes ?? []).forEach((rule, i) => {
    if (rule.toPrefix === undefined && rule.from === undefined && rule.channel === undefined) {
      problems.push(`routes[${i}] needs "toPrefix", "from" or "channel" (or several) to match anything.`);
      return;
    }
    const id = provider(rule.provider, `routes[${i}].provider`);
    const from = sender(rule.from, `routes[${i}].from`);
    if (id !== null)
      routes.push({ toPrefix: rule.toPrefix ?? null, from, channel: rule.channel ?? null, provider: id });
  });

  const retry = {
    baseDelayMs: file.retry?.baseDelayMs ?? SEND_DEFAULTS.baseDelayMs,
    maxDelayMs: file.retry?.maxDelayMs ?? SEND_DEFAULTS.maxDelayMs,
  };
  if (retry.maxDelayMs < retry.baseDelayMs) {
    problems.push(
      `retry.maxDelayMs (${retry.maxDelayMs}) must be at least retry.baseDelayMs (${retry.baseDelayMs}).`,
    );
  }
  return { defaultProvider, failover, providers, routes, retry };
}
