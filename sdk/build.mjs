// Builds @fuli/sdk twice with plain tsc, ES modules (dist/esm) and CommonJS (dist/cjs), each with its .d.ts files.
// It is the prepare script: run by `npm pack` and when a project installs the folder (`npm i ./sdk`). The generated
// schema.d.ts is copied beside both: tsc does not emit declaration files it is given.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

rmSync(join(here, 'dist'), { recursive: true, force: true });
for (const [format, type] of [
  ['esm', 'module'],
  ['cjs', 'commonjs'],
]) {
  execFileSync(process.execPath, [tsc, '-p', join(here, `tsconfig.${format}.json`)], { stdio: 'inherit' });
  const out = join(here, 'dist', format);
  mkdirSync(out, { recursive: true });
  copyFileSync(join(here, 'schema.d.ts'), join(out, 'schema.d.ts'));
  writeFileSync(join(out, 'package.json'), `${JSON.stringify({ type }, null, 2)}\n`);
}
