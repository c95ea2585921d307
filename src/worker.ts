import { closeRuntime, createWorkerApp, prepareRuntime } from './bootstrap';
import { describeMailTransport } from './distribution/channels/mail.sender';
import { describeSmsProvider } from './distribution/channels/sms.sender';
import { onShutdown } from './shutdown';

/** Queue processors only: scale these apart from the API (`npm run start:worker`). */
async function main(): Promise<void> {
  const runtime = await prepareRuntime();
  const app = await createWorkerApp(runtime);
  onShutdown(runtime.logger, async () => {
    await app.close();
    await closeRuntime(runtime);
  });
  const { config } = runtime;
  runtime.logger.info(
    { channels: [describeMailTransport(config), describeSmsProvider(config)] },
    'Fuli worker running',
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
