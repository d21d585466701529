// The compiled gateway applies the SQL migrations at start, so they ship beside the compiled code in dist/.
import { cpSync, rmSync } from 'node:fs';

rmSync('dist/db/migrations', { recursive: true, force: true });
cpSync('src/db/migrations', 'dist/db/migrations', { recursive: true });
