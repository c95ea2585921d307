/* eslint-disable @typescript-eslint/no-require-imports -- the application is loaded after the boot checks, see main() */
import { checkBeforeBoot, exitOnBootFailure } from './boot-checks';
import { BootError } from './config/boot-error';
import { ConfigError, defaultNodeEnv, loadConfig } from './config/app-config';

/** HTTP API; also runs the queue processors unless started with --api-only (see src/worker.ts). */
async function main(): Promise<void> {
  const apiOnly = process.argv.includes('--api-only');
  // Configuration, ports and services first: a misconfiguration ends the boot in one line before anything starts.
  const config = loadConfig(process.env, { defaultNodeEnv: defaultNodeEnv() });
  await checkBeforeBoot(config, { listens: true });
  // The application (Nest, TypeORM, BullMQ and every module) is loaded only once the checks have passed.
  const { createHttpApp, prepareRuntime, shutdownHttpApp } = require('./bootstrap') as typeof import('./bootstrap');
  const { DemoSeedService } = require('./demo/demo-seed.service') as typeof import('./demo/demo-seed.service');
  const { describeMailTransport } =
    require('./distribution/channels/mail.sender') as typeof import('./distribution/channels/mail.sender');
  const { describeSmsProvider } =
    require('./distribution/channels/sms.sender') as typeof import('./distribution/channels/sms.sender');
  const { MetricsServer } = require('./metrics/metrics-server') as typeof import('./metrics/metrics-server');
  const { onShutdown } = require('./shutdown') as typeof import('./shutdown');
  const runtime = await prepareRuntime(config);
  const { logger } = runtime;
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
  if (config.seedDemo) {
    const demo = await app.get(DemoSeedService).seedAndPrint(channels);
    // /docs names the demo's ids, so that "Try it out" finds real objects.
    const { showDemoInDocs } = require('./docs/openapi') as typeof import('./docs/openapi');
    showDemoInDocs(app, {
      enterprise_id: demo.enterprise_id,
      product_ids: demo.product_ids,
      hr_client_id: demo.hr.client_id,
    });
  }
}

main().catch((error: unknown) =>
  exitOnBootFailure(error, (known) => known instanceof ConfigError || known instanceof BootError),
);
