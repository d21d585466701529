import { SwitchboardError } from './errors.js';
import type { ProviderId } from './message.js';

export interface RouteRule {
  /** Matches a destination that starts with this (an E.164 prefix such as "+44"). */
  toPrefix: string | null;
  /** Matches a message sent from exactly this number. */
  from: string | null;
  provider: ProviderId;
}

/** A carrier that can send, and the sender it uses when a message names none. */
export interface SenderIdentity {
  from: string | null;
  /** The carrier can pick a number itself (Telnyx messaging profile, Twilio Messaging Service). */
  pool: boolean;
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
 * matches (destination prefix, sender), else the default. Switching carriers is a configuration change.
 */
export function chooseRoute(
  table: RoutingTable,
  to: string,
  from: string | null,
  requested?: ProviderId,
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
      (r) => (r.toPrefix === null || to.startsWith(r.toPrefix)) && (r.from === null || r.from === from),
    );
    provider = rule?.provider ?? table.defaultProvider;
  }
  if (provider === null) throw new SwitchboardError('no_provider_available');
  const sender = table.senders.get(provider);
  if (!sender)
    throw new SwitchboardError('provider_unavailable', `${provider} is not configured for sending.`);
  const chosen = from ?? sender.from ?? (sender.pool ? '' : null);
  if (chosen === null) {
    throw new SwitchboardError(
      'from_required',
      `No sender for ${provider}: pass "from", or configure providers.${provider}.from (or a messaging profile/service).`,
    );
  }
  return { provider, from: chosen };
}

/**
 * Where a message goes when `current` fails for carrier-side reasons: the carriers after it in the failover order
 * (wrapping round), skipping those already tried, those that cannot send, and those with no sender of their own.
 * A message failing over always takes the new carrier's own sender: numbers belong to a carrier.
 */
export function failoverCandidates(
  table: RoutingTable,
  current: ProviderId,
  tried: ReadonlySet<ProviderId>,
): Route[] {
  const order = table.failover;
  const start = order.indexOf(current);
  const rotated = start === -1 ? order : [...order.slice(start + 1), ...order.slice(0, start)];
  const routes: Route[] = [];
  for (const provider of rotated) {
    if (provider === current || tried.has(provider)) continue;
    const sender = table.senders.get(provider);
    if (!sender) continue;
    const from = sender.from ?? (sender.pool ? '' : null);
    if (from !== null) routes.push({ provider, from });
  }
  return routes;
}
