import { serve } from './server.js';

// The gateway's process entry (`npm start`); `switchboard serve` (src/cli) runs the same.
serve().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
