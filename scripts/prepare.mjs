/* global console, process -- a Node script */
// npm's `prepare` (run by `npm ci` and `npm install`): builds dist/, which the CLI (package.json bin) runs. A
// production install without dev dependencies (`npm ci --omit=dev`) has no TypeScript to build with: it must
// ship dist/ already built, so the build is skipped there rather than failing the install.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

try {
  createRequire(import.meta.url).resolve('typescript');
} catch {
  console.log('prepare: TypeScript is not installed (a production install); dist/ is not rebuilt.');
  process.exit(0);
}
const build = spawnSync('npm', ['run', 'build'], { stdio: 'inherit', shell: process.platform === 'win32' });
process.exit(build.status ?? 1);
