/**
 * The words of the claim messages: an e-mail (subject, HTML, text) and the parameters of the SMS templates approved
 * at the provider. Pure functions; every value that reaches the HTML is escaped, and only http(s) URLs are linked.
 */

export type MessageLocale = 'zh-CN' | 'en';

export interface ClaimMailInput {
  locale: MessageLocale;
  recipientName?: string;
  /** The enterprise's display name: who the card is from. */
  fromName: string;
  faceValueFen: number;
  /** The enterprise's greeting (定制祝福语). */
  greeting?: string;
  claimUrl: string;
  designImageUrl: string;
  /**
   * The card's code and PIN: only when the enterprise enabled code-in-mail for anonymous cards (off by default).
   * Without them the recipient reveals the code on the claim page.
   */
  code?: string;
  pin?: string;
}

export interface RenderedMail {
  subject: string;
  html: string;
  text: string;
}

/** Fen as yuan with two decimals: 50000 → "500.00". */
export function formatYuan(fen: number): string {
  if (!Number.isSafeInteger(fen) || fen < 0) throw new RangeError('face value must be a non-negative integer of fen');
  return `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char]);
}

/** A header or single-line value: no line breaks (they would start a new header or line). */
function oneLine(value: string): string {
  return value.replace(/[\r\n\u2028\u2029]+/g, ' ').trim();
}

/** Only absolute http(s) URLs are linked or shown as images: no javascript:, data: or relative links. */
function webUrl(value: string, field: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`${field} must be an absolute URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError(`${field} must be an http(s) URL`);
  return url.toString();
}

interface Words {
  subject: (from: string, yuan: string) => string;
  hello: (name?: string) => string;
  intro: (from: string, yuan: string) => string;
  button: string;
  linkNote: string;
  codeLabel: string;
  pinLabel: string;
  codeNote: string;
  footer: string;
}

const WORDS: Record<MessageLocale, Words> = {
  'zh-CN': {
    subject: (from, yuan) => `${from}送您一张${yuan}元电子卡`,
    hello: (name) => (name ? `${name}，您好：` : '您好：'),
    intro: (from, yuan) => `${from}送您一张面值${yuan}元的电子卡。`,
    button: '领取电子卡',
    linkNote: '如果按钮无法打开，请复制以下链接到浏览器中打开。此链接仅供您本人使用，请勿转发。',
    codeLabel: '卡号',
    pinLabel: '密码',
    codeNote: '卡号和密码等同现金，请妥善保管，切勿告知他人。',
    footer: '此邮件由系统自动发送，请勿直接回复。',
  },
  en: {
    subject: (from, yuan) => `${from} sent you a CNY ${yuan} e-card`,
    hello: (name) => (name ? `Dear ${name},` : 'Hello,'),
    intro: (from, yuan) => `${from} has sent you an e-card worth CNY ${yuan}.`,
    button: 'Claim your e-card',
    linkNote: 'If the button does not open, copy this link into your browser. It is for you alone: do not forward it.',
    codeLabel: 'Card number',
    pinLabel: 'PIN',
    codeNote: 'The card number and PIN are as good as cash: keep them safe and share them with no one.',
    footer: 'This message was sent automatically; please do not reply.',
  },
};

