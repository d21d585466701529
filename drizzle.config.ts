import { defineConfig } from 'drizzle-kit';

// `npm run db:generate` writes SQL migrations into src/db/sqlite/migrations from src/db/sqlite/schema.ts.
// They are committed and applied by the gateway at start (src/db/sqlite/sqlite.ts).
export default defineConfig({
  dialect: 'sqlite',
  schema: './src/db/sqlite/schema.ts',
  out: './src/db/sqlite/migrations',
});
