/* eslint-disable @typescript-eslint/no-require-imports -- the application is loaded after the boot checks, see main() */
import { checkBeforeBoot, exitOnBootFailure } from './boot-checks';
import { BootError } from './config/boot-error';
import { ConfigError, defaultNodeEnv, loadConfig } from './config/app-config';

/** Queue processors only: scale these apart from the API (`npm run start:worker`). */
async function main(): Promise<void> {
  // Configuration and services first: a misconfiguration ends the boot in one line before anything starts.
  const config = loadConfig(process.env, { defaultNodeEnv: defaultNodeEnv() });
  await checkBeforeBoot(config, { listens: false });
  const { closeRuntime, createWorkerApp, prepareRuntime } = require('./bootstrap') as typeof import('./bootstrap');
  const { describeMailTransport } =
    require('./distribution/channels/mail.sender') as typeof import('./distribution/channels/mail.sender');
  const { describeSmsProvider } =
    require('./distribution/channels/sms.sender') as typeof import('./distribution/channels/sms.sender');
  const { onShutdown } = require('./shutdown') as typeof import('./shutdown');
  const runtime = await prepareRuntime(config);
  const app = await createWorkerApp(runtime);
  onShutdown(runtime.logger, async () => {
    await app.close();
    await closeRuntime(runtime);
  });
  runtime.logger.info(
    { channels: [describeMailTransport(config), describeSmsProvider(config)] },
    'Fuli worker running',
  );
}

main().catch((error: unknown) =>
  exitOnBootFailure(error, (known) => known instanceof ConfigError || known instanceof BootError),
);
