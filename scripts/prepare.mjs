/* global console, process, URL -- a Node script */
// npm's `prepare` (run by `npm ci` and `npm install`): builds dist/, which the CLI (package.json bin) runs. A
// production install without dev dependencies (`npm ci --omit=dev`) has no TypeScript to build with: it must
// ship dist/ already built, so the build is skipped there rather than failing the install. TypeScript is looked
// for in this project's own node_modules only (not a parent directory's, which a build would not use).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

if (!existsSync(new URL('../node_modules/typescript/package.json', import.meta.url))) {
  console.log('prepare: TypeScript is not installed (a production install); dist/ is not rebuilt.');
  process.exit(0);
}
const build = spawnSync('npm', ['run', 'build'], { stdio: 'inherit', shell: process.platform === 'win32' });
process.exit(build.status ?? 1);
