import { existsSync } from 'node:fs';
import { databaseUrlOf } from '../config.js';
import { SqliteStore } from '../db/sqlite/sqlite.js';
import { CliError } from './command.js';

/**
 * Runs `work` on the gateway's own database (DATABASE_URL, as `serve` reads it, without the rest of its configuration), which must exist already. A
 * command that works on the gateway's data must not create a database: what it stored (a key) or cleaned (a
 * prune) would be somewhere the gateway never looks (another directory, the sandbox's database because carrier
 * credentials are unset). `memoryReason` says why `:memory:` makes no sense for the command.
 */
export async function withGatewayStore<T>(
  memoryReason: string,
  work: (store: SqliteStore, databaseUrl: string) => Promise<T>,
): Promise<T> {
  // The database settings alone: these commands need no carrier credentials.
  const databaseUrl = databaseUrlOf();
  if (databaseUrl === ':memory:') throw new CliError(`DATABASE_URL is :memory:; ${memoryReason}`);
  if (!existsSync(databaseUrl)) {
    throw new CliError(
      `There is no database at ${databaseUrl} (DATABASE_URL, from ${process.cwd()}). Run the command where and ` +
        "with the environment the gateway runs with, after 'switchboard migrate' (or the gateway's first start).",
    );
  }
  let store;
  try {
    store = await SqliteStore.open({ path: databaseUrl });
  } catch (err) {
    throw new CliError(`Cannot open the database at ${databaseUrl}: ${(err as Error).message}`);
  }
  try {
    return await work(store, databaseUrl);
  } finally {
    await store.close();
  }
}
