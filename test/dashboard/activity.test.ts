import { describe, expect, it } from 'vitest';
import type { ProviderId, Status } from '../../src/core/message.js';
import type { InboundMessageEvent, StatusEvent } from '../../src/core/provider.js';
import type { AttemptRecord } from '../../src/core/store.js';
import { Activity, BUCKET_MS, BUCKETS, MAX_FAILURE_ROWS } from '../../src/dashboard/activity.js';

const MINUTE = 60_000;
// A round minute, so that tests can place events in known buckets.
const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

function clock(start = T0) {
  const c = { t: start, now: () => c.t };
  return c;
}

function inbound(provider: ProviderId = 'twilio'): InboundMessageEvent {
  return {
    kind: 'inbound_message',
    dedupeKey: 'k',
    provider,
    providerMessageId: 'SM1',
    providerStatus: 'received',
    channel: 'sms',
    from: '+14155550123',
    to: '+14155550100',
    cc: [],
    body: 'hi',
    media: [],
    segments: 1,
    encoding: 'GSM-7',
    occurredAt: T0,
  };
}

function receipt(
  status: Status | null,
  provider: ProviderId = 'twilio',
  errorCode: string | null = null,
): StatusEvent {
  return {
    kind: 'status',
    dedupeKey: 'k',
    provider,
    providerMessageId: 'SM1',
    status,
    providerStatus: status ?? 'weird',
    errorCode,
    errorMessage: errorCode === null ? null : `carrier says ${errorCode}`,
    from: null,
    to: null,
    channel: 'sms',
    body: null,
    segments: null,
    encoding: null,
    occurredAt: T0,
    recipientOptedOut: false,
  };
}

function attempt(
  provider: ProviderId = 'twilio',
  errorClass: AttemptRecord['errorClass'] = null,
  errorCode: string | null = null,
): AttemptRecord {
  return {
    provider,
    errorClass,
    errorCode,
    errorMessage: errorCode === null ? null : `error ${errorCode}`,
    httpStatus: null,
    startedAt: T0,
    durationMs: 10,
  };
}

const byProvider = (a: Activity, providers: string[] = []) =>
  Object.fromEntries(a.summary(providers).providers.map((p) => [p.provider, p]));

