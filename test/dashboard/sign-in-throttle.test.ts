import { describe, expect, it } from 'vitest';
import {
  clientOf,
  MAX_TRACKED_ADDRESSES,
  SignInThrottle,
  SIGN_IN_WINDOW_MS,
} from '../../src/dashboard/sign-in-throttle.js';

describe('SignInThrottle', () => {
  it('blocks an address that used its failures until the window from its first failure ends', () => {
    let now = 5_000;
    const throttle = new SignInThrottle({ maxFailures: 3, now: () => now });
    throttle.failed('10.0.0.1');
    now += 60_000;
    throttle.failed('10.0.0.1');
    expect(throttle.blockedFor('10.0.0.1')).toBe(0);
    throttle.failed('10.0.0.1');
    expect(throttle.blockedFor('10.0.0.1')).toBe(SIGN_IN_WINDOW_MS - 60_000);
    expect(throttle.blockedFor('10.0.0.2')).toBe(0);
    now = 5_000 + SIGN_IN_WINDOW_MS - 1;
    expect(throttle.blockedFor('10.0.0.1')).toBe(1);
    now += 1;
    expect(throttle.blockedFor('10.0.0.1')).toBe(0);
    // A new window: one failure is not a block, and the ended entry was forgotten.
    throttle.failed('10.0.0.1');
    expect(throttle.blockedFor('10.0.0.1')).toBe(0);
    expect(throttle.size).toBe(1);
  });

  it('stays bounded under a flood of addresses, forgetting the oldest first', () => {
    let now = 0;
    const throttle = new SignInThrottle({ maxFailures: 2, maxAddresses: 1_000, now: () => now });
    throttle.failed('192.0.2.1');
    throttle.failed('192.0.2.1');
    expect(throttle.blockedFor('192.0.2.1')).toBeGreaterThan(0);
    let largest = 0;
    for (let i = 0; i < 50_000; i++) {
      now += 1;
      throttle.failed(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
      largest = Math.max(largest, throttle.size);
    }
    expect(largest).toBe(1_000);
    // The flood pushed the oldest out: memory, not the block, is what is guaranteed.
    expect(throttle.blockedFor('192.0.2.1')).toBe(0);
    expect(throttle.size).toBe(1_000);
    // Once their windows have ended, the entries go at the next failure.
    now += SIGN_IN_WINDOW_MS;
    throttle.failed('192.0.2.9');
    expect(throttle.size).toBe(1);
  });

  it('bounds memory by default at MAX_TRACKED_ADDRESSES', () => {
    const throttle = new SignInThrottle();
    for (let i = 0; i < MAX_TRACKED_ADDRESSES + 500; i++) throttle.failed(`2001:db8:${i.toString(16)}::1`);
    expect(throttle.size).toBe(MAX_TRACKED_ADDRESSES);
  });

  it('counts IPv6 addresses per /64, and IPv4-mapped addresses as IPv4', () => {
    expect(clientOf('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(clientOf('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(clientOf('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientOf('::1')).toBe('0:0:0:0::/64');
    expect(clientOf('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(clientOf('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(clientOf('64:ff9b::192.0.2.7')).toBe('64:ff9b:0:0::/64');
    expect(clientOf('192.0.2.7')).toBe('192.0.2.7');
    const throttle = new SignInThrottle({ maxFailures: 2 });
    throttle.failed('2001:db8:1:2::a');
    throttle.failed('2001:db8:1:2::b');
    expect(throttle.blockedFor('2001:db8:1:2:ffff::c')).toBeGreaterThan(0);
    expect(throttle.blockedFor('2001:db8:1:3::a')).toBe(0);
  });

  it('checks its options', () => {
    expect(() => new SignInThrottle({ maxFailures: 0 })).toThrow(
      'Expected `maxFailures` to be a positive integer',
    );
    expect(() => new SignInThrottle({ windowMs: 1.5 })).toThrow(
      'Expected `windowMs` to be a positive integer',
    );
  });
});
