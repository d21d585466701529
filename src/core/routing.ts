import { SwitchboardError } from './errors.js';
import type { Channel, ProviderId } from './message.js';

/** The channel a request asks for: `sms` (an MMS when it has media or a group) or `whatsapp`. */
export type RequestChannel = 'sms' | 'whatsapp';

export interface RouteRule {
  /** Matches a destination that starts with this (an E.164 prefix such as "+44"). */
  toPrefix: string | null;
  /** Matches a message sent from exactly this number. */
  from: string | null;
  /** Matches messages on this channel only (`sms` covers MMS). */
  channel: RequestChannel | null;
  provider: ProviderId;
}

/** A carrier that can send, the channels it carries and the senders it uses when a message names none. */
export interface SenderIdentity {
  from: string | null;
  /** The carrier can pick a number itself (Telnyx messaging profile, Twilio Messaging Service). */
  pool: boolean;
  /** Its WhatsApp-enabled sender; null: a WhatsApp message needs `from` (or the pool). */
  whatsappFrom: string | null;
  channels: ReadonlySet<Channel>;
}

export interface RoutingTable {
  defaultProvider: ProviderId | null;
  routes: readonly RouteRule[];
  /** Only the carriers that can send. */
  senders: ReadonlyMap<ProviderId, SenderIdentity>;
  failover: readonly ProviderId[];
}

export interface Route {
  provider: ProviderId;
  /** '' when the carrier picks the number. */
  from: string;
}

/**
 * The carrier for a message, from configuration alone: the one the request names, else the first rule that
 * matches (destination prefix, sender, channel), else the default. Switching carriers is a configuration change.
 * A carrier that cannot carry the message's channel is refused (`unsupported_channel`), never replaced: the message
 * goes on the channel asked for or not at all.
 */
export function chooseRoute(
  table: RoutingTable,
  to: string,
  from: string | null,
  requested?: ProviderId,
  channel: RequestChannel = 'sms',
): Route {
  let provider: ProviderId | null;
  if (requested !== undefined) {
    if (!table.senders.has(requested)) {
      throw new SwitchboardError(
        'provider_unavailable',
        `${requested} is not configured for sending on this gateway.`,
      );
    }
    provider = requested;
  } else {
    const rule = table.routes.find(
      (r) =>
        (r.toPrefix === null || to.startsWith(r.toPrefix)) &&
        (r.from === null || r.from === from) &&
        (r.channel === null || r.channel === channel),
    );
    provider = rule?.provider ?? table.defaultProvider;
  }
  if (provider === null) throw new SwitchboardError('no_provider_available');
  const sender = table.senders.get(provider);
  if (!sender)
    throw new SwitchboardError('provider_unavailable', `${provider} is not configured for sending.`);
  if (channel === 'whatsapp' && !sender.channels.has('whatsapp')) {
    throw new SwitchboardError(
      'unsupported_channel',
      `This WhatsApp message is routed to ${provider}, which cannot send WhatsApp messages; name a provider that ` +
        'can ("provider": "twilio") or add a routing rule for the whatsapp channel.',
    );
  }
  const chosen = from ?? defaultSender(sender, channel);
  if (chosen === null) {
    throw new SwitchboardError(
      'from_required',
      channel === 'whatsapp'
        ? `No WhatsApp sender for ${provider}: pass "from" (a WhatsApp-enabled number), or configure ` +
            `providers.${provider}.whatsappFrom (or a messaging service with WhatsApp senders).`
        : `No sender for ${provider}: pass "from", or configure providers.${provider}.from (or a messaging ` +
            'profile/service).',
    );
  }
  return { provider, from: chosen };
}

/**
 * The sender a carrier uses for a message that names none: for WhatsApp its WhatsApp sender (an SMS number may
 * not be WhatsApp-enabled, so it is never assumed to be), else its `from`; '' when the carrier picks from its pool;
 * null when it has none.
 */
function defaultSender(sender: SenderIdentity, channel: RequestChannel): string | null {
  const own = channel === 'whatsapp' ? sender.whatsappFrom : sender.from;
  return own ?? (sender.pool ? '' : null);
}

/**
 * Where a message goes when `current` fails for carrier-side reasons: the carriers after it in the failover order
 * (wrapping round), skipping those already tried, those that cannot send, those that do not carry the message's
 * channel, and those with no sender of their own for it. A message failing over always takes the new carrier's own
 * sender: numbers belong to a carrier. (Whether the message fits the carrier's limits is checked by the caller.)
 */
export function failoverCandidates(
  table: RoutingTable,
  current: ProviderId,
  tried: ReadonlySet<ProviderId>,
  channel: RequestChannel = 'sms',
): Route[] {
  const order = table.failover;
  const start = order.indexOf(current);
  const rotated = start === -1 ? order : [...order.slice(start + 1), ...order.slice(0, start)];
  const routes: Route[] = [];
  for (const provider of rotated) {
    if (provider === current || tried.has(provider)) continue;
    const sender = table.senders.get(provider);
    if (!sender || (channel === 'whatsapp' && !sender.channels.has('whatsapp'))) continue;
    const from = defaultSender(sender, channel);
    if (from !== null) routes.push({ provider, from });
  }
  return routes;
}

/** The routing channel of a stored message's channel. */
export function requestChannel(channel: Channel): RequestChannel {
  return channel === 'whatsapp' ? 'whatsapp' : 'sms';
}
