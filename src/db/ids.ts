import { SwitchboardError } from '../core/errors.js';

// Ids are UUIDv7 (messages, events): time-ordered, so a time range is an id range and the id is the cursor.

/** The smallest UUIDv7 of a millisecond: its 48-bit timestamp, version 7, variant 10, the rest zero. */
export function firstIdAt(ms: number): string {
  const hex = Math.max(0, Math.min(ms, 2 ** 48 - 1))
    .toString(16)
    .padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8)}-7000-8000-000000000000`;
}

/** The cursor is the last id of the page, wrapped so clients treat it as opaque. */
export function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!UUID.test(id)) throw new SwitchboardError('invalid_cursor');
  return id;
}
