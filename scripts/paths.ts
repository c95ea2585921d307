import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The directory holding package.json, whether a script runs from scripts/ or compiled from dist/scripts/. */
export function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = parent;
  }
  return dir;
}
