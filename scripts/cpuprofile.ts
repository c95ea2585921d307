/**
 * `node dist/scripts/cpuprofile.js <file.cpuprofile> [--requests N] [function-name ...]`: where a V8 CPU profile
 * (e.g. from `BENCH_PROFILE=1 npm run bench:http`) spends its time: by layer of the Fuli request path, by package,
 * by function, and the inclusive time (the function and everything it calls) of the functions named. With
 * --requests (the requests served while profiling), layers are also shown in µs of main-thread CPU per request.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Layers of the request path, by where a frame's code lives; a sample goes to its innermost frame with a layer. */
const LAYERS: [string, RegExp][] = [
  ['JWT: public key exported to PEM and parsed back, per request', /^node:internal\/crypto\/keys$/],
  ['JWT: ES256 signature verification', /^node:internal\/crypto\/sig$/],
  ['JWT: decode, claims, passport plumbing', /^(jws|jwa|jsonwebtoken|passport|passport-jwt|@nestjs\/passport)$/],
  ['Auth: strategy, actor lookup (cached), scope check', /^src\/auth$/],
  ['Rate limit (throttler)', /^(@nestjs\/throttler|src\/common\/rate-limit)$/],
  ['DB: TypeORM query building and mapping', /^typeorm$/],
  ['DB: pg driver', /^pg(-protocol|-pool|-types)?$/],
  ['Handler, DTO', /^src\/enterprises$/],
  ['Validation pipe', /^class-(validator|transformer)$/],
  ['helmet', /^(helmet|@fastify\/helmet)$/],
  ['Logging', /^(pino|pino-std-serializers|sonic-boom)$/],
  ['Metrics', /^(prom-client|src\/health)$/],
  ['Request ids', /^(ulid|node:internal\/crypto\/random)$/],
  ['Request hooks (src/bootstrap)', /^src\/bootstrap$/],
  ['Other app code (filters, context, ids, logging)', /^src\//],
  ['Nest pipeline (router, guard and interceptor plumbing, rxjs)', /^(@nestjs\/.*|rxjs|reflect-metadata)$/],
  ['Fastify', /^(fastify|find-my-way|fast-json-stringify|avvio|light-my-request|fast-querystring|@fastify\/.*)$/],
  // Sockets and streams are not a layer: their time (writev syscalls included) goes to HTTP or pg, whichever wrote.
  ['Node HTTP: request parsing, response writing', /^node:_http_.*$/],
  ['Garbage collection', /^\(garbage collector\)$/],
];

/** `node_modules/<package>`, `node:<module>`, `src/<folder>` or V8's own buckets like (garbage collector). */
function packageOf({ url, functionName }: ProfileNode['callFrame']): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const [scope, name] = url.slice(modules + 'node_modules/'.length).split('/');
    return scope.startsWith('@') ? `${scope}/${name}` : scope;
  }
  if (url.startsWith('node:')) return url;
  const app = /\/(src|scripts|bench)\/([^/]+)/.exec(url);
  return app ? `${app[1]}/${app[2].replace(/\.js$/, '')}` : url;
}

function layerOf(pkg: string): string | undefined {
  return LAYERS.find(([, pattern]) => pattern.test(pkg))?.[0];
}

function add(map: Map<string, number>, key: string, micros: number): void {
  map.set(key, (map.get(key) ?? 0) + micros);
}

function table(title: string, rows: Map<string, number>, busy: number, limit: number, requests = 0): void {
  console.log(`\n${title}`);
  for (const [name, micros] of [...rows].sort((a, b) => b[1] - a[1]).slice(0, limit)) {
    const ms = (micros / 1000).toFixed(0).padStart(7);
    const share = ((micros / busy) * 100).toFixed(1).padStart(5);
    const perRequest = requests > 0 ? `${(micros / requests).toFixed(1).padStart(8)} µs/req` : '';
    console.log(`${ms} ms ${share} %${perRequest}  ${name}`);
  }
}

function main(): void {
  const args = process.argv.slice(2);
  const flag = args.indexOf('--requests');
  const requests = flag >= 0 ? Number(args.splice(flag, 2)[1]) : 0;
  const [file, ...names] = args;
  if (!file) throw new Error('usage: node dist/scripts/cpuprofile.js <file.cpuprofile> [--requests N] [function ...]');
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const self = new Map<number, number>();
  profile.samples.forEach((id, index) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));
  let sampled = 0;
  let busy = 0;
  const byLayer = new Map<string, number>();
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, micros] of self) {
    sampled += micros;
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') continue;
    busy += micros;
    const pkg = packageOf(frame);
    add(byPackage, pkg, micros);
    add(byFunction, `${frame.functionName || '(anonymous)'}  ${pkg}:${frame.lineNumber + 1}`, micros);
    let layer: string | undefined;
    // Inclusive time: charge each named function once per sample, however deep the recursion.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const callFrame = byId.get(at)!.callFrame;
      layer ??= layerOf(packageOf(callFrame));
      if (names.includes(callFrame.functionName) && !seen.has(callFrame.functionName)) {
        seen.add(callFrame.functionName);
        add(inclusive, callFrame.functionName, micros);
      }
    }
    add(byLayer, layer ?? `other (${pkg})`, micros);
  }
  console.log(`${file}: ${(sampled / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s busy (% of busy time)`);
  if (requests > 0) console.log(`${requests} requests: ${(busy / requests).toFixed(0)} µs of main-thread CPU each`);
  table('by layer (a sample counts for its innermost frame that belongs to a layer)', byLayer, busy, 30, requests);
  table('self time by package', byPackage, busy, 20);
  table('self time by function', byFunction, busy, 25);
  if (names.length > 0) table('inclusive time', inclusive, busy, names.length);
}

main();
