import { hash } from 'node:crypto';
import { DASHBOARD_SCRIPT } from './client-script.js';
import { LOGIN_SCRIPT } from './login-script.js';
import { STYLESHEET } from './style.js';

export interface Asset {
  contentType: string;
  body: string;
  /** A strong validator: the content's digest (assets change only with a new build). */
  etag: string;
}

function asset(contentType: string, body: string): Asset {
  return { contentType, body, etag: `"${hash('sha256', body, 'base64url').slice(0, 22)}"` };
}

/**
 * The files /dashboard/assets/:name serves, built from strings at start: no file system, no CDN (the dashboard
 * must work on a closed network). They are code, not data, so they are served without a session (the sign-in
 * page needs two of them).
 */
export const ASSETS: ReadonlyMap<string, Asset> = new Map([
  ['dashboard.css', asset('text/css; charset=utf-8', STYLESHEET)],
  ['dashboard.js', asset('text/javascript; charset=utf-8', DASHBOARD_SCRIPT)],
  ['login.js', asset('text/javascript; charset=utf-8', LOGIN_SCRIPT)],
]);
