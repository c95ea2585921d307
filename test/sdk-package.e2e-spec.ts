/**
 * @fuli/sdk as an integrator gets it: `npm pack` in sdk/ (its prepare script builds it), the tarball installed into a
 * scratch ES module project and a scratch CommonJS project (offline: its declared dependencies are linked from this
 * repository's node_modules), and the sdk/ folder of a fresh clone copied into a third project and installed with
 * `npm i ./sdk`; a small consumer compiled there with TypeScript against the package's own .d.ts and run against
 * this test server.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startTestApp, TEST_ADMIN_CLIENT_ID, TEST_ADMIN_CLIENT_SECRET, type TestApp } from './support/app';
import { newCreditCode } from './support/fixtures';

const ROOT = resolve(__dirname, '..');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** The README's example, shortened: a token, a creating POST, pagination, a typed problem, webhook verification. */
const CONSUMER = `import { createFuliClient, isProblem, paginate, verifyWebhook, WebhookVerificationError } from '@fuli/sdk';
import type { components } from '@fuli/sdk';

type Enterprise = components['schemas']['EnterpriseDto'];

async function main(): Promise<void> {
  const fuli = createFuliClient({
    baseUrl: process.env.FULI_URL!,
    clientId: process.env.FULI_CLIENT_ID!,
    clientSecret: process.env.FULI_CLIENT_SECRET!,
    retry: { maxRetries: 3, timeoutMs: 10_000 },
  });
  const created = await fuli.POST('/v1/admin/enterprises', {
    body: { name: process.env.ENTERPRISE_NAME!, credit_code: process.env.CREDIT_CODE! },
  });
  if (!created.data) throw new Error(JSON.stringify(created.error));
  const enterprise: Enterprise = created.data;

  let walked = 0;
  let found = false;
  for await (const each of paginate((starting_after) =>
    fuli.GET('/v1/admin/enterprises', { params: { query: { limit: 2, starting_after } } }),
  )) {
    walked++;
    if (each.id === enterprise.id) {
      found = true;
      break;
    }
  }

  const missing = await fuli.GET('/v1/enterprises/{id}', { params: { path: { id: 'ent_00000000000000000000000000' } } });
  let webhook = 'accepted';
  try {
    verifyWebhook('whsec_' + Buffer.alloc(32, 1).toString('base64'), '{}', {
      'webhook-id': 'msg_1',
      'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
      'webhook-signature': 'v1,bm90IGEgc2lnbmF0dXJl',
    });
  } catch (error) {
    webhook = error instanceof WebhookVerificationError ? 'rejected' : String(error);
  }
  console.log(
    JSON.stringify({
      module: typeof require === 'function' ? 'commonjs' : 'esm',
      enterprise: enterprise.id,
      idempotent: created.response.headers.get('idempotent-replayed') ?? 'first',
      found,
      walked,
      missing: isProblem(missing.error) ? missing.error.code : null,
      webhook,
    }),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
`;

/** Asynchronous, so that the test server in this process keeps answering while the consumer runs. */
async function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await promisify(execFile)(command, args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', ...env },
  });
  return stdout;
}

