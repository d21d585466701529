import { and, asc, eq, isNull } from 'drizzle-orm';
import type { ApiKeyRecord, Scope } from '../../core/api-keys.js';
import { apiKeys } from './schema.js';
import type { Db } from './statements.js';

/** The api_keys table: a handful of rows, read whole by every server every few seconds. */
export class ApiKeyRows {
  constructor(private readonly db: Db) {}

  create(record: ApiKeyRecord): void {
    this.db.insert(apiKeys).values(record).run();
  }

  revoke(id: string, at: number): ApiKeyRecord | null {
    // A second revocation keeps the first one's time.
    this.db
      .update(apiKeys)
      .set({ revokedAt: at })
      .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
      .run();
    const row = this.db.select().from(apiKeys).where(eq(apiKeys.id, id)).get();
    return row === undefined ? null : toRecord(row);
  }

  list(): ApiKeyRecord[] {
    return this.db
      .select()
      .from(apiKeys)
      .orderBy(asc(apiKeys.createdAt), asc(apiKeys.id))
      .all()
      .map(toRecord);
  }
}

function toRecord(row: typeof apiKeys.$inferSelect): ApiKeyRecord {
  return { ...row, scopes: row.scopes as Scope[] };
}
