/**
 * The real worker (prepareRuntime + createWorkerApp) as a child process that a benchmark forks and talks to over
 * IPC: it says `ready`, answers `cpu` with its CPU time so far, and closes on anything else. Each benchmark forks
 * its own file with `--worker` and calls serveWorker there, so the child runs the benchmark's compiled code.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeRuntime, createWorkerApp, prepareRuntime } from '../../src/bootstrap';
import { loadConfig } from '../../src/config/app-config';

export type WorkerToParent = { type: 'ready' } | { type: 'cpu'; micros: number };
export type WorkerToChild = { type: 'cpu' } | { type: 'stop' };

/** Child side: boots the worker from process.env, then serves the IPC protocol above. */
export async function serveWorker(): Promise<void> {
  const runtime = await prepareRuntime(loadConfig(process.env));
  const app = await createWorkerApp(runtime);
  const send = (message: WorkerToParent) => process.send?.(message);
  process.on('message', (message: WorkerToChild) => {
    if (message.type === 'cpu') {
      const { user, system } = process.cpuUsage();
      send({ type: 'cpu', micros: user + system });
      return;
    }
    app
      .close()
      .then(() => closeRuntime(runtime))
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  });
  send({ type: 'ready' });
}

/**
 * Parent side: the next message of `type` from a child (by default a worker's), or a rejection when the child
 * exits first.
 */
export function nextMessage<M extends { type: string } = WorkerToParent, T extends M['type'] = M['type']>(
  child: ChildProcess,
  type: T,
): Promise<Extract<M, { type: T }>> {
  return new Promise((resolvePromise, reject) => {
    const onMessage = (message: M) => {
      if (message.type !== type) return;
      cleanup();
      resolvePromise(message as Extract<M, { type: T }>);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`the child process exited with ${code} before sending '${type}'`));
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** Parent side: the worker's CPU time (user + system, all its threads) so far, µs. */
export async function workerCpuMicros(child: ChildProcess): Promise<number> {
  const reply = nextMessage(child, 'cpu');
  child.send({ type: 'cpu' } satisfies WorkerToChild);
  return (await reply).micros;
}

/** Parent side: a worker child (the benchmark's own compiled `file`, run with `--worker`) and what is read of it. */
export interface WorkerProcess {
  child: ChildProcess;
  /** CPU time of the whole process (all its threads) so far, µs. */
  cpuMicros(): Promise<number>;
  /** Peak resident set (VmHWM) since start or the last resetPeak, in MB; undefined off Linux. */
  peakRssMb(): number | undefined;
  /** Resets VmHWM to the current RSS (Linux ≥ 4.0); false when that is not possible. */
  resetPeak(): boolean;
  stop(): Promise<void>;
}

/**
 * The Node flags production runs a worker with: those of `npm run start:worker` (package.json; docker-compose.yml
 * and the README say the same, src/deployment-files.spec.ts checks it), so that a benchmark's worker is the one
 * that ships.
 */
export function productionWorkerFlags(): string[] {
  const packageJson = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const command = /\bnode ((?:--\S+ )*)dist\/src\/worker\.js/.exec(packageJson.scripts['start:worker']);
  if (!command) throw new Error('package.json start:worker does not run `node [flags] dist/src/worker.js`');
  return command[1].split(' ').filter(Boolean);
}

/** Forks `file --worker` (which calls serveWorker) with the production flags and waits until it is ready. */
export async function startWorkerProcess(
  file: string,
  env: NodeJS.ProcessEnv,
  execArgv: string[] = [],
): Promise<WorkerProcess> {
  const child = fork(file, ['--worker'], {
    env,
    execArgv: [...productionWorkerFlags(), ...execArgv],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await nextMessage(child, 'ready');
  return {
    child,
    cpuMicros: () => workerCpuMicros(child),
    peakRssMb() {
      try {
        const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        return match ? Number(match[1]) / 1024 : undefined;
      } catch {
        return undefined;
      }
    },
    resetPeak() {
      try {
        writeFileSync(`/proc/${child.pid}/clear_refs`, '5');
        return true;
      } catch {
        return false;
      }
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((done) => child.once('exit', () => done()));
      child.send({ type: 'stop' } satisfies WorkerToChild);
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
