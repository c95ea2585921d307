import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { startSmtpSink, type SmtpSink } from '../../../test/support/smtp-sink';
import { loadConfig } from '../../config/app-config';
import { classifySmtpError, describeMailTransport, MailSender, type OutgoingMail } from './mail.sender';
import { renderClaimMail } from './message-templates';

const CLAIM_URL = 'https://fuli.example/claim/Zq3TtokenTOKENtoken123456';

function config(env: Record<string, string> = {}) {
  return loadConfig({ NODE_ENV: 'development', DATA_DIR: mkdtempSync(join(tmpdir(), 'fuli-mail-')), ...env });
}

function claimMail(to: string): OutgoingMail {
  const rendered = renderClaimMail({
    locale: 'zh-CN',
    recipientName: '王芳',
    fromName: '腾飞科技',
    faceValueFen: 50_000,
    greeting: '新年快乐，感谢您一年的付出！',
    claimUrl: CLAIM_URL,
    designImageUrl: 'https://fuli.example/designs/spring.png',
  });
  return { to, fromName: '腾飞科技人力资源部', ...rendered, headers: { 'X-Fuli-Recipient': 'drc_01TEST' } };
}

describe('MailSender over SMTP', () => {
  let sink: SmtpSink;
  let sender: MailSender;
  beforeAll(async () => {
    sink = await startSmtpSink();
    sender = new MailSender(
      config({ SMTP_URL: sink.url, SMTP_POOL_SIZE: '2', MAIL_FROM_ADDRESS: 'cards@fuli.example' }),
    );
  });
  afterAll(async () => {
    sender.close();
    await sink.close();
  });

  it('delivers the claim mail: Chinese subject encoded in UTF-8, HTML, text and the enterprise as From name', async () => {
    const outcome = await sender.send(claimMail('wang.fang@corp.example'));
    const [mail] = await sink.waitFor(1);
    expect(outcome).toEqual({ ok: true, providerMessageId: mail.messageId });
    expect(mail.subject).toBe('腾飞科技送您一张500.00元电子卡');
    // On the wire the header is an RFC 2047 encoded word: plain ASCII.
    const subjectLine = mail.headerLines.find((line) => line.key === 'subject')!.line;
    expect(subjectLine).toMatch(/^Subject: =\?UTF-8\?[BQ]\?/i);
    expect(/^[\x20-\x7e\r\n\t]*$/.test(subjectLine)).toBe(true);
    expect(mail.from?.value).toEqual([{ name: '腾飞科技人力资源部', address: 'cards@fuli.example' }]);
    expect(mail.envelope).toEqual({ from: 'cards@fuli.example', to: ['wang.fang@corp.example'] });
    expect(mail.html).toContain(`href="${CLAIM_URL}"`);
    expect(mail.html).toContain('新年快乐，感谢您一年的付出！');
    expect(mail.text).toContain(CLAIM_URL);
    expect(mail.text).toContain('王芳，您好：');
    expect(mail.headers.get('x-fuli-recipient')).toBe('drc_01TEST');
  });

  it('sends many over a pool of at most SMTP_POOL_SIZE connections, kept across sends', async () => {
    const before = sink.count;
    const connectionsBefore = sink.connections;
    const outcomes = await Promise.all(
      Array.from({ length: 30 }, (_, i) => sender.send(claimMail(`employee${i}@corp.example`))),
    );
    expect(outcomes.every((outcome) => outcome.ok)).toBe(true);
    await sink.waitFor(before + 30);
    expect(sink.connections - connectionsBefore).toBeLessThanOrEqual(2);
  });

  it('bounces on a 5xx to the recipient and retries a 4xx, never repeating the message in the error', async () => {
    sink.refuseRecipient((address) => {
      if (address.startsWith('gone')) return { code: 550, message: '5.1.1 No such user here' };
      if (address.startsWith('busy')) return { code: 451, message: '4.3.0 Try again later' };
      return undefined;
    });
    try {
      const bounced = await sender.send(claimMail('gone@corp.example'));
      const deferred = await sender.send(claimMail('busy@corp.example'));
      expect(bounced).toMatchObject({ ok: false, permanent: true, error: expect.stringContaining('550') });
      expect(deferred).toMatchObject({ ok: false, permanent: false, error: expect.stringContaining('451') });
      for (const outcome of [bounced, deferred]) {
        expect(JSON.stringify(outcome)).not.toContain('Zq3T');
        expect(JSON.stringify(outcome)).not.toContain('新年快乐');
      }
    } finally {
      sink.refuseRecipient(undefined);
    }
    // The pool survives refusals.
    expect(await sender.send(claimMail('back@corp.example'))).toMatchObject({ ok: true });
  });

  it('refuses an address that is not one as permanent, without sending', async () => {
    const before = sink.count;
    for (const to of [
      'not-an-address',
      'a@b',
      'x@corp.example, y@corp.example',
      'x@corp.example\r\nBcc: y@evil.example',
    ]) {
      expect(await sender.send(claimMail(to))).toMatchObject({ ok: false, permanent: true });
    }
    expect(sink.count).toBe(before);
  });

  it('takes an SMTP server that does not answer as transient', async () => {
    const dead = new MailSender(config({ SMTP_URL: 'smtp://127.0.0.1:1' }));
    try {
      expect(await dead.send(claimMail('a@corp.example'))).toMatchObject({ ok: false, permanent: false });
    } finally {
      dead.close();
    }
  });
});

