import { defineConfig } from 'drizzle-kit';

// `npm run db:generate` writes SQL migrations into src/db/migrations from src/db/schema.ts.
// They are committed and applied by the gateway at start (src/db/sqlite.ts).
export default defineConfig({
  dialect: 'sqlite',
  schema: './src/db/schema.ts',
  out: './src/db/migrations',
});
