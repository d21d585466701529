// After tsc: the compiled gateway applies the SQL migrations at start, so they ship beside the compiled code in
// dist/; and the CLI (package.json bin) must be executable for `npx switchboard`.
import { chmodSync, cpSync, rmSync } from 'node:fs';

// One folder of migrations per database (src/db/<dialect>/migrations).
for (const dialect of ['sqlite']) {
  rmSync(`dist/db/${dialect}/migrations`, { recursive: true, force: true });
  cpSync(`src/db/${dialect}/migrations`, `dist/db/${dialect}/migrations`, { recursive: true });
}
chmodSync('dist/cli/main.js', 0o755);
