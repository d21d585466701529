import { ERRORS, SwitchboardError, type ErrorCode } from '../../core/errors.js';
import type { ProviderId } from '../../core/message.js';
import type { EventFilter, LaneAllowance } from '../../core/events.js';
import type { MessageFilter } from '../../core/store.js';
import type { Outcome } from './group-commit.js';
import type { PragmaName, WriteOp } from './sqlite-engine.js';

/** What the store's facade asks its worker; each request carries an id its response echoes. */
export type Request =
  | { id: number; op: 'write'; ops: WriteOp[] }
  | { id: number; op: 'getMessage'; messageId: string }
  | { id: number; op: 'listMessages'; filter: MessageFilter; page: { cursor?: string; limit: number } }
  | { id: number; op: 'isOptedOut'; phone: string; ourNumber: string }
  | { id: number; op: 'optedOutAmong'; phones: readonly string[]; ourNumber: string }
  | { id: number; op: 'existingIdempotencyKeys'; keys: readonly string[] }
  | { id: number; op: 'loadOutbox'; provider: ProviderId; afterId: string | null; limit: number }
  | {
      id: number;
      op: 'loadDueDeliveries';
      endpointId: string;
      now: number;
      exclude: readonly number[];
      limit: number;
      allowance?: LaneAllowance;
    }
  | { id: number; op: 'loadDeliveryOf'; endpointId: string; messageId: string }
  | { id: number; op: 'listEndpoints' }
  | { id: number; op: 'listApiKeys' }
  | { id: number; op: 'listEvents'; filter: EventFilter; page: { cursor?: string; limit: number } }
  | { id: number; op: 'getEvent'; eventId: string }
  | { id: number; op: 'pragma'; name: PragmaName; value?: number }
  | { id: number; op: 'ping' }
  | { id: number; op: 'probe' }
  | { id: number; op: 'close' };

export type Response = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError };

/** Unasked: a commit created event deliveries (the deliverer should look). */
export interface DeliveriesNotice {
  notice: 'deliveries';
}

/** The worker's first message: the database is open and migrated, or it could not be. */
export type Ready = { ready: true } | { ready: false; error: WireError };

export interface WorkerInit {
  path: string;
  minFreeDiskBytes?: number;
}

/** An error as it crosses the thread boundary: structured clone keeps message and name but not the class. */
export interface WireError {
  message: string;
  name: string;
  code?: string;
}

export function toWire(err: unknown): WireError {
  if (err instanceof SwitchboardError) return { message: err.message, name: err.name, code: err.code };
  if (err instanceof Error)
    return { message: err.message, name: err.name, code: (err as { code?: string }).code };
  return { message: String(err), name: 'Error' };
}

export function fromWire(wire: WireError): Error {
  if (wire.name === 'SwitchboardError' && wire.code !== undefined && Object.hasOwn(ERRORS, wire.code)) {
    return new SwitchboardError(wire.code as ErrorCode, wire.message);
  }
  const err = new Error(wire.message);
  err.name = wire.name;
  if (wire.code !== undefined) Object.assign(err, { code: wire.code });
  return err;
}

/** Write outcomes as they cross the boundary. */
export type WireOutcome = { ok: true; value: unknown } | { ok: false; error: WireError };

export function outcomesToWire(outcomes: Outcome[]): WireOutcome[] {
  return outcomes.map((o) => (o.ok ? o : { ok: false, error: toWire(o.error) }));
}
