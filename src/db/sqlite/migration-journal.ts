import { readFileSync } from 'node:fs';
import type Database from 'better-sqlite3';

const JOURNAL = new URL('./migrations/meta/_journal.json', import.meta.url);

export interface KnownMigration {
  tag: string;
  /** drizzle's `folderMillis`: what its migrator records as `created_at` once the migration is applied. */
  when: number;
}

/** The migrations this build ships, oldest first. */
export function knownMigrations(): KnownMigration[] {
  const journal = JSON.parse(readFileSync(JOURNAL, 'utf8')) as { entries: KnownMigration[] };
  return journal.entries;
}

/**
 * The `created_at` of every migration recorded in the database, oldest first (none before the first migration).
 * drizzle records one row per applied migration in `__drizzle_migrations`.
 */
export function recordedMigrations(db: Database.Database): number[] {
  const table = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'")
    .get();
  if (!table) return [];
  const rows = db.prepare('SELECT created_at AS at FROM __drizzle_migrations ORDER BY created_at').all() as {
    at: number | string | null;
  }[];
  return rows.map((r) => Number(r.at));
}

/**
 * Migrations recorded in the database that this build does not ship: a newer version migrated it. drizzle's
 * migrator compares only the latest `created_at` and would start on a schema this code does not know, so the
 * gateway, `migrate` and `doctor` refuse such a database instead.
 */
export function unknownMigrations(recorded: number[], known: KnownMigration[] = knownMigrations()): number[] {
  const shipped = new Set(known.map((m) => m.when));
  return recorded.filter((at) => !shipped.has(at));
}

/** The one line that says why a database from a newer version is refused. */
export function newerVersionMessage(path: string, unknown: number[]): string {
  const count = `${unknown.length} migration${unknown.length === 1 ? '' : 's'}`;
  return (
    `The database at ${path} was migrated by a newer version of Switchboard (${count} this version does not ` +
    'know); run that version or a later one, or restore a backup taken before the upgrade.'
  );
}
