import { databaseUrlOf } from '../config.js';
import { SqliteStore } from '../db/sqlite/sqlite.js';
import { inspectDatabase } from '../db/sqlite/inspect.js';
import { newerVersionMessage } from '../db/sqlite/migration-journal.js';
import { CliError, parse, type Command } from './command.js';

const USAGE = `Usage: switchboard migrate

Creates the database named by DATABASE_URL, or applies the migrations it lacks. The gateway does the same
at start; running it first (in a deploy step, say) keeps that out of the start. It reads only the database
settings, so it runs before carrier credentials or other settings are in place.`;

export const migrate: Command = async (argv) => {
  if (parse(argv, {}, USAGE) === null) return 0;
  const databaseUrl = databaseUrlOf();
  if (databaseUrl === ':memory:')
    throw new CliError('DATABASE_URL is :memory:; there is nothing to migrate.');
  let before;
  try {
    before = inspectDatabase(databaseUrl);
  } catch (err) {
    throw new CliError(`Cannot use the database at ${databaseUrl}: ${(err as Error).message}`);
  }
  if (before.unknown.length > 0) throw new CliError(newerVersionMessage(databaseUrl, before.unknown));
  try {
    const store = await SqliteStore.open({ path: databaseUrl });
    await store.close();
  } catch (err) {
    throw new CliError(`Migrating ${databaseUrl} failed: ${(err as Error).message}`);
  }
  const after = inspectDatabase(databaseUrl);
  const applied = before.pending.filter((tag) => after.applied.includes(tag));
  process.stdout.write(
    applied.length === 0
      ? `${databaseUrl} is up to date (${after.applied.length} migrations).\n`
      : `${before.exists ? 'Migrated' : 'Created'} ${databaseUrl}: applied ${applied.join(', ')}.\n`,
  );
  return 0;
};
