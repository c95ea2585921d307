/**
 * `npm run openapi:check` (CI): regenerates openapi/openapi.json and sdk/schema.d.ts, lints the document with
 * Redocly (redocly.yaml: the recommended rules; exceptions only in .redocly.lint-ignore.yaml) and fails when lint
 * reports any error or warning, or when git sees changes or untracked files under openapi/ or sdk/ after
 * regeneration: the committed document and SDK must be exactly what the code produces.
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { join } from 'node:path';
import { OPENAPI_FILE, writeOpenApi } from './openapi';
import { repoRoot } from './paths';

const DRIFT_PATHS = ['openapi', 'sdk'];

interface LintProblem {
  ruleId: string;
  severity: 'error' | 'warn';
  message: string;
  location?: { source?: { ref?: string }; pointer?: string }[];
}

interface LintReport {
  totals: { errors: number; warnings: number; ignored: number };
  problems: LintProblem[];
}

function run(command: string, args: string[], options: SpawnSyncOptions = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', ...options });
  if (result.error) throw result.error;
  return { status: result.status ?? 1, stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? '') };
}

/** Runs `npm run sdk`, so that the openapi-typescript command line lives in package.json only. */
function generateSdk(root: string): string[] {
  const result = run('npm', ['run', '--silent', 'sdk'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  return result.status === 0 ? [] : [`npm run sdk failed (exit ${result.status})`];
}

function lint(root: string): string[] {
  const result = run(join(root, 'node_modules', '.bin', 'redocly'), ['lint', '--format=json'], {
    cwd: root,
    // Quiet and offline: no telemetry, no update notice in CI logs.
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
  });
  let report: LintReport;
  try {
    report = JSON.parse(result.stdout) as LintReport;
  } catch {
    return [`redocly lint did not produce a report (exit ${result.status}):\n${result.stderr.trim()}`];
  }
  const { errors, warnings, ignored } = report.totals;
  console.log(`redocly lint: ${errors} errors, ${warnings} warnings (${ignored} listed in .redocly.lint-ignore.yaml)`);
  return report.problems.map((problem) => {
    const where = problem.location?.[0];
    const at = where ? ` at ${where.source?.ref ?? OPENAPI_FILE}${where.pointer ?? ''}` : '';
    return `redocly ${problem.severity === 'warn' ? 'warning' : 'error'} ${problem.ruleId}: ${problem.message}${at}`;
  });
}

function drift(root: string): string[] {
  const inside = run('git', ['rev-parse', '--is-inside-work-tree'], { cwd: root });
  if (inside.status !== 0 || inside.stdout.trim() !== 'true') {
    return ['not a git work tree: cannot compare the generated files with the committed ones'];
  }
  const problems: string[] = [];
  const changed = run('git', ['diff', '--name-only', '--exit-code', '--', ...DRIFT_PATHS], { cwd: root });
  if (changed.status !== 0) {
    const files = changed.stdout.trim().split('\n').filter(Boolean);
    problems.push(
      `these files differ from what git has (generated output drifted, or uncommitted edits):\n    ${files.join('\n    ')}\n` +
        '  run `npm run openapi && npm run sdk`, review `git diff -- openapi sdk` and commit the result',
    );
  }
  const untracked = run('git', ['ls-files', '--others', '--exclude-standard', '--', ...DRIFT_PATHS], { cwd: root });
  const files = untracked.stdout.trim().split('\n').filter(Boolean);
  if (files.length > 0) {
    problems.push(`untracked files (commit them):\n    ${files.join('\n    ')}`);
  }
  return problems;
}

async function main(): Promise<number> {
  const root = repoRoot();
  const problems: string[] = [];
  console.log(`wrote ${await writeOpenApi(root)}`);
  problems.push(...generateSdk(root));
  problems.push(...lint(root));
  problems.push(...drift(root));
  if (problems.length > 0) {
    console.error(`\nopenapi:check failed:\n- ${problems.join('\n- ')}`);
    return 1;
  }
  console.log('openapi:check passed: the OpenAPI document and the SDK types are lint-clean and committed as generated');
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`openapi:check failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
