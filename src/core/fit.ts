import { SwitchboardError } from './errors.js';
import type { Channel, Encoding, ProviderId } from './message.js';
import type { SendLimits } from './sending.js';

/** What decides whether a carrier can take a message. */
export interface MessageShape {
  /** As stored: `whatsapp`, `mms` (media or a group) or `sms`. */
  channel: Channel;
  body: string;
  mediaCount: number;
  cc: readonly string[];
  /** The sender the carrier would use ('' : one it picks); Telnyx encodes short-code traffic differently. */
  from: string;
}

/** The message measured by the carrier's own rules: what is stored and what its rate limiter is charged. */
export interface Fit {
  segments: number | null;
  encoding: Encoding | null;
}

/**
 * Checks a message against one carrier's channels and limits, counting its segments with that carrier's rules;
 * throws the SwitchboardError the send API answers (`unsupported_channel`, `body_too_long`, `too_many_media`,
 * `too_many_recipients`). Run when a message is routed and again for every carrier it could fail over to: a body
 * that fits one carrier can be too long for another.
 */
export function fitCarrier(provider: ProviderId, limits: SendLimits, message: MessageShape): Fit {
  const { channel, body, mediaCount, cc } = message;
  if (!limits.channels.has(channel)) {
    throw new SwitchboardError(
      'unsupported_channel',
      `${provider} cannot send ${channel === 'whatsapp' ? 'WhatsApp' : channel.toUpperCase()} messages.`,
    );
  }
  if (cc.length > 0) {
    if (limits.maxGroupRecipients === 0) {
      throw new SwitchboardError('unsupported_channel', `${provider} cannot send group MMS.`);
    }
    if (cc.length + 1 > limits.maxGroupRecipients) {
      throw new SwitchboardError(
        'too_many_recipients',
        `The group has ${cc.length + 1} recipients; ${provider} sends a group MMS to at most ${limits.maxGroupRecipients}.`,
      );
    }
  }
  if (limits.maxBodyLength !== null && body.length > limits.maxBodyLength) {
    throw new SwitchboardError(
      'body_too_long',
      `The body is ${body.length} characters; ${provider} accepts at most ${limits.maxBodyLength}.`,
    );
  }
  if (mediaCount > limits.maxMedia) {
    throw new SwitchboardError(
      'too_many_media',
      `The message has ${mediaCount} media URLs; ${provider} accepts at most ${limits.maxMedia}.`,
    );
  }
  // WhatsApp is not split into SMS segments; an MMS's text is not segmented either, but its count is kept.
  if (channel === 'whatsapp' || body.length === 0) return { segments: null, encoding: null };
  const counted = limits.segments(body, message.from);
  if (limits.maxSegments !== null && channel === 'sms' && counted.segments > limits.maxSegments) {
    throw new SwitchboardError(
      'body_too_long',
      `The body needs ${counted.segments} SMS segments in ${counted.encoding} as ${provider} encodes it; ` +
        `${provider} accepts at most ${limits.maxSegments}.`,
    );
  }
  return { segments: counted.segments, encoding: counted.encoding };
}

/** Like fitCarrier, but answers the refusal instead of throwing it (failover candidates). */
export function tryFit(
  provider: ProviderId,
  limits: SendLimits,
  message: MessageShape,
): { ok: true; fit: Fit } | { ok: false; error: SwitchboardError } {
  try {
    return { ok: true, fit: fitCarrier(provider, limits, message) };
  } catch (err) {
    if (err instanceof SwitchboardError) return { ok: false, error: err };
    throw err;
  }
}
