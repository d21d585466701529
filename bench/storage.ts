import Database from 'better-sqlite3';
import type { Ledger } from './load.js';

export interface StorageCheck {
  /** Inbound message rows of the provider. */
  rows: number;
  /** Distinct provider message ids among them (a lower number means a message was stored twice). */
  distinctIds: number;
  /** Requests answered 2xx (warm-up and measured run). */
  acked: number;
  /** Acknowledged but not stored: a durability bug. Must be 0. */
  missing: number;
  /** Stored but never answered because autocannon closed the connection at its deadline: expected, at most one per connection and run. */
  storedInFlight: number;
  /** Requests in flight when the runs stopped. */
  inFlight: number;
  /** Stored ids the client never sent, or sent and got a non-2xx for. Must be 0. */
  unexplained: number;
  ok: boolean;
}

/**
 * Reads the database after the gateway has exited (so every commit is final and the WAL checkpointed), read-only,
 * and reconciles it with what the client saw.
 */
export function checkStorage(dbPath: string, provider: 'twilio' | 'telnyx', ledger: Ledger): StorageCheck {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  let ids: string[];
  try {
    ids = db
      .prepare("SELECT provider_message_id FROM messages WHERE provider = ? AND direction = 'inbound'")
      .pluck()
      .all(provider)
      .filter((id): id is string => typeof id === 'string');
  } finally {
    db.close();
  }
  const stored = new Set(ids);
  let missing = 0;
  for (const id of ledger.acked) if (!stored.has(id)) missing++;
  let storedInFlight = 0;
  let unexplained = 0;
  for (const id of stored) {
    if (ledger.acked.has(id)) continue;
    if (ledger.pending.has(id)) storedInFlight++;
    else unexplained++;
  }
  return {
    rows: ids.length,
    distinctIds: stored.size,
    acked: ledger.acked.size,
    missing,
    storedInFlight,
    inFlight: ledger.pending.size,
    unexplained,
    ok: missing === 0 && unexplained === 0 && stored.size === ids.length,
  };
}
