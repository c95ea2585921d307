import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');

/** The container image and the compose file, as an operator runs them (no Docker here: their text is checked). */
describe('deployment files', () => {
  const dockerfile = read('Dockerfile');

  it('builds on one Node LTS image pinned by digest, the version .nvmrc names', () => {
    const image = /^ARG NODE_IMAGE=node:(\d+)\.\d+\.\d+-bookworm-slim@sha256:[0-9a-f]{64}$/m.exec(dockerfile);
    expect(image).not.toBeNull();
    // Even majors are the LTS lines.
    expect(Number(image![1]) % 2).toBe(0);
    expect(read('.nvmrc').trim()).toBe(image![1]);
    const froms = dockerfile.split('\n').filter((line) => line.startsWith('FROM '));
    expect(froms).toEqual(['FROM ${NODE_IMAGE} AS build', 'FROM ${NODE_IMAGE}']);
  });

  it('checks health on /health/ready and runs as the unprivileged user', () => {
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\\\n\s+CMD \[.*\/health\/ready.*\]$/m);
    expect(dockerfile).toMatch(/^USER node$/m);
  });

  it('runs the API and the worker from one image built once, restarting every service', () => {
    const compose = read('docker-compose.yml');
    const services = compose.slice(compose.indexOf('\nservices:'), compose.indexOf('\nvolumes:'));
    const blocks = new Map(
      services
        .split(/\n(?= {2}[a-z]+:\n)/)
        .slice(1)
        .map((block) => [block.trim().split(':')[0], block]),
    );
    expect([...blocks.keys()]).toEqual(['postgres', 'redis', 'api', 'worker']);
    for (const block of blocks.values()) expect(block).toMatch(/\n {4}restart: unless-stopped\n/);
    const api = blocks.get('api')!;
    const worker = blocks.get('worker')!;
    const imageOf = (block: string) => /\n {4}image: (\S+)\n/.exec(block)?.[1];
    expect(imageOf(api)).toBeDefined();
    expect(imageOf(worker)).toBe(imageOf(api));
    expect(api).toMatch(/\n {4}build: \.\n/);
    expect(worker).not.toMatch(/\n {4}build:/);
    expect(worker).toMatch(/\n {4}pull_policy: never\n/);
  });

  it('caps the worker heap the same way wherever a worker starts (npm script, compose, README)', () => {
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    const flags = /\bnode ((?:--\S+ )+)dist\/src\/worker\.js/.exec(scripts['start:worker'])?.[1].trim();
    expect(flags).toMatch(/^--max-old-space-size=\d+$/);
    expect(read('docker-compose.yml')).toContain(`command: ['${flags}', 'dist/src/worker.js']`);
    expect(read('README.md')).toContain(`node ${flags} dist/src/worker.js`);
  });
});
