import type { RecipientStatus } from './distribution.entity';
import { claimDesignOf } from './claim-assets';

/**
 * The claim page, rendered on the server as plain HTML, CSS and one small script (no framework): mobile first,
 * zh-CN by default, English on request. Pure functions of their input; every value from the database or the
 * request is escaped. The page never holds the code or PIN: the script fetches them on "reveal".
 */
export type ClaimLocale = 'zh-CN' | 'en';

export interface ClaimPageModel {
  locale: ClaimLocale;
  design: string;
  greeting: string | null;
  /** Face value in fen. */
  faceValue: number;
  /** distribution_settings.from_name, else the enterprise's name. */
  sender: string;
  expiresAt: Date | null;
  status: RecipientStatus;
  /** A registered card: a one-time code to the registered mobile unlocks the reveal. */
  registered: boolean;
  /** The registered mobile, masked (+86138****5678). */
  maskedMobile: string | null;
  revealsLeft: number;
  /** The card is in an account (anonymous cards): the page shows its rotating payment code and QR. */
  payWithCode: boolean;
  /** Redemption channels the card can be added to (only when that can work). */
  channels: ReadonlyArray<{ id: string; name: string }>;
}

export type ClaimErrorKind = 'not_found' | 'revoked' | 'expired';

const TEXT = {
  'zh-CN': {
    title: '您的福利卡',
    from: (sender: string) => `来自 ${sender}`,
    faceValue: '面值',
    currency: '元',
    expires: (when: string) => `领取链接有效期至 ${when}（北京时间）`,
    reveal: '查看卡号和密码',
    revealAgain: '再次查看卡号和密码',
    revealsLeft: (n: number) => `还可查看 ${n} 次`,
    code: '卡号',
    pin: '密码',
    copy: '复制卡号',
    copied: '已复制',
    otpIntro: (mobile: string) => `这是一张记名卡：请先获取发送到 ${mobile} 的短信验证码。`,
    otpSend: '获取验证码',
    otpLabel: '短信验证码',
    otpSent: '验证码已发送，5 分钟内有效。',
    addToAccount: (name: string) => `添加到我的 ${name} 账户`,
    bound: '这张卡已添加到您的账户，无需再查看卡号。',
    payTitle: '付款码',
    payIntro: '付款时向收银员出示付款码或二维码。付款码会自动更新，每个只能使用一次。',
    payCountdown: '{n} 秒后自动更新',
    payBalance: '余额 ¥{amount}',
    payRefresh: '刷新付款码',
    payQr: '付款码二维码',
    privacy: '请勿将卡号和密码告诉任何人。公司人事部门也看不到您的卡号。',
    errors: {
      claim_link_expired: '领取链接已过期，请联系公司人事部门重新发送。',
      claim_link_revoked: '此领取链接已被撤销。',
      code_unavailable: '此卡的卡号已无法查看，请联系公司人事部门。',
      card_unavailable: '此卡已无法使用，请联系公司人事部门。',
      reveal_limit_reached: '查看次数已达上限。',
      otp_required: '请输入短信验证码。',
      otp_invalid: '验证码不正确或已过期。',
      otp_locked: '错误次数过多，请重新获取验证码。',
      otp_too_soon: '验证码发送过于频繁，请稍后再试。',
      risk_blocked: '出于安全原因，此链接暂时无法查看卡号，请联系公司人事部门。',
      otp_send_limit: '验证码发送次数已达上限。',
      otp_send_failed: '短信发送失败，请稍后再试。',
      claim_not_available: '此卡暂不可领取。',
      card_already_bound: '这张卡已添加到账户。',
      card_not_bound: '请先将这张卡添加到您的账户，才能使用付款码。',
      card_frozen: '这张卡已被冻结，暂时无法付款。如有疑问请联系公司人事部门。',
      card_expired: '这张卡已过有效期，无法付款。',
      card_has_no_value: '这张卡的余额已用完。',
      payment_code_unavailable: '记名卡请在所添加账户的应用中出示付款码。',
      generic: '出错了，请稍后再试。',
    } as Record<string, string>,
    notFoundTitle: '找不到这个领取链接',
    notFound: '请检查链接是否完整，或联系公司人事部门。',
    revokedTitle: '领取链接已撤销',
    revoked: '这张卡已被收回，如有疑问请联系公司人事部门。',
    expiredTitle: '领取链接已过期',
    expired: '请联系公司人事部门重新发送领取链接。',
  },
  en: {
    title: 'Your welfare card',
    from: (sender: string) => `From ${sender}`,
    faceValue: 'Face value',
    currency: 'CNY',
    expires: (when: string) => `This link is valid until ${when} (China Standard Time)`,
    reveal: 'Show code and PIN',
    revealAgain: 'Show code and PIN again',
    revealsLeft: (n: number) => `${n} more ${n === 1 ? 'view' : 'views'} left`,
    code: 'Card code',
    pin: 'PIN',
    copy: 'Copy code',
    copied: 'Copied',
    otpIntro: (mobile: string) => `This is a registered card: first get the SMS code sent to ${mobile}.`,
    otpSend: 'Send me a code',
    otpLabel: 'SMS code',
    otpSent: 'Code sent; it is valid for 5 minutes.',
    addToAccount: (name: string) => `Add to my ${name} account`,
    bound: 'This card was added to your account: its code and PIN are no longer shown.',
    payTitle: 'Payment code',
    payIntro: 'Show the payment code or QR code at the till. It renews itself, and each code works once.',
    payCountdown: 'New code in {n} s',
    payBalance: 'Balance ¥{amount}',
    payRefresh: 'New payment code',
    payQr: 'Payment QR code',
    privacy: 'Never share the code and PIN with anyone. Your HR department cannot see them either.',
    errors: {
      claim_link_expired: 'This link has expired. Ask your HR department to send it again.',
      claim_link_revoked: 'This link was revoked.',
      code_unavailable: "This card's code can no longer be shown. Please contact your HR department.",
      card_unavailable: 'This card can no longer be used. Please contact your HR department.',
      reveal_limit_reached: 'The code has been shown as many times as allowed.',
      otp_required: 'Enter the SMS code first.',
      otp_invalid: 'The SMS code is wrong or has expired.',
      otp_locked: 'Too many wrong codes: ask for a new one.',
      otp_too_soon: 'Please wait a minute before asking for another code.',
      risk_blocked:
        'For your security the code cannot be shown from here right now. Please contact your HR department.',
      otp_send_limit: 'No more codes can be sent for this link.',
      otp_send_failed: 'The SMS could not be sent. Please try again later.',
      claim_not_available: 'This card cannot be claimed at the moment.',
      card_already_bound: 'This card has been added to an account already.',
      card_not_bound: 'Add this card to your account first to pay with a payment code.',
      card_frozen: 'This card is frozen and cannot pay for now. Contact your HR department if you have questions.',
      card_expired: 'This card has expired and can no longer pay.',
      card_has_no_value: "This card's balance has been used up.",
      payment_code_unavailable: "A registered card's payment code is shown in the app of the account it was added to.",
      generic: 'Something went wrong. Please try again later.',
    } as Record<string, string>,
    notFoundTitle: 'Claim link not found',
    notFound: 'Check that the link is complete, or contact your HR department.',
    revokedTitle: 'This claim link was revoked',
    revoked: 'The card was taken back. Contact your HR department if you have questions.',
    expiredTitle: 'This claim link has expired',
    expired: 'Ask your HR department to send you a new link.',
  },
} as const;

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/** Text for HTML element content and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (char) => ESCAPES[char]);
}

/** JSON for a `<script type="application/json">` block: nothing in it can close the element or open a comment. */
function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** 12345 fen → "123.45". */
export function formatYuan(fen: number): string {
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

const SHANGHAI = new Intl.DateTimeFormat('en-CA', {
  timeZone: 'Asia/Shanghai',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
});

/** A time as Beijing time, `2027-01-05 15:00`, whatever the server's zone. */
export function formatBeijingTime(at: Date): string {
  const parts = Object.fromEntries(SHANGHAI.formatToParts(at).map((part) => [part.type, part.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
}

/**
 * The page's language: `?lang=` wins (en, zh, zh-CN); else English when Accept-Language ranks some English above
 * every Chinese; else the recipient's own locale; else zh-CN.
 */
export function pickLocale(
  lang: string | undefined,
  acceptLanguage: string | undefined,
  fallback?: ClaimLocale,
): ClaimLocale {
  const asked = lang?.trim().toLowerCase();
  if (asked === 'en' || asked?.startsWith('en-')) return 'en';
  if (asked === 'zh' || asked?.startsWith('zh-')) return 'zh-CN';
  if (acceptLanguage) {
    let en = 0;
    let zh = 0;
    for (const part of acceptLanguage.split(',').slice(0, 20)) {
      const [tag, ...params] = part.trim().toLowerCase().split(';');
      const q = params.map((param) => /^\s*q=([0-9.]+)\s*$/.exec(param)).find(Boolean);
      const weight = q ? Number(q[1]) : 1;
      if (!Number.isFinite(weight)) continue;
      if (tag === 'en' || tag.startsWith('en-')) en = Math.max(en, weight);
      if (tag === 'zh' || tag.startsWith('zh-')) zh = Math.max(zh, weight);
    }
    if (en > 0 && en > zh) return 'en';
    if (zh > 0) return 'zh-CN';
  }
  return fallback ?? 'zh-CN';
}

const STYLE = `
*{box-sizing:border-box}
body{margin:0;font-family:-apple-system,BlinkMacSystemFont,"PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC",sans-serif;background:#f4f4f5;color:#18181b;line-height:1.5}
main{max-width:480px;margin:0 auto;padding:16px}
h1{font-size:1.25rem;margin:8px 0 16px}
.card{position:relative;border-radius:16px;overflow:hidden;box-shadow:0 8px 24px rgba(0,0,0,.15)}
.card img{display:block;width:100%;height:auto}
.card .value{position:absolute;right:6%;bottom:8%;color:#fff;font-size:1.75rem;font-weight:700;text-shadow:0 1px 3px rgba(0,0,0,.4)}
.greeting{background:#fff;border-radius:12px;padding:12px 16px;margin:16px 0;white-space:pre-wrap;overflow-wrap:anywhere}
.meta{color:#52525b;font-size:.9rem;margin:4px 0}
button{width:100%;min-height:48px;border:0;border-radius:12px;font-size:1rem;font-weight:600;margin:8px 0;cursor:pointer}
button.primary{background:#dc2626;color:#fff}
button.secondary{background:#e4e4e7;color:#18181b}
button:disabled{opacity:.6}
.secret{background:#fff;border-radius:12px;padding:16px;margin:12px 0;text-align:center}
.secret output{display:block;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:1.4rem;letter-spacing:.08em;user-select:all}
.secret .label{color:#52525b;font-size:.85rem}
.otp input{width:100%;min-height:48px;font-size:1.25rem;letter-spacing:.3em;text-align:center;border:1px solid #d4d4d8;border-radius:12px}
.message{min-height:1.5em;color:#b91c1c;margin:8px 0}
.note{color:#71717a;font-size:.8rem;margin-top:24px}
.pay{background:#fff;border-radius:12px;padding:16px;margin:16px 0;text-align:center}
.pay h2{font-size:1.1rem;margin:0 0 8px}
.pay .qr{width:220px;height:220px;margin:8px auto;background:#fff}
.pay .qr svg{display:block;width:100%;height:100%}
.pay output{display:block;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:1.3rem;letter-spacing:.06em;margin:8px 0}
[hidden]{display:none!important}
`;

/** The script of the page: reveal, one-time code, copy, add to account. Reads its texts from #claim-data. */
const SCRIPT = `(function () {
  var data = JSON.parse(document.getElementById('claim-data').textContent);
  var base = location.pathname.replace(/\\/+$/, '');
  var message = document.getElementById('message');
  function say(code) { message.textContent = data.errors[code] || data.errors.generic; }
  function post(path, body) {
    return fetch(base + path, {
      method: 'POST', credentials: 'same-origin', cache: 'no-store', referrerPolicy: 'no-referrer',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().then(function (json) { return { status: response.status, body: json }; },
        function () { return { status: response.status, body: {} }; });
    });
  }
  var reveal = document.getElementById('reveal');
  var otpInput = document.getElementById('otp-input');
  if (reveal) reveal.addEventListener('click', function () {
    message.textContent = '';
    var body = {};
    if (otpInput) {
      if (!/^[0-9]{6}$/.test(otpInput.value.trim())) { say('otp_required'); return; }
      body.otp = otpInput.value.trim();
    }
    reveal.disabled = true;
    post('/reveal', body).then(function (result) {
      reveal.disabled = false;
      if (result.status !== 200) { say(result.body.code); if (result.status === 410) reveal.disabled = true; return; }
      document.getElementById('code').textContent = result.body.code;
      document.getElementById('pin').textContent = result.body.pin;
      document.getElementById('secret').hidden = false;
      var left = document.getElementById('reveals-left');
      if (left) left.textContent = data.revealsLeft.replace('{n}', String(result.body.reveals_left));
      reveal.textContent = data.revealAgain;
      if (otpInput) otpInput.value = '';
    }, function () { reveal.disabled = false; say('generic'); });
  });
  var otpSend = document.getElementById('otp-send');
  if (otpSend) otpSend.addEventListener('click', function () {
    message.textContent = '';
    otpSend.disabled = true;
    post('/otp').then(function (result) {
      setTimeout(function () { otpSend.disabled = false; }, 60000);
      if (result.status !== 200) { say(result.body.code); return; }
      message.textContent = data.otpSent;
    }, function () { otpSend.disabled = false; say('generic'); });
  });
  var pay = document.getElementById('pay');
  if (pay) {
    // The payment code: fetched now and again when its window ends (counted from the server's refresh_in_ms, so a
    // wrong phone clock does not matter), on "new code", and on coming back to the page after its window.
    var payCode = document.getElementById('payment-code');
    var payQr = document.getElementById('payment-qr');
    var countdown = document.getElementById('payment-countdown');
    var payBalance = document.getElementById('payment-balance');
    var payMessage = document.getElementById('payment-message');
    var payRefresh = document.getElementById('payment-refresh');
    var gone = ['card_voided', 'card_lost', 'card_replaced', 'card_refunded'];
    var deadline = 0, loading = false, stopped = false;
    function clearCode() {
      payCode.textContent = '';
      countdown.textContent = '';
      while (payQr.firstChild) payQr.removeChild(payQr.firstChild);
    }
    function loadCode() {
      if (loading) return;
      loading = true;
      post('/payment-code').then(function (result) {
        loading = false;
        if (result.status !== 200) {
          // Refused (not in an account, frozen, used up, expired, link gone): no code, and say why.
          stopped = true;
          clearCode();
          var code = gone.indexOf(result.body.code) >= 0 ? 'card_unavailable' : result.body.code;
          payMessage.textContent = data.errors[code] || data.errors.generic;
          return;
        }
        stopped = false;
        payMessage.textContent = '';
        var svg = new DOMParser().parseFromString(result.body.qr_svg, 'image/svg+xml').documentElement;
        svg.setAttribute('role', 'img');
        svg.setAttribute('aria-label', data.payQr);
        while (payQr.firstChild) payQr.removeChild(payQr.firstChild);
        payQr.appendChild(document.importNode(svg, true));
        payCode.textContent = result.body.code_grouped;
        payBalance.textContent = data.payBalance.replace('{amount}', (result.body.balance / 100).toFixed(2));
        // A moment into the next window, so that the server is past it too.
        deadline = Date.now() + result.body.refresh_in_ms + 500;
        tick();
      }, function () { loading = false; payMessage.textContent = data.errors.generic; deadline = Date.now() + 5000; });
    }
    function tick() {
      if (stopped) return;
      var left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
      countdown.textContent = data.payCountdown.replace('{n}', String(left));
      if (left === 0 && !document.hidden) loadCode();
    }
    setInterval(tick, 1000);
    payRefresh.addEventListener('click', function () { stopped = false; loadCode(); });
    document.addEventListener('visibilitychange', function () { if (!document.hidden && !stopped) tick(); });
    loadCode();
  }
  var copy = document.getElementById('copy');
  if (copy) copy.addEventListener('click', function () {
    var code = document.getElementById('code').textContent;
    if (navigator.clipboard) navigator.clipboard.writeText(code).then(function () { copy.textContent = data.copied; });
  });
  Array.prototype.forEach.call(document.querySelectorAll('button[data-channel]'), function (button) {
    button.addEventListener('click', function () {
      message.textContent = '';
      button.disabled = true;
      post('/bind-ticket', { channel: button.getAttribute('data-channel') }).then(function (result) {
        button.disabled = false;
        if (result.status !== 200) { say(result.body.code); return; }
        location.assign(result.body.url);
      }, function () { button.disabled = false; say('generic'); });
    });
  });
})();`;

function layout(locale: ClaimLocale, nonce: string, title: string, body: string): string {
  return `<!doctype html>
<html lang="${locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<title>${escapeHtml(title)}</title>
<link rel="icon" type="image/svg+xml" href="/claim/assets/default.svg">
<style nonce="${escapeHtml(nonce)}">${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

/** What the employee sees for a live link (status 200). Holds no code, PIN or token. */
export function renderClaimPage(model: ClaimPageModel, nonce: string): string {
  const t = TEXT[model.locale];
  const design = claimDesignOf(model.design);
  const bound = model.status === 'bound';
  const revealed = model.status === 'claimed';
  const parts: string[] = [];
  parts.push(`<h1>${escapeHtml(t.title)}</h1>`);
  parts.push(
    `<div class="card"><img src="/claim/assets/${design}.svg" alt="" width="856" height="540">` +
      `<span class="value" id="face-value">¥${formatYuan(model.faceValue)}</span></div>`,
  );
  parts.push(`<p class="meta" id="sender">${escapeHtml(t.from(model.sender))}</p>`);
  parts.push(
    `<p class="meta">${escapeHtml(t.faceValue)}: <strong>${formatYuan(model.faceValue)} ${escapeHtml(t.currency)}</strong></p>`,
  );
  if (model.greeting) parts.push(`<p class="greeting" id="greeting">${escapeHtml(model.greeting)}</p>`);
  if (model.expiresAt && !bound) {
    parts.push(`<p class="meta" id="expires">${escapeHtml(t.expires(formatBeijingTime(model.expiresAt)))}</p>`);
  }
  // The payment code's panel: the script fills it in (the page itself holds no code).
  const pay = model.payWithCode
    ? `<section class="pay" id="pay" aria-labelledby="pay-title"><h2 id="pay-title">${escapeHtml(t.payTitle)}</h2>` +
      `<p class="meta">${escapeHtml(t.payIntro)}</p><div class="qr" id="payment-qr"></div>` +
      `<output id="payment-code"></output><p class="meta" id="payment-countdown"></p>` +
      `<p class="meta" id="payment-balance"></p>` +
      `<p class="message" id="payment-message" role="status" aria-live="polite"></p>` +
      `<button type="button" class="secondary" id="payment-refresh">${escapeHtml(t.payRefresh)}</button></section>`
    : null;
  if (bound) {
    parts.push(`<p class="greeting" id="bound">${escapeHtml(t.bound)}</p>`);
    if (pay) parts.push(pay);
  } else {
    if (pay) parts.push(pay);
    if (model.registered) {
      parts.push(
        `<div class="otp"><p>${escapeHtml(t.otpIntro(model.maskedMobile ?? ''))}</p>` +
          `<button type="button" class="secondary" id="otp-send">${escapeHtml(t.otpSend)}</button>` +
          `<label>${escapeHtml(t.otpLabel)}<input id="otp-input" inputmode="numeric" autocomplete="one-time-code" maxlength="6" pattern="[0-9]{6}"></label></div>`,
      );
    }
    const revealDisabled = model.revealsLeft <= 0 ? ' disabled' : '';
    parts.push(
      `<button type="button" class="primary" id="reveal"${revealDisabled}>${escapeHtml(revealed ? t.revealAgain : t.reveal)}</button>`,
    );
    parts.push(`<p class="meta" id="reveals-left">${escapeHtml(t.revealsLeft(model.revealsLeft))}</p>`);
    parts.push(
      `<div class="secret" id="secret" hidden><span class="label">${escapeHtml(t.code)}</span><output id="code"></output>` +
        `<span class="label">${escapeHtml(t.pin)}</span><output id="pin"></output>` +
        `<button type="button" class="secondary" id="copy">${escapeHtml(t.copy)}</button></div>`,
    );
    for (const channel of model.channels) {
      parts.push(
        `<button type="button" class="secondary" data-channel="${escapeHtml(channel.id)}">${escapeHtml(t.addToAccount(channel.name))}</button>`,
      );
    }
  }
  parts.push('<p class="message" id="message" role="status" aria-live="polite"></p>');
  parts.push(`<p class="note">${escapeHtml(t.privacy)}</p>`);
  const data = {
    errors: t.errors,
    revealAgain: t.revealAgain,
    revealsLeft: t.revealsLeft(0).replace('0', '{n}'),
    otpSent: t.otpSent,
    copied: t.copied,
    payCountdown: t.payCountdown,
    payBalance: t.payBalance,
    payQr: t.payQr,
  };
  parts.push(`<script type="application/json" id="claim-data">${jsonForScript(data)}</script>`);
  parts.push(`<script nonce="${escapeHtml(nonce)}">${SCRIPT}</script>`);
  return layout(model.locale, nonce, t.title, parts.join('\n'));
}

/** The page of a link that does not work (404 not found, 410 revoked or expired): no script. */
export function renderClaimError(kind: ClaimErrorKind, locale: ClaimLocale, nonce: string): string {
  const t = TEXT[locale];
  const [title, text] =
    kind === 'not_found'
      ? [t.notFoundTitle, t.notFound]
      : kind === 'revoked'
        ? [t.revokedTitle, t.revoked]
        : [t.expiredTitle, t.expired];
  return layout(
    locale,
    nonce,
    title,
    `<h1 id="claim-error" data-kind="${kind}">${escapeHtml(title)}</h1>\n<p>${escapeHtml(text)}</p>`,
  );
}
