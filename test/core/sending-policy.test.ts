import { describe, expect, it } from 'vitest';
import { retryDelay } from '../../src/core/backoff.js';
import { CircuitBreaker } from '../../src/core/circuit-breaker.js';
import { SegmentRateLimiter } from '../../src/core/rate-limiter.js';
import {
  chooseRoute,
  failoverCandidates,
  type RoutingTable,
  type SenderIdentity,
} from '../../src/core/routing.js';
import type { SwitchboardError } from '../../src/core/errors.js';
import type { Channel, ProviderId } from '../../src/core/message.js';

const TWILIO: ReadonlySet<Channel> = new Set(['sms', 'mms', 'whatsapp']);
const TELNYX: ReadonlySet<Channel> = new Set(['sms', 'mms']);
const code = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return (err as SwitchboardError).code;
  }
  return null;
};

describe('retryDelay', () => {
  const options = { baseDelayMs: 100, maxDelayMs: 1000 };
  it('draws uniformly up to an exponentially growing ceiling, capped (full jitter)', () => {
    expect(retryDelay(1, options, null, () => 0.999)).toBe(99);
    expect(retryDelay(3, options, null, () => 0.999)).toBe(399);
    expect(retryDelay(10, options, null, () => 0.999)).toBe(999);
    expect(retryDelay(3, options, null, () => 0)).toBe(0);
  });
  it("honours the carrier's Retry-After instead, within an hour", () => {
    expect(retryDelay(1, options, 2500, () => 0.5)).toBe(2500);
    expect(retryDelay(1, options, 10 * 3_600_000, () => 0.5)).toBe(3_600_000);
  });
});

describe('CircuitBreaker', () => {
  it('opens after the threshold, lets one probe through after the cooldown, and closes on its success', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ failureThreshold: 2, cooldownMs: 100 }, () => now);
    breaker.onFailure();
    expect(breaker.state).toBe('closed');
    breaker.onFailure();
    expect(breaker.state).toBe('open');
    expect(breaker.tryPass()).toBe(false);
    now = 100;
    expect(breaker.state).toBe('half_open');
    expect(breaker.tryPass()).toBe(true);
    expect(breaker.tryPass()).toBe(false); // one probe at a time
    breaker.onSuccess();
    expect(breaker.state).toBe('closed');
  });
  it('opens again for another cooldown when the probe fails', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 100 }, () => now);
    breaker.onFailure();
    now = 150;
    expect(breaker.tryPass()).toBe(true);
    breaker.onFailure();
    expect(breaker.state).toBe('open');
    expect(breaker.retryAt()).toBe(250);
  });
  it('validates its options like p-queue does', () => {
    expect(() => new CircuitBreaker({ failureThreshold: 0, cooldownMs: 1 })).toThrow(
      'Expected `failureThreshold` to be a positive integer, got `0`',
    );
  });
});

describe('SegmentRateLimiter', () => {
  it('validates its rate', () => {
    expect(() => new SegmentRateLimiter(0)).toThrow('Expected `mps` to be a number above 0 or null, got `0`');
    expect(() => new SegmentRateLimiter(Number.NaN)).toThrow();
  });
  it('lets the first reservation go at once and stops waits when aborted', async () => {
    const limiter = new SegmentRateLimiter(1, () => 0);
    await limiter.acquire(1); // at once: the clock never moves, so a wait would never end
    const controller = new AbortController();
    const waiting = limiter.acquire(1, controller.signal);
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow();
  });
});

