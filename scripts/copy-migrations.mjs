// After tsc: the compiled gateway applies the SQL migrations at start, so they ship beside the compiled code in
// dist/; and the CLI (package.json bin) must be executable for `npx switchboard`.
import { chmodSync, cpSync, rmSync } from 'node:fs';

rmSync('dist/db/migrations', { recursive: true, force: true });
cpSync('src/db/migrations', 'dist/db/migrations', { recursive: true });
chmodSync('dist/cli/main.js', 0o755);
