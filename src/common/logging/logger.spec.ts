import { Writable } from 'node:stream';
import { createLogger } from './logger';

/** A logger writing into an array of parsed lines. */
function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('info', destination), lines };
}

describe('createLogger', () => {
  it('logs errors with their message and stack, but not the pg client pg-pool attaches to them', async () => {
    const { logger, lines } = capture();
    const error = Object.assign(new Error('Connection terminated unexpectedly'), {
      client: { secretKey: 123456789, connectionParameters: { host: '127.0.0.1' } },
      errno: -104,
    });
    logger.error({ msg: 'queue worker error', err: error });
    await new Promise((done) => setImmediate(done));
    expect(lines).toHaveLength(1);
    const err = lines[0].err as Record<string, unknown>;
    expect(err).toMatchObject({ type: 'Error', message: 'Connection terminated unexpectedly', errno: -104 });
    expect(err.stack).toContain('Connection terminated unexpectedly');
    expect(err).not.toHaveProperty('client');
    expect(JSON.stringify(lines[0])).not.toContain('123456789');
  });
});