describe('SMTP error classification', () => {
  it('bounces 5xx replies to the recipient or the data, retries 4xx, connection errors and sender-side 5xx', () => {
    const error = (fields: Record<string, unknown>) => Object.assign(new Error('x'), fields);
    expect(classifySmtpError(error({ code: 'EENVELOPE', responseCode: 550, command: 'RCPT TO' })).permanent).toBe(true);
    expect(classifySmtpError(error({ code: 'EMESSAGE', responseCode: 554, command: 'DATA' })).permanent).toBe(true);
    expect(classifySmtpError(error({ code: 'EENVELOPE', responseCode: 452, command: 'RCPT TO' })).permanent).toBe(
      false,
    );
    expect(classifySmtpError(error({ code: 'ECONNECTION' })).permanent).toBe(false);
    expect(classifySmtpError(error({ code: 'ETIMEDOUT' })).permanent).toBe(false);
    expect(classifySmtpError(error({ code: 'EAUTH', responseCode: 535, command: 'AUTH PLAIN' })).permanent).toBe(false);
    expect(classifySmtpError(error({ code: 'EENVELOPE', responseCode: 553, command: 'MAIL FROM' })).permanent).toBe(
      false,
    );
  });
});

describe('MailSender without SMTP_URL', () => {
  it('writes each message as a parseable .eml file under DATA_DIR/mail, readable by its owner only', async () => {
    const settings = config();
    const sender = new MailSender(settings);
    const directory = join(settings.dataDir, 'mail');
    expect(sender.describe()).toBe(`mail: .eml files under ${directory} (SMTP_URL unset)`);
    const outcome = await sender.send(claimMail('wang.fang@corp.example'));
    sender.close();
    expect(outcome.ok).toBe(true);
    const files = readdirSync(directory);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/\.eml$/);
    expect(statSync(join(directory, files[0])).mode & 0o777).toBe(0o600);
    const parsed = await simpleParser(readFileSync(join(directory, files[0])));
    expect(parsed.subject).toBe('腾飞科技送您一张500.00元电子卡');
    expect(parsed.from?.value[0]).toEqual({ name: '腾飞科技人力资源部', address: 'no-reply@fuli.example' });
    expect(parsed.to && !Array.isArray(parsed.to) ? parsed.to.text : '').toBe('wang.fang@corp.example');
    expect(parsed.html).toContain(CLAIM_URL);
    expect(outcome).toEqual({ ok: true, providerMessageId: parsed.messageId });
  });

  it('attaches files given in memory (an invoice PDF), their bytes unchanged', async () => {
    const settings = config();
    const sender = new MailSender(settings);
    const pdf = Buffer.from('%PDF-1.3 fake invoice bytes \u0000\u00ff');
    const outcome = await sender.send({
      ...claimMail('ap@corp.example'),
      attachments: [{ filename: 'invoice-26310000000000000001.pdf', content: pdf, contentType: 'application/pdf' }],
    });
    sender.close();
    expect(outcome.ok).toBe(true);
    const directory = join(settings.dataDir, 'mail');
    const parsed = await simpleParser(readFileSync(join(directory, readdirSync(directory)[0])));
    expect(parsed.attachments.map((file) => [file.filename, file.contentType])).toEqual([
      ['invoice-26310000000000000001.pdf', 'application/pdf'],
    ]);
    expect(parsed.attachments[0].content.equals(pdf)).toBe(true);
  });

  it('describes an SMTP transport without its password', () => {
    const line = describeMailTransport(
      config({ SMTP_URL: 'smtps://mailer:s3cret@smtp.corp.example:465', SMTP_POOL_SIZE: '8' }),
    );
    expect(line).toBe('mail: SMTP smtps://mailer@smtp.corp.example:465 (pool of 8)');
  });
});
