import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool';
import { AppConfig } from '../../config/app-config';
import { errorText, type SendOutcome } from './send-outcome';

export interface OutgoingMail {
  to: string;
  /** Display name of the sender (the enterprise); the address is MAIL_FROM_ADDRESS. */
  fromName: string;
  subject: string;
  html: string;
  text: string;
  /** Extra headers, e.g. an id of ours to find the message by; values on one line. */
  headers?: Record<string, string>;
  /** Files attached from memory (e.g. an invoice PDF); never read from a path or a URL. */
  attachments?: Array<{ filename: string; content: Buffer; contentType: string }>;
}

/** The pooled SMTP transport's options for a config: shared with the benchmark, which compares against it. */
export function smtpTransportOptions(config: Pick<AppConfig, 'SMTP_URL' | 'SMTP_POOL_SIZE'>): SMTPPool.Options {
  if (!config.SMTP_URL) throw new Error('SMTP_URL is not set');
  return {
    url: config.SMTP_URL,
    pool: true,
    maxConnections: config.SMTP_POOL_SIZE,
    // Connections stay open across sends; a long-lived one is still renewed now and then.
    maxMessages: 1000,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}

/** Where the .eml files go without SMTP_URL. */
export function mailDirectory(config: Pick<AppConfig, 'dataDir'>): string {
  return join(config.dataDir, 'mail');
}

/** The banner line, from the configuration alone (SMTP credentials masked). */
export function describeMailTransport(config: Pick<AppConfig, 'SMTP_URL' | 'SMTP_POOL_SIZE' | 'dataDir'>): string {
  if (!config.SMTP_URL) return `mail: .eml files under ${mailDirectory(config)} (SMTP_URL unset)`;
  const url = new URL(config.SMTP_URL);
  const user = url.username ? `${decodeURIComponent(url.username)}@` : '';
  return `mail: SMTP ${url.protocol}//${user}${url.host} (pool of ${config.SMTP_POOL_SIZE})`;
}

const ADDRESS = /^[^\s@<>",;]+@[^\s@<>",;]+\.[^\s@<>",;]+$/;

interface SmtpError extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
}

/**
 * Whether an SMTP failure is the recipient's (5xx to RCPT or DATA: bounced) or one worth retrying (4xx, a dropped
 * connection, a timeout). A 5xx to AUTH or MAIL FROM is the sender's configuration, not the recipient: retried
 * (it ends `failed`) rather than bounced. The error text holds the server's reply, never the message.
 */
export function classifySmtpError(error: unknown): { permanent: boolean; error: string } {
  const failure = (error ?? {}) as SmtpError;
  const code = failure.code ?? 'ERROR';
  const reply = failure.response ? ` ${failure.response}` : '';
  const text = errorText(`SMTP ${code}${failure.responseCode ? ` ${failure.responseCode}` : ''}${reply}`);
  const status = failure.responseCode ?? 0;
  const senderSide = code === 'EAUTH' || /^MAIL FROM/i.test(failure.command ?? '');
  if (status >= 500 && status < 600 && !senderSide) return { permanent: true, error: text };
  // nodemailer refusing the envelope itself (no valid recipient) is as final as a 550.
  if (code === 'EENVELOPE' && status === 0) return { permanent: true, error: text };
  return { permanent: false, error: text };
}

/**
 * Sends distribution mail: over a pool of SMTP connections when SMTP_URL is set, else into .eml files under
 * DATA_DIR/mail (the raw RFC 5322 message nodemailer builds, openable in any mail client).
 */
@Injectable()
export class MailSender implements OnModuleDestroy {
  private readonly transport: Transporter;
  private readonly directory?: string;

  constructor(private readonly config: AppConfig) {
    if (config.SMTP_URL) {
      this.transport = nodemailer.createTransport(smtpTransportOptions(config));
    } else {
      this.directory = mailDirectory(config);
      this.transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
    }
  }

  describe(): string {
    return describeMailTransport(this.config);
  }

  async send(mail: OutgoingMail): Promise<SendOutcome> {
    if (!ADDRESS.test(mail.to)) return { ok: false, permanent: true, error: 'invalid_email: not an e-mail address' };
    const headers = Object.fromEntries(
      Object.entries(mail.headers ?? {}).map(([name, value]) => [name, value.replace(/[\r\n]+/g, ' ')]),
    );
    const message = {
      from: { name: mail.fromName.replace(/[\r\n]+/g, ' ').trim(), address: this.config.MAIL_FROM_ADDRESS },
      to: mail.to,
      subject: mail.subject.replace(/[\r\n]+/g, ' '),
      html: mail.html,
      text: mail.text,
      headers,
      ...(mail.attachments?.length
        ? {
            attachments: mail.attachments.map(({ filename, content, contentType }) => ({
              filename: filename.replace(/[\r\n"]+/g, ' '),
              content,
              contentType,
            })),
          }
        : {}),
      disableFileAccess: true,
      disableUrlAccess: true,
    };
    let info: { messageId: string; message?: unknown };
    try {
      info = await this.transport.sendMail(message);
    } catch (error) {
      return { ok: false, ...classifySmtpError(error) };
    }
    if (this.directory) {
      try {
        mkdirSync(this.directory, { recursive: true, mode: 0o700 });
        const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${info.messageId.replace(/[^A-Za-z0-9.-]/g, '')}.eml`;
        // The message holds a claim link: readable by this user only.
        writeFileSync(join(this.directory, name), info.message as Buffer, { mode: 0o600 });
      } catch (error) {
        return {
          ok: false,
          permanent: false,
          error: errorText(`cannot write .eml file: ${(error as SmtpError).code ?? 'error'}`),
        };
      }
    }
    return { ok: true, providerMessageId: info.messageId };
  }

  close(): void {
    this.transport.close();
  }

  onModuleDestroy(): void {
    this.close();
  }
}