describe('routing', () => {
  const table: RoutingTable = {
    defaultProvider: 'twilio',
    routes: [
      { toPrefix: '+44', from: null, channel: null, provider: 'telnyx' },
      { toPrefix: null, from: '+14155550199', channel: null, provider: 'telnyx' },
    ],
    senders: new Map<ProviderId, SenderIdentity>([
      ['twilio', { from: '+14155550100', pool: false, whatsappFrom: '+14155550155', channels: TWILIO }],
      ['telnyx', { from: null, pool: true, whatsappFrom: null, channels: TELNYX }],
    ]),
    failover: ['twilio', 'telnyx'],
  };
  it('takes the requested carrier, else the first matching rule, else the default', () => {
    expect(chooseRoute(table, '+447911123456', null)).toEqual({ provider: 'telnyx', from: '' });
    expect(chooseRoute(table, '+14155550123', '+14155550199')).toEqual({
      provider: 'telnyx',
      from: '+14155550199',
    });
    expect(chooseRoute(table, '+14155550123', null)).toEqual({ provider: 'twilio', from: '+14155550100' });
    expect(chooseRoute(table, '+447911123456', null, 'twilio').provider).toBe('twilio');
  });
  it('refuses a carrier that cannot send and a carrier with no sender', () => {
    const noTwilioFrom: RoutingTable = {
      ...table,
      senders: new Map<ProviderId, SenderIdentity>([
        ['twilio', { from: null, pool: false, whatsappFrom: null, channels: TWILIO }],
      ]),
    };
    expect(code(() => chooseRoute(noTwilioFrom, '+14155550123', null))).toBe('from_required');
    expect(code(() => chooseRoute(noTwilioFrom, '+14155550123', null, 'telnyx'))).toBe(
      'provider_unavailable',
    );
    expect(code(() => chooseRoute({ ...table, defaultProvider: null, routes: [] }, '+1', null))).toBe(
      'no_provider_available',
    );
  });
  it('fails over in order, wrapping round, skipping carriers tried or unable to send', () => {
    expect(failoverCandidates(table, 'twilio', new Set(['twilio']))).toEqual([
      { provider: 'telnyx', from: '' },
    ]);
    expect(failoverCandidates(table, 'telnyx', new Set(['telnyx']))).toEqual([
      { provider: 'twilio', from: '+14155550100' },
    ]);
    expect(failoverCandidates(table, 'telnyx', new Set(['telnyx', 'twilio']))).toEqual([]);
  });

  it('sends WhatsApp from the WhatsApp sender, refuses a carrier that cannot carry it, never an SMS number', () => {
    expect(chooseRoute(table, '+14155550123', null, undefined, 'whatsapp')).toEqual({
      provider: 'twilio',
      from: '+14155550155',
    });
    // A rule's carrier that cannot carry WhatsApp is refused, not replaced.
    expect(code(() => chooseRoute(table, '+447911123456', null, undefined, 'whatsapp'))).toBe(
      'unsupported_channel',
    );
    expect(code(() => chooseRoute(table, '+14155550123', null, 'telnyx', 'whatsapp'))).toBe(
      'unsupported_channel',
    );
    // A rule for the channel routes it; the SMS number is not assumed to be WhatsApp-enabled.
    const byChannel: RoutingTable = {
      ...table,
      routes: [{ toPrefix: null, from: null, channel: 'whatsapp', provider: 'twilio' }, ...table.routes],
    };
    expect(chooseRoute(byChannel, '+447911123456', null, undefined, 'whatsapp').provider).toBe('twilio');
    expect(chooseRoute(byChannel, '+447911123456', null).provider).toBe('telnyx');
    const noWhatsAppSender: RoutingTable = {
      ...table,
      senders: new Map<ProviderId, SenderIdentity>([
        ['twilio', { from: '+14155550100', pool: false, whatsappFrom: null, channels: TWILIO }],
      ]),
    };
    expect(code(() => chooseRoute(noWhatsAppSender, '+14155550123', null, undefined, 'whatsapp'))).toBe(
      'from_required',
    );
  });
  it('fails WhatsApp over only to carriers that carry it', () => {
    expect(failoverCandidates(table, 'twilio', new Set(['twilio']), 'whatsapp')).toEqual([]);
    expect(failoverCandidates(table, 'telnyx', new Set(['telnyx']), 'whatsapp')).toEqual([
      { provider: 'twilio', from: '+14155550155' },
    ]);
  });
});
