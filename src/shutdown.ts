import type { Logger } from 'pino';

/**
 * SIGTERM/SIGINT: stop accepting work, let in-flight requests and jobs finish,
 * then close connections. A second signal or the deadline forces the exit.
 */
export function onShutdown(logger: Logger, close: () => Promise<void>, deadlineMs = 25_000): void {
  let closing = false;
  const handler = (signal: NodeJS.Signals) => {
    if (closing) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    closing = true;
    logger.info({ signal }, 'shutting down: draining requests and jobs');
    const timer = setTimeout(() => {
      logger.error('shutdown deadline passed: exiting with work still in flight');
      process.exit(1);
    }, deadlineMs);
    timer.unref();
    close().then(
      () => {
        logger.info('shutdown complete');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', handler);
  process.once('SIGINT', handler);
}
