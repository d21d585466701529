import { describe, expect, it } from 'vitest';
import { SESSION_TTL_MS, Sessions } from '../../src/dashboard/sessions.js';

describe('Sessions', () => {
  it('finds a session by its token until it expires (12 h by default), then forgets it', () => {
    let now = 1_000_000;
    const sessions = new Sessions({ now: () => now });
    const { token, expiresAt } = sessions.create('key-1');
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 random bytes
    expect(expiresAt).toBe(now + SESSION_TTL_MS);
    expect(sessions.find(token)).toEqual({ keyId: 'key-1', expiresAt });
    expect(sessions.find(`${token}x`)).toBeNull();
    expect(sessions.find(token.slice(1))).toBeNull();
    now = expiresAt - 1;
    expect(sessions.find(token)?.keyId).toBe('key-1');
    now = expiresAt;
    expect(sessions.find(token)).toBeNull();
    expect(sessions.size).toBe(0);
  });

  it('gives every session its own token, and deletes one on sign-out', () => {
    const sessions = new Sessions();
    const a = sessions.create('key-1');
    const b = sessions.create('key-1');
    expect(a.token).not.toBe(b.token);
    sessions.delete(a.token);
    sessions.delete('unknown');
    expect(sessions.find(a.token)).toBeNull();
    expect(sessions.find(b.token)?.keyId).toBe('key-1');
  });

  it('holds at most `max` sessions, dropping expired ones first, then the oldest', () => {
    let now = 0;
    const sessions = new Sessions({ max: 3, ttlMs: 100, now: () => now });
    const first = sessions.create('a');
    now = 50;
    const second = sessions.create('b');
    const third = sessions.create('c');
    const fourth = sessions.create('d'); // full: the oldest goes
    expect(sessions.size).toBe(3);
    expect(sessions.find(first.token)).toBeNull();
    expect(sessions.find(second.token)?.keyId).toBe('b');
    now = 160; // second, third and fourth have expired
    const fifth = sessions.create('e');
    expect(sessions.size).toBe(1);
    expect(sessions.find(third.token)).toBeNull();
    expect(sessions.find(fourth.token)).toBeNull();
    expect(sessions.find(fifth.token)?.keyId).toBe('e');
  });

  it('validates its options', () => {
    expect(() => new Sessions({ ttlMs: 0 })).toThrow('Expected `ttlMs` to be a positive integer, got 0');
    expect(() => new Sessions({ max: 1.5 })).toThrow('Expected `max` to be a positive integer, got 1.5');
  });
});
