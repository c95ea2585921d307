/**
 * `npm run bench`: runs every benchmark (each bench/*.ts, compiled to dist/bench/; not the folders below bench/, such
 * as bench/support/ with the shared harness) one after the other, never in parallel (they would measure each other),
 * and fails when any of them exits non-zero: a missed target or a failed check.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths';

function main(): number {
  const root = repoRoot();
  const names = readdirSync(join(root, 'bench'), { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts'))
    .map((entry) => entry.name.slice(0, -'.ts'.length))
    .sort();
  const failed: string[] = [];
  for (const name of names) {
    console.log(`\n=== bench/${name}.ts`);
    const result = spawnSync(process.execPath, [join(root, 'dist', 'bench', `${name}.js`)], {
      stdio: 'inherit',
      cwd: root,
    });
    if (result.status !== 0) failed.push(`${name} (exit ${result.status ?? result.signal})`);
  }
  console.log(failed.length === 0 ? `\nall ${names.length} benchmarks passed` : `\nfailed: ${failed.join(', ')}`);
  return failed.length === 0 ? 0 : 1;
}

process.exitCode = main();
