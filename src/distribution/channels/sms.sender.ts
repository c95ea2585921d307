import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { AppConfig } from '../../config/app-config';
import type { SendOutcome } from './send-outcome';
import { TencentSmsClient } from './tencent-sms';

export type SmsTemplate = 'claim' | 'otp';

export interface OutgoingSms {
  /** Mainland mobile in E.164: +86 and 11 digits. */
  mobile: string;
  template: SmsTemplate;
  /** The template's parameters, in order (claimSmsParams, otpSmsParams in message-templates.ts). */
  params: string[];
}

const MAINLAND_MOBILE = /^\+861[3-9]\d{9}$/;

export function isMainlandMobile(mobile: string): boolean {
  return MAINLAND_MOBILE.test(mobile);
}

/** +8613812345678 → +86138****5678 (enough to tell numbers apart in a log, not to call one). */
export function maskMobile(mobile: string): string {
  return mobile.length > 9 ? `${mobile.slice(0, -8)}****${mobile.slice(-4)}` : '****';
}

/** A token or secret reduced to its first 4 characters. */
export function maskToken(token: string): string {
  return token.length > 4 ? `${token.slice(0, 4)}…` : '…';
}

/** A URL with every path segment and query value after the first 4 characters masked (a claim link's token). */
export function maskUrl(value: string): string {
  try {
    const url = new URL(value);
    const path = url.pathname
      .split('/')
      .map((segment, index, all) => (index === all.length - 1 && segment.length > 4 ? maskToken(segment) : segment))
      .join('/');
    return `${url.origin}${path}${url.search ? '?…' : ''}`;
  } catch {
    return maskToken(value);
  }
}

/**
 * Sends one SMS from an approved template. The provider is picked by SMS_PROVIDER; inject `SmsSender`.
 * Per-process pacing keeps to SMS_QPS (the queue's limiter paces across processes).
 */
export abstract class SmsSender {
  abstract send(sms: OutgoingSms): Promise<SendOutcome>;
  /** One line for the start banner: which provider sends. */
  abstract describe(): string;
}

/** Spaces calls at least 1/qps seconds apart within this process. */
export class Pacer {
  private next = 0;

  constructor(private readonly qps: number) {}

  async wait(): Promise<void> {
    const now = Date.now();
    const at = Math.max(now, this.next);
    this.next = at + 1000 / this.qps;
    if (at > now) await new Promise((resolve) => setTimeout(resolve, at - now));
  }
}

export class TencentSmsSender extends SmsSender {
  private readonly client: TencentSmsClient;
  private readonly templates: Record<SmsTemplate, string>;
  private readonly pacer: Pacer;

  constructor(
    private readonly config: AppConfig,
    options: { timeoutMs?: number; now?: () => number } = {},
  ) {
    super();
    const required = (value: string | undefined, name: string) => {
      if (!value) throw new Error(`SMS_PROVIDER=tencent needs ${name}`);
      return value;
    };
    this.client = new TencentSmsClient({
      secretId: required(config.TENCENT_SMS_SECRET_ID, 'TENCENT_SMS_SECRET_ID'),
      secretKey: required(config.TENCENT_SMS_SECRET_KEY, 'TENCENT_SMS_SECRET_KEY'),
      sdkAppId: required(config.TENCENT_SMS_SDK_APP_ID, 'TENCENT_SMS_SDK_APP_ID'),
      signName: required(config.TENCENT_SMS_SIGN_NAME, 'TENCENT_SMS_SIGN_NAME'),
      region: config.TENCENT_SMS_REGION,
      endpoint: config.TENCENT_SMS_ENDPOINT,
      ...options,
    });
    this.templates = {
      claim: required(config.TENCENT_SMS_TEMPLATE_CLAIM, 'TENCENT_SMS_TEMPLATE_CLAIM'),
      otp: required(config.TENCENT_SMS_TEMPLATE_OTP, 'TENCENT_SMS_TEMPLATE_OTP'),
    };
    this.pacer = new Pacer(config.SMS_QPS);
  }

  async send(sms: OutgoingSms): Promise<SendOutcome> {
    if (!isMainlandMobile(sms.mobile)) {
      return { ok: false, permanent: true, error: 'invalid_mobile: not a mainland mobile in +86 E.164 form' };
    }
    await this.pacer.wait();
    return this.client.sendSms(sms.mobile, this.templates[sms.template], sms.params);
  }

  describe(): string {
    return describeSmsProvider(this.config);
  }
}

/**
 * No provider: each message becomes one log line, with the number masked and the parameters reduced so that no
 * claim token (a link keeps 4 characters of it) and no one-time code ever reaches the log.
 */
export class LogSmsSender extends SmsSender {
  private readonly logger = new Logger('SmsSender');

  async send(sms: OutgoingSms): Promise<SendOutcome> {
    if (!isMainlandMobile(sms.mobile)) {
      return { ok: false, permanent: true, error: 'invalid_mobile: not a mainland mobile in +86 E.164 form' };
    }
    const providerMessageId = `log-${randomBytes(12).toString('hex')}`;
    // The claim template's last parameter is the link; the OTP template's parameters are the code: never shown.
    const shown =
      sms.template === 'claim'
        ? sms.params.map((param) => {
            if (/^https?:\/\//.test(param)) return maskUrl(param);
            // A bare token (a template whose link is fixed but for the token) is masked as well.
            return /^[A-Za-z0-9_~.-]{16,}$/.test(param) ? maskToken(param) : param.slice(0, 40);
          })
        : sms.params.map(() => '…');
    this.logger.log({
      msg: 'SMS not sent (SMS_PROVIDER=log)',
      mobile: maskMobile(sms.mobile),
      template: sms.template,
      params: shown,
      providerMessageId,
    });
    return { ok: true, providerMessageId };
  }

  describe(): string {
    return describeSmsProvider(undefined);
  }
}

/** The sender SMS_PROVIDER names. */
export function createSmsSender(config: AppConfig): SmsSender {
  return config.SMS_PROVIDER === 'tencent' ? new TencentSmsSender(config) : new LogSmsSender();
}

/** The banner line, from the configuration alone. */
export function describeSmsProvider(config: AppConfig | undefined): string {
  return config?.SMS_PROVIDER === 'tencent'
    ? `sms: Tencent Cloud SMS at ${config.TENCENT_SMS_ENDPOINT} (${config.TENCENT_SMS_REGION}, ≤ ${config.SMS_QPS}/s)`
    : 'sms: log only, nothing sent (SMS_PROVIDER=log)';
}
