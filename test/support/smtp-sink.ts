import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';

/** A message the sink took, parsed by mailparser, with the SMTP envelope it came in. */
export type ReceivedMail = ParsedMail & { envelope: { from: string; to: string[] } };

/** How the sink refuses a recipient: an SMTP reply code (4xx transient, 5xx permanent) and its text. */
export interface SmtpRefusal {
  code: number;
  message: string;
}

export interface SmtpSinkOptions {
  /** Accept and drop each message without parsing (benchmarks): only `count` goes up. */
  discard?: boolean;
  /** Refuse some recipients at RCPT TO; undefined accepts. */
  refuseRecipient?: (address: string) => SmtpRefusal | undefined;
}

export interface SmtpSink {
  port: number;
  /** smtp://127.0.0.1:<port>, for SMTP_URL. */
  url: string;
  /** Parsed messages in arrival order (empty in discard mode). */
  messages: ReceivedMail[];
  /** Messages accepted so far, in either mode. */
  readonly count: number;
  /** SMTP connections opened so far (a pooled sender opens few). */
  readonly connections: number;
  /** Resolves once `count` messages have arrived (rejects after timeoutMs). */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  /** Changes which recipients are refused, for the messages that follow. */
  refuseRecipient(rule: SmtpSinkOptions['refuseRecipient']): void;
  close(): Promise<void>;
}

/**
 * A real SMTP server on an ephemeral port of 127.0.0.1 (smtp-server): no TLS, any AUTH or none accepted, every
 * message parsed with mailparser and kept, or dropped fast in discard mode.
 */
export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const messages: ReceivedMail[] = [];
  let count = 0;
  let connections = 0;
  let refuse = options.refuseRecipient;
  const waiters = new Set<() => void>();
  const arrived = () => {
    count += 1;
    for (const waiter of waiters) waiter();
  };

  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    allowInsecureAuth: true,
    disableReverseLookup: true,
    logger: false,
    size: 10 * 1024 * 1024,
    onConnect(_session, callback) {
      connections += 1;
      callback();
    },
    onAuth(auth, _session, callback) {
      callback(null, { user: auth.username ?? 'anonymous' });
    },
    onRcptTo(address: SMTPServerAddress, _session, callback) {
      const refusal = refuse?.(address.address);
      if (!refusal) return callback();
      callback(Object.assign(new Error(refusal.message), { responseCode: refusal.code }));
    },
    onData(stream, session, callback) {
      if (options.discard) {
        stream.on('end', () => {
          arrived();
          callback();
        });
        stream.resume();
        return;
      }
      const envelope = {
        from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
        to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
      };
      simpleParser(stream).then(
        (parsed) => {
          messages.push(Object.assign(parsed, { envelope }));
          arrived();
          callback();
        },
        (error: Error) => callback(error),
      );
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  server.on('error', () => undefined);
  const port = (server.server.address() as AddressInfo).port;

  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages,
    get count() {
      return count;
    },
    get connections() {
      return connections;
    },
    waitFor(wanted, timeoutMs = 10_000) {
      if (count >= wanted) return Promise.resolve(messages);
      return new Promise((resolve, reject) => {
        const check = () => {
          if (count < wanted) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(messages);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`smtp-sink: ${count} of ${wanted} messages after ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
    refuseRecipient(rule) {
      refuse = rule;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
