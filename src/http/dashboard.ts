import type { FastifyPluginAsync } from 'fastify';
import type { Dispatcher } from '../core/dispatcher.js';
import type { Store } from '../core/store.js';
import type { Activity } from '../dashboard/activity.js';
import type { EventDeliverer } from '../events/deliverer.js';
import type { KeyVerifier } from './auth.js';

export interface DashboardOptions {
  store: Store;
  keys: KeyVerifier;
  activity: Activity;
  dispatcher: Dispatcher;
  deliverer: EventDeliverer;
  /** Mark the session cookie Secure (PUBLIC_BASE_URL is https). */
  secureCookies: boolean;
}

/** STUB: the live dashboard at /dashboard (issue 5, item 5). */
export const dashboardRoutes: FastifyPluginAsync<DashboardOptions> = async () => {};