describe('@fuli/sdk packed, installed and used from ESM and CommonJS projects', () => {
  let app: TestApp;
  let scratch: string;
  let tarball: string;

  beforeAll(async () => {
    app = await startTestApp();
    scratch = mkdtempSync(join(tmpdir(), 'fuli-sdk-consumer-'));
    // The prepare script builds dist/ (ESM + CJS + .d.ts) first.
    const packed = JSON.parse(
      await run('npm', ['pack', '--json', '--pack-destination', scratch], join(ROOT, 'sdk')),
    ) as {
      filename: string;
      files: { path: string }[];
    }[];
    tarball = join(scratch, packed[0].filename);
    const files = packed[0].files.map((file) => file.path);
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'dist/esm/index.js',
        'dist/esm/index.d.ts',
        'dist/esm/schema.d.ts',
        'dist/cjs/index.js',
        'dist/cjs/index.d.ts',
        'dist/cjs/schema.d.ts',
      ]),
    );
    // Sources and tests stay out of the package.
    expect(files.filter((file) => !file.startsWith('dist/'))).toEqual(
      expect.not.arrayContaining(['index.ts', 'client.spec.ts']),
    );
  }, 120_000);
  afterAll(async () => {
    rmSync(scratch, { recursive: true, force: true });
    await app.close();
  });

  it.each([
    ['esm', 'tarball', 'module'],
    ['commonjs', 'tarball', 'commonjs'],
    ['esm', 'folder', 'module'],
  ] as const)(
    'a %s project installs the SDK from its %s, compiles against its types and runs against the server',
    async (flavor, source, type) => {
      const project = join(scratch, `${flavor}-${source}`);
      mkdirSync(join(project, 'src'), { recursive: true });
      writeFileSync(join(project, 'package.json'), JSON.stringify({ name: `consumer-${flavor}`, private: true, type }));
      writeFileSync(
        join(project, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            module: 'nodenext',
            moduleResolution: 'nodenext',
            target: 'es2022',
            strict: true,
            outDir: 'dist',
            rootDir: 'src',
            // Node's types from this repository: the scratch project installs nothing but the SDK.
            typeRoots: [join(ROOT, 'node_modules', '@types')],
            types: ['node'],
          },
          include: ['src'],
        }),
      );
      writeFileSync(join(project, 'src', 'index.ts'), CONSUMER);
      // Offline: the package's declared dependencies are linked from this repository's node_modules (the versions
      // its lockfile pins, which satisfy the package's ranges), so npm needs no registry.
      const declared = Object.keys(
        (
          JSON.parse(readFileSync(join(ROOT, 'sdk', 'package.json'), 'utf8')) as {
            dependencies: Record<string, string>;
          }
        ).dependencies,
      );
      expect(declared.sort()).toEqual(['openapi-fetch', 'standardwebhooks']);
      const linked = declared.map((name) => join(ROOT, 'node_modules', name));
      if (source === 'tarball') {
        await run(
          'npm',
          ['install', '--offline', '--ignore-scripts', '--no-package-lock', tarball, ...linked],
          project,
        );
      } else {
        // The sdk/ folder copied into the project as it is in a fresh clone (no dist/), then `npm i ./sdk`: its
        // prepare script builds it. Its build tool, TypeScript, comes from npm's cache when it can.
        cpSync(join(ROOT, 'sdk'), join(project, 'sdk'), {
          recursive: true,
          filter: (path) => !/[\\/](dist|node_modules)$/.test(path),
        });
        await run('npm', ['install', '--prefer-offline', '--no-package-lock', './sdk'], project);
        expect(readFileSync(join(project, 'sdk', 'dist', 'esm', 'index.js'), 'utf8')).toMatch(/createFuliClient/);
      }
      const installed = JSON.parse(
        readFileSync(join(project, 'node_modules', '@fuli', 'sdk', 'package.json'), 'utf8'),
      ) as { name: string; dependencies: Record<string, string> };
      expect(installed.name).toBe('@fuli/sdk');
      expect(Object.keys(installed.dependencies).sort()).toEqual(declared.sort());

      await run(process.execPath, [TSC, '-p', project], project);
      const compiled = readFileSync(join(project, 'dist', 'index.js'), 'utf8');
      expect(compiled).toMatch(flavor === 'esm' ? /from '@fuli\/sdk'/ : /require\("@fuli\/sdk"\)/);

      const name = `Consumer ${flavor} ${Date.now()}`;
      const output = await run(process.execPath, [join(project, 'dist', 'index.js')], project, {
        FULI_URL: app.url,
        FULI_CLIENT_ID: TEST_ADMIN_CLIENT_ID,
        FULI_CLIENT_SECRET: TEST_ADMIN_CLIENT_SECRET,
        ENTERPRISE_NAME: name,
        CREDIT_CODE: newCreditCode(),
      });
      const result = JSON.parse(output.trim().split('\n').pop()!) as Record<string, unknown>;
      expect(result).toMatchObject({
        module: flavor,
        idempotent: 'first',
        found: true,
        missing: 'resource_not_found',
        webhook: 'rejected',
      });
      expect(result.enterprise).toMatch(/^ent_/);
    },
    120_000,
  );
});
