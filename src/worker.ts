import { closeRuntime, createWorkerApp, prepareRuntime } from './bootstrap';
import { onShutdown } from './shutdown';

/** Queue processors only: scale these apart from the API (`npm run start:worker`). */
async function main(): Promise<void> {
  const runtime = await prepareRuntime();
  const app = await createWorkerApp(runtime);
  onShutdown(runtime.logger, async () => {
    await app.close();
    await closeRuntime(runtime);
  });
  runtime.logger.info('Fuli worker running');
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
