import { Writable } from 'node:stream';
import { createLogger } from './logger';
import { runInRequest } from './request-log-context';

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

  it('puts the id of the request being served on every line written for it, across awaits, and on no other', async () => {
    const { logger, lines } = capture();
    logger.info('before any request');
    await runInRequest('req_a', async () => {
      logger.info('first');
      await new Promise((done) => setTimeout(done, 5));
      logger.child({ context: 'Orders' }).warn('after an await, through a child logger');
      // A field the call gives itself wins over the request's.
      logger.info({ reqId: 'req_other' }, 'explicit');
    });
    logger.info('after the request');
    await new Promise((done) => setImmediate(done));
    expect(lines.map((line) => [line.msg, line.reqId])).toEqual([
      ['before any request', undefined],
      ['first', 'req_a'],
      ['after an await, through a child logger', 'req_a'],
      ['explicit', 'req_other'],
      ['after the request', undefined],
    ]);
    expect(lines.filter((line) => JSON.stringify(line).split('"reqId"').length > 2)).toEqual([]);
  });
});