export function renderClaimMail(input: ClaimMailInput): RenderedMail {
  const words = WORDS[input.locale] ?? WORDS['zh-CN'];
  const yuan = formatYuan(input.faceValueFen);
  const from = oneLine(input.fromName);
  const name = input.recipientName === undefined ? undefined : oneLine(input.recipientName) || undefined;
  const greeting = input.greeting?.trim() || undefined;
  const claimUrl = webUrl(input.claimUrl, 'claimUrl');
  const imageUrl = webUrl(input.designImageUrl, 'designImageUrl');
  const showCode = input.code !== undefined && input.code !== '';
  const e = escapeHtml;

  const codeRows = showCode
    ? [
        `<tr><td style="padding:12px 24px;background:#fff7e6;border-radius:6px">`,
        `<p style="margin:0 0 4px">${e(words.codeLabel)}：<strong style="font-family:monospace">${e(input.code ?? '')}</strong></p>`,
        input.pin
          ? `<p style="margin:0 0 4px">${e(words.pinLabel)}：<strong style="font-family:monospace">${e(input.pin)}</strong></p>`
          : '',
        `<p style="margin:0;color:#8c8c8c;font-size:12px">${e(words.codeNote)}</p>`,
        `</td></tr>`,
      ].join('')
    : '';
  const html = [
    '<!DOCTYPE html>',
    `<html lang="${input.locale === 'en' ? 'en' : 'zh-CN'}"><head><meta charset="utf-8">`,
    '<meta name="viewport" content="width=device-width,initial-scale=1">',
    `<title>${e(words.subject(from, yuan))}</title></head>`,
    "<body style=\"margin:0;padding:0;background:#f5f5f5;font-family:-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;color:#262626\">",
    '<table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr><td align="center" style="padding:24px 12px">',
    '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:480px;background:#ffffff;border-radius:8px">',
    `<tr><td style="padding:24px 24px 8px"><p style="margin:0 0 12px">${e(words.hello(name))}</p>`,
    `<p style="margin:0">${e(words.intro(from, yuan))}</p></td></tr>`,
    `<tr><td style="padding:16px 24px"><img src="${e(imageUrl)}" alt="${e(words.subject(from, yuan))}" width="432" style="width:100%;max-width:432px;border-radius:8px;display:block"></td></tr>`,
    greeting
      ? `<tr><td style="padding:0 24px 16px"><p style="margin:0;font-size:16px;line-height:1.6;white-space:pre-line">${e(greeting)}</p></td></tr>`
      : '',
    codeRows,
    `<tr><td align="center" style="padding:16px 24px"><a href="${e(claimUrl)}" style="display:inline-block;padding:12px 32px;background:#d4380d;color:#ffffff;text-decoration:none;border-radius:24px;font-size:16px">${e(words.button)}</a></td></tr>`,
    `<tr><td style="padding:0 24px 16px;font-size:12px;color:#8c8c8c"><p style="margin:0 0 4px">${e(words.linkNote)}</p>`,
    `<p style="margin:0;word-break:break-all"><a href="${e(claimUrl)}" style="color:#8c8c8c">${e(claimUrl)}</a></p></td></tr>`,
    `<tr><td style="padding:16px 24px 24px;font-size:12px;color:#bfbfbf">${e(words.footer)}</td></tr>`,
    '</table></td></tr></table></body></html>',
  ].join('\n');

  const text = [
    words.hello(name),
    '',
    words.intro(from, yuan),
    ...(greeting ? ['', greeting] : []),
    ...(showCode
      ? [
          '',
          `${words.codeLabel}：${input.code ?? ''}`,
          ...(input.pin ? [`${words.pinLabel}：${input.pin}`] : []),
          words.codeNote,
        ]
      : []),
    '',
    // The note speaks of the link that follows it, as in the HTML part.
    words.linkNote,
    `${words.button}：${claimUrl}`,
    '',
    words.footer,
    '',
  ].join('\n');

  return { subject: words.subject(from, yuan), html, text };
}

/**
 * Parameters of the claim SMS template, in its order ({1} sender, {2} face value in yuan, {3} claim link), e.g.
 * "{1}送您一张{2}元电子卡，点击领取：{3}". The link carries the claim token: it goes to the provider and the phone
 * only, never to a log (see LogSmsSender).
 */
export function claimSmsParams(input: { fromName: string; faceValueFen: number; claimUrl: string }): string[] {
  return [oneLine(input.fromName), formatYuan(input.faceValueFen), webUrl(input.claimUrl, 'claimUrl')];
}

/** Parameters of the one-time-code template ({1} the code, {2} minutes it is valid), e.g. "验证码{1}，{2}分钟内有效". */
export function otpSmsParams(input: { code: string; ttlMinutes: number }): string[] {
  if (!/^\d{4,8}$/.test(input.code)) throw new TypeError('one-time code must be 4 to 8 digits');
  if (!Number.isInteger(input.ttlMinutes) || input.ttlMinutes < 1) throw new RangeError('ttlMinutes must be ≥ 1');
  return [input.code, String(input.ttlMinutes)];
}
