import { Script } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { ASSETS } from '../../src/dashboard/assets.js';
import { SERIES_COLORS } from '../../src/dashboard/client-script.js';
import { CONTENT_SECURITY_POLICY, dashboardPage, escapeHtml, loginPage } from '../../src/dashboard/page.js';

// The browser code is a string (no bundler): at least make sure it parses. The e2e test runs it in Chromium.

describe('dashboard assets', () => {
  it('serves scripts that parse, and a stylesheet', () => {
    for (const name of ['dashboard.js', 'login.js']) {
      const asset = ASSETS.get(name)!;
      expect(asset.contentType).toBe('text/javascript; charset=utf-8');
      expect(() => new Script(asset.body, { filename: name })).not.toThrow();
    }
    expect(ASSETS.get('dashboard.css')?.body).toContain('.card');
    expect(ASSETS.get('dashboard.js')?.body).toContain(JSON.stringify(SERIES_COLORS));
  });

  it('never puts data into the DOM as markup', () => {
    const script = ASSETS.get('dashboard.js')!.body + ASSETS.get('login.js')!.body;
    for (const sink of [
      'innerHTML',
      'outerHTML',
      'insertAdjacentHTML',
      'document.write',
      'eval(',
      'new Function',
    ]) {
      expect(script, sink).not.toContain(sink);
    }
  });

  it('has pages with no inline script or style, as the Content-Security-Policy requires', () => {
    expect(CONTENT_SECURITY_POLICY).toContain("default-src 'self'");
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    for (const page of [loginPage(), dashboardPage({ id: 'env-1', name: 'ops' })]) {
      expect(page).not.toMatch(/<script(?![^>]*\bsrc=)/);
      expect(page).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    }
  });

  it('escapes the key name in the page', () => {
    expect(escapeHtml(`<b>"x" & 'y'</b>`)).toBe('&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;');
    expect(dashboardPage({ id: 'abc', name: '<script>' })).toContain('key &lt;script&gt; (abc)');
  });
});
