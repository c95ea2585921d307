import { createHttpApp, prepareRuntime, shutdownHttpApp } from './bootstrap';
import { DemoSeedService } from './demo/demo-seed.service';
import { describeMailTransport } from './distribution/channels/mail.sender';
import { describeSmsProvider } from './distribution/channels/sms.sender';
import { MetricsServer } from './metrics/metrics-server';
import { onShutdown } from './shutdown';

/** HTTP API; also runs the queue processors unless started with --api-only (see src/worker.ts). */
async function main(): Promise<void> {
  const apiOnly = process.argv.includes('--api-only');
  const runtime = await prepareRuntime();
  const { config, logger } = runtime;
  const app = await createHttpApp(runtime, { worker: !apiOnly });
  onShutdown(logger, () => shutdownHttpApp(app, runtime));
  await app.listen({ port: config.PORT, host: config.HOST });
  const metricsUrl = await app.get(MetricsServer).listen(config.METRICS_HOST, config.METRICS_PORT);
  // Where distribution messages go: without SMTP_URL they are .eml files, without an SMS provider log lines.
  const channels = [describeMailTransport(config), describeSmsProvider(config)];
  logger.info(
    { url: config.publicUrl, metrics: `${metricsUrl}/metrics`, worker: !apiOnly, channels },
    'Fuli API listening',
  );
  if (config.seedDemo) await app.get(DemoSeedService).seedAndPrint(channels);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
