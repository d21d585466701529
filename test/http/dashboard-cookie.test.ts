import { describe, expect, it } from 'vitest';
import { dashboardCookiePath } from '../../src/http/dashboard.js';
import { API_KEY, startGateway } from '../helpers/gateway.js';

describe('dashboard session cookie', () => {
  it("takes its path from PUBLIC_BASE_URL's, falling back where a cookie path cannot hold it", () => {
    expect(dashboardCookiePath(null)).toBe('/dashboard');
    expect(dashboardCookiePath('https://sms.example.com')).toBe('/dashboard');
    expect(dashboardCookiePath('https://sms.example.com/a/b/')).toBe('/a/b/dashboard');
    expect(dashboardCookiePath('https://sms.example.com/a;b')).toBe('/dashboard');
  });

  it('follows PUBLIC_BASE_URL: its path prefix (behind a proxy) and https (Secure)', async () => {
    const gw = await startGateway({ PUBLIC_BASE_URL: 'https://sms.example.com/sms/' });
    try {
      const res = await fetch(`${gw.base}/dashboard/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ key: API_KEY }),
      });
      expect(res.status).toBe(200);
      const cookie = res.headers.get('set-cookie') ?? '';
      expect(cookie).toContain('Path=/sms/dashboard');
      expect(cookie).toContain('Secure');
      expect(cookie).toContain('HttpOnly');
      expect(cookie).toContain('SameSite=Strict');
    } finally {
      await gw.close();
    }
  });
});