describe('Activity', () => {
  it('counts per provider as the metrics do: inbound, accepted, final statuses and the delivery ratio', () => {
    const a = new Activity(clock().now);
    a.stored(inbound('twilio'), 'm1');
    a.stored(inbound('telnyx'), 'm2');
    a.sendDecision('accepted', attempt('twilio'));
    a.sendDecision('accepted', attempt('twilio'));
    a.sendDecision('accepted', attempt('twilio'));
    a.stored(receipt('sent'), 'm3');
    a.stored(receipt('delivered'), 'm3');
    a.stored(receipt('read'), 'm3'); // follows delivered: not counted again
    a.stored(receipt('delivered'), 'm4');
    a.stored(receipt('undelivered', 'twilio', '30003'), 'm5');
    a.stored(receipt(null), 'm6'); // a status Switchboard does not know: progress, not an outcome
    a.sendDecision('failed', attempt('twilio', 'recipient', '21211'));

    const p = byProvider(a);
    expect(p.twilio?.counts).toEqual({
      inbound: 1,
      accepted: 3,
      delivered: 2,
      undelivered: 1,
      failed: 1,
      retries: 0,
      failovers: 0,
    });
    expect(p.twilio?.deliveryRatio).toBe(0.5);
    expect(p.telnyx?.counts.inbound).toBe(1);
    expect(p.telnyx?.deliveryRatio).toBeNull();
  });

  it('lists the providers asked for even before anything is counted, in that order', () => {
    const a = new Activity(clock().now);
    a.stored(inbound('telnyx'), 'm');
    expect(a.summary(['twilio', 'telnyx']).providers.map((p) => p.provider)).toEqual(['twilio', 'telnyx']);
    expect(byProvider(a, ['twilio']).twilio).toMatchObject({
      counts: { inbound: 0, accepted: 0 },
      ratesPerMinute: { inbound: 0, accepted: 0, delivered: 0, failed: 0 },
      deliveryRatio: null,
    });
  });

  it('groups failures by provider and error code, newest first, retried apart from failed for good', () => {
    const c = clock();
    const a = new Activity(c.now);
    a.sendDecision('retry', attempt('twilio', 'transient', 'timeout'));
    c.t += 1000;
    a.sendDecision('failover', attempt('twilio', 'provider', '20500'));
    c.t += 1000;
    a.sendDecision('retry', attempt('twilio', 'transient', 'timeout'));
    c.t += 1000;
    a.sendDecision('failed', attempt('telnyx', 'circuit_open', null));
    c.t += 1000;
    a.stored(receipt('failed', 'telnyx', '40300'), 'm');
    c.t += 1000;
    a.stored(receipt('undelivered', 'telnyx', null), 'm');

    const { failures } = a.summary();
    expect(failures.map((f) => [f.provider, f.code, f.errorClass, f.retried, f.failed])).toEqual([
      ['telnyx', 'undelivered', null, 0, 1],
      ['telnyx', '40300', null, 0, 1],
      ['telnyx', 'circuit_open', 'circuit_open', 0, 1],
      ['twilio', 'timeout', 'transient', 2, 0],
      ['twilio', '20500', 'provider', 1, 0],
    ]);
    expect(failures[1]).toMatchObject({
      lastAt: new Date(T0 + 4000).toISOString(),
      lastMessage: 'carrier says 40300',
    });
    const twilio = byProvider(a).twilio!.counts;
    expect([twilio.retries, twilio.failovers, twilio.failed]).toEqual([2, 1, 0]);
  });

  it('keeps at most MAX_FAILURE_ROWS failure rows, dropping the one seen least recently', () => {
    const c = clock();
    const a = new Activity(c.now);
    for (let i = 0; i < MAX_FAILURE_ROWS; i++) {
      c.t += 1;
      a.sendDecision('failed', attempt('twilio', 'recipient', `code-${i}`));
    }
    c.t += 1;
    a.sendDecision('failed', attempt('twilio', 'recipient', 'code-0')); // seen again: now the freshest
    c.t += 1;
    a.sendDecision('failed', attempt('twilio', 'recipient', 'new'));
    const codes = a.summary().failures.map((f) => f.code);
    expect(codes).toHaveLength(MAX_FAILURE_ROWS);
    expect(codes.slice(0, 2)).toEqual(['new', 'code-0']);
    expect(codes).not.toContain('code-1');
    expect(a.summary().failures[1]?.failed).toBe(2);
  });

  it('buckets throughput per minute over the last hour, oldest first, the current minute last', () => {
    const c = clock();
    const a = new Activity(c.now);
    a.sendDecision('accepted', attempt('twilio'));
    a.sendDecision('accepted', attempt('twilio'));
    a.stored(inbound('twilio'), 'm');
    c.t = T0 + 59_999; // same minute
    a.sendDecision('accepted', attempt('twilio'));
    c.t = T0 + 3 * MINUTE + 5_000;
    a.sendDecision('accepted', attempt('telnyx'));
    a.stored(inbound('telnyx'), 'm');

    const { throughput } = a.summary(['twilio', 'telnyx']);
    expect(throughput.bucketMs).toBe(BUCKET_MS);
    expect(throughput.start).toBe(new Date(T0 + 3 * MINUTE - (BUCKETS - 1) * MINUTE).toISOString());
    const series = Object.fromEntries(
      throughput.series.map((s) => [`${s.provider}:${s.direction}`, s.points]),
    );
    expect(Object.keys(series)).toEqual([
      'twilio:outbound',
      'twilio:inbound',
      'telnyx:outbound',
      'telnyx:inbound',
    ]);
    for (const points of Object.values(series)) expect(points).toHaveLength(BUCKETS);
    // T0's minute is 3 minutes before the current one: index BUCKETS - 4.
    expect(series['twilio:outbound']?.slice(-4)).toEqual([3, 0, 0, 0]);
    expect(series['twilio:inbound']?.slice(-4)).toEqual([1, 0, 0, 0]);
    expect(series['telnyx:outbound']?.slice(-4)).toEqual([0, 0, 0, 1]);
    expect(series['telnyx:inbound']?.at(-1)).toBe(1);
    expect(series['twilio:outbound']?.reduce((x, y) => x + y)).toBe(3);
  });

  it('drops minutes older than the hour, and reuses a ring slot for the minute an hour later', () => {
    const c = clock();
    const a = new Activity(c.now);
    a.sendDecision('accepted', attempt('twilio'));
    c.t = T0 + (BUCKETS - 1) * MINUTE; // the last minute T0 is still in
    let points = a.summary().throughput.series[0]!.points;
    expect(points[0]).toBe(1);
    c.t = T0 + BUCKETS * MINUTE; // T0 has left the hour; this minute shares its slot
    points = a.summary().throughput.series[0]!.points;
    expect(points.reduce((x, y) => x + y)).toBe(0);
    a.sendDecision('accepted', attempt('twilio'));
    points = a.summary().throughput.series[0]!.points;
    expect(points.at(-1)).toBe(1); // a fresh bucket, not T0's count plus one
    expect(points.reduce((x, y) => x + y)).toBe(1);
    // The totals are since start, not the hour.
    expect(byProvider(a).twilio?.counts.accepted).toBe(2);
  });

  it('gives rates per minute over the last five minutes, or since start when that is shorter (at least 1)', () => {
    const c = clock(T0 + 30_000);
    const a = new Activity(c.now);
    for (let i = 0; i < 6; i++) a.sendDecision('accepted', attempt('twilio'));
    // 6 in the first half minute: counted over a minute, not extrapolated to 12/min.
    expect(byProvider(a).twilio?.ratesPerMinute.accepted).toBe(6);

    c.t = T0 + 2 * MINUTE + 30_000; // two minutes since start
    expect(byProvider(a).twilio?.ratesPerMinute.accepted).toBe(3);

    // One per minute for ten minutes: the rate covers the last five only.
    for (let m = 3; m < 13; m++) {
      c.t = T0 + m * MINUTE;
      a.sendDecision('accepted', attempt('twilio'));
      a.stored(inbound('twilio'), 'm');
      a.stored(receipt('failed', 'twilio', '1'), 'm');
      a.stored(receipt('undelivered', 'twilio', '2'), 'm');
    }
    c.t = T0 + 13 * MINUTE - 1; // the end of the window's last minute: five whole minutes
    expect(byProvider(a).twilio?.ratesPerMinute).toEqual({
      inbound: 1,
      accepted: 1,
      delivered: 0,
      failed: 2,
    });
  });

  it('counts event delivery attempts per endpoint and outcome', () => {
    const a = new Activity(clock().now);
    a.eventDelivery('default', 'retry');
    a.eventDelivery('default', 'retry');
    a.eventDelivery('default', 'dead');
    a.eventDelivery('default', 'delivered');
    a.eventDelivery('status-callback', 'disabled');
    const summary = a.summary();
    expect(summary.deliveries).toEqual([
      { endpointId: 'default', attempts: { delivered: 1, retry: 2, dead: 1, disabled: 0 } },
      { endpointId: 'status-callback', attempts: { delivered: 0, retry: 0, dead: 0, disabled: 1 } },
    ]);
    expect(summary.deliveryAttempts).toBe(5);
    expect(summary.since).toBe(new Date(T0).toISOString());
  });
});
