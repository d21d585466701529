import { accessSync, constants, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { knownMigrations, recordedMigrations, unknownMigrations } from './migration-journal.js';

export interface DatabaseReport {
  path: string;
  exists: boolean;
  /** Migrations applied, by tag. */
  applied: string[];
  /** Migrations not applied yet (the gateway and `switchboard migrate` apply them). */
  pending: string[];
  /**
   * Migrations applied by a newer version, unknown to this one (their `created_at`): the gateway refuses such a
   * database.
   */
  unknown: number[];
  /** API keys not revoked (0 before the api_keys migration). */
  activeApiKeys: number;
}

/**
 * Looks at a database without changing it (read-only, no migration), for `switchboard doctor` and `migrate`.
 * Throws, with SQLite's reason, when the file exists but cannot be read as a database; a missing file is
 * reported, with a check that its folder can be created or written.
 */
export function inspectDatabase(path: string): DatabaseReport {
  const migrations = knownMigrations();
  const none = { applied: [], pending: migrations.map((m) => m.tag), unknown: [], activeApiKeys: 0 };
  if (path === ':memory:') return { path, exists: false, ...none };
  if (!existsSync(path)) {
    let dir = dirname(path);
    while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
    try {
      accessSync(dir, constants.W_OK);
    } catch {
      throw new Error(`${path} does not exist and cannot be created: ${dir} is not writable.`);
    }
    return { path, exists: false, ...none };
  }
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    db.pragma('schema_version');
    const recorded = recordedMigrations(db);
    // Drizzle's migrator applies every migration newer than the last one recorded.
    const last = recorded.at(-1) ?? 0;
    const hasKeys = db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'api_keys'")
      .get();
    return {
      path,
      exists: true,
      applied: migrations.filter((m) => m.when <= last).map((m) => m.tag),
      pending: migrations.filter((m) => m.when > last).map((m) => m.tag),
      unknown: unknownMigrations(recorded, migrations),
      activeApiKeys: hasKeys
        ? (db.prepare('SELECT count(*) AS n FROM api_keys WHERE revoked_at IS NULL').get() as { n: number }).n
        : 0,
    };
  } finally {
    db.close();
  }
}
