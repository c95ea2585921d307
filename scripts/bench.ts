/**
 * `npm run bench`: runs every benchmark (each bench/*.ts, compiled to dist/bench/) one after the other, never in
 * parallel (they would measure each other), and fails when any of them misses its target.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths';

function main(): number {
  const root = repoRoot();
  const names = readdirSync(join(root, 'bench'))
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .map((file) => file.slice(0, -'.ts'.length))
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
  console.log(
    failed.length === 0 ? `\nall ${names.length} benchmarks met their targets` : `\nfailed: ${failed.join(', ')}`,
  );
  return failed.length === 0 ? 0 : 1;
}

process.exitCode = main();
