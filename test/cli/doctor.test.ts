import { describe, expect, it } from 'vitest';
import { diagnose } from '../../src/cli/doctor.js';
import { TWILIO_SID, TWILIO_TOKEN } from '../helpers/carriers.js';

// diagnose() is what `switchboard doctor` prints, one finding per line (its process is tested in cli.test.ts).
const base = { DATABASE_URL: ':memory:', SWITCHBOARD_API_KEYS: 'doctor-test-key-0123456789' };
const twilio = { TWILIO_ACCOUNT_SID: TWILIO_SID, TWILIO_AUTH_TOKEN: TWILIO_TOKEN };

describe('doctor on the URL Twilio signs', () => {
  it('fails Twilio without PUBLIC_BASE_URL or TRUST_PROXY=true, with the start refusal', () => {
    expect(diagnose({ ...base, ...twilio })).toContainEqual({
      level: 'fail',
      text: expect.stringContaining('TWILIO_ACCOUNT_SID is set but PUBLIC_BASE_URL is not'),
    });
  });

  it('warns with TRUST_PROXY=true, and passes with an https PUBLIC_BASE_URL', () => {
    const proxied = diagnose({ ...base, ...twilio, TRUST_PROXY: 'true' });
    expect(proxied.filter((f) => f.level === 'fail')).toEqual([]);
    expect(proxied).toContainEqual({
      level: 'warn',
      text: expect.stringContaining('with TRUST_PROXY=true the URL Twilio signed is rebuilt'),
    });
    const pinned = diagnose({ ...base, ...twilio, PUBLIC_BASE_URL: 'https://sms.example.com' });
    expect(pinned.filter((f) => f.level === 'fail')).toEqual([]);
    expect(pinned).toContainEqual({
      level: 'ok',
      text: 'PUBLIC_BASE_URL is https (https://sms.example.com)',
    });
  });
});
