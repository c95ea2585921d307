import { claimAsset, claimDesignOf } from './claim-assets';
import {
  escapeHtml,
  formatBeijingTime,
  formatYuan,
  pickLocale,
  renderClaimError,
  renderClaimPage,
  type ClaimPageModel,
} from './claim-page';

const model: ClaimPageModel = {
  locale: 'zh-CN',
  design: 'spring_festival',
  greeting: '新年快乐 <b>"all"</b> & \'you\'',
  faceValue: 12_345,
  sender: 'Acme <Corp>',
  expiresAt: new Date('2027-01-05T07:00:00Z'),
  status: 'sent',
  registered: false,
  maskedMobile: null,
  revealsLeft: 10,
  payWithCode: false,
  channels: [{ id: 'cli_"x"', name: 'Wallet <1>' }],
};
const NONCE = 'bm9uY2Utbm9uY2U=';

describe('claim page renderer', () => {
  it('escapes every value it shows, in text and attributes', () => {
    const html = renderClaimPage(model, NONCE);
    expect(html).toContain('新年快乐 &lt;b&gt;&quot;all&quot;&lt;/b&gt; &amp; &#39;you&#39;');
    expect(html).toContain('来自 Acme &lt;Corp&gt;');
    expect(html).toContain('data-channel="cli_&quot;x&quot;"');
    expect(html).toContain('添加到我的 Wallet &lt;1&gt; 账户');
    expect(html).not.toMatch(/<b>|<Corp>|<1>/);
    expect(escapeHtml(`<>&"'\``)).toBe('&lt;&gt;&amp;&quot;&#39;&#96;');
  });

  it('keeps the script data block from closing its element', () => {
    const html = renderClaimPage(model, NONCE);
    const block = /<script type="application\/json" id="claim-data">([^]*?)<\/script>/.exec(html)![1];
    expect(block).not.toContain('<');
    expect(() => JSON.parse(block) as unknown).not.toThrow();
  });

  it('shows face value in yuan with 2 decimals, the design, the expiry in Beijing time, in Chinese by default', () => {
    const html = renderClaimPage(model, NONCE);
    expect(html).toContain('lang="zh-CN"');
    expect(html).toContain('¥123.45');
    expect(html).toContain('/claim/assets/spring_festival.svg');
    expect(html).toContain('2027-01-05 15:00');
    expect(html).toContain('查看卡号和密码');
    expect(formatYuan(100)).toBe('1.00');
    expect(formatYuan(5)).toBe('0.05');
    expect(formatBeijingTime(new Date('2026-12-31T16:30:00Z'))).toBe('2027-01-01 00:30');
  });

  it('speaks English when asked', () => {
    const html = renderClaimPage({ ...model, locale: 'en' }, NONCE);
    expect(html).toContain('lang="en"');
    expect(html).toContain('From Acme &lt;Corp&gt;');
    expect(html).toContain('Show code and PIN');
    expect(html).toContain('123.45 CNY');
    expect(renderClaimError('expired', 'en', NONCE)).toContain('This claim link has expired');
    expect(renderClaimError('revoked', 'zh-CN', NONCE)).toContain('领取链接已撤销');
  });

  it('holds no code, PIN or token in the initial HTML, and nonces its script and style', () => {
    const html = renderClaimPage(model, NONCE);
    expect(html).toMatch(/<output id="code"><\/output>/);
    expect(html).toMatch(/<output id="pin"><\/output>/);
    expect(html).toContain(`<script nonce="${NONCE}">`);
    expect(html).toContain(`<style nonce="${NONCE}">`);
    expect(html).not.toMatch(/\son[a-z]+=/i);
    expect([...html.matchAll(/href="([^"]*)"/g)].map((match) => match[1])).toEqual(['/claim/assets/default.svg']);
  });

  it('asks for the SMS code of a registered card, hides reveal on a bound card', () => {
    const registered = renderClaimPage(
      { ...model, registered: true, maskedMobile: '+86138****5678', channels: [] },
      NONCE,
    );
    expect(registered).toContain('id="otp-send"');
    expect(registered).toContain('+86138****5678');
    const bound = renderClaimPage({ ...model, status: 'bound' }, NONCE);
    expect(bound).toContain('id="bound"');
    expect(bound).not.toContain('id="reveal"');
    expect(bound).not.toContain('data-channel="');
    expect(renderClaimPage({ ...model, revealsLeft: 0 }, NONCE)).toContain('id="reveal" disabled');
  });

  it('shows the payment-code panel, empty, only for a card in an account, in the page language', () => {
    expect(renderClaimPage(model, NONCE)).not.toContain('id="pay"');
    const bound = renderClaimPage({ ...model, status: 'bound', payWithCode: true }, NONCE);
    expect(bound).toContain('id="pay"');
    expect(bound).toContain('付款码');
    expect(bound).toMatch(/<output id="payment-code"><\/output>/);
    expect(bound).toMatch(/<div class="qr" id="payment-qr"><\/div>/);
    // Bound elsewhere with the revealed code: the panel comes before the reveal.
    const claimed = renderClaimPage({ ...model, status: 'claimed', payWithCode: true, locale: 'en' }, NONCE);
    expect(claimed.indexOf('id="pay"')).toBeLessThan(claimed.indexOf('id="reveal"'));
    expect(claimed).toContain('Payment code');
    const block = /<script type="application\/json" id="claim-data">([^]*?)<\/script>/.exec(claimed)![1];
    const data = JSON.parse(block) as { payCountdown: string; errors: Record<string, string> };
    expect(data.payCountdown).toBe('New code in {n} s');
    for (const code of ['card_not_bound', 'card_frozen', 'card_expired', 'card_has_no_value', 'card_unavailable']) {
      expect(data.errors[code]).toBeTruthy();
    }
  });

  it('picks the language: ?lang=, then Accept-Language preferring English, then the recipient, then zh-CN', () => {
    expect(pickLocale('en', 'zh-CN')).toBe('en');
    expect(pickLocale('zh', 'en')).toBe('zh-CN');
    expect(pickLocale(undefined, 'en-US,en;q=0.9')).toBe('en');
    expect(pickLocale(undefined, 'zh-CN,zh;q=0.9,en;q=0.8')).toBe('zh-CN');
    expect(pickLocale(undefined, 'fr-FR', 'en')).toBe('en');
    expect(pickLocale(undefined, undefined)).toBe('zh-CN');
    expect(pickLocale('xx', 'de')).toBe('zh-CN');
  });

  it('serves the three designs and nothing else', () => {
    expect(claimAsset('classic.svg')).toMatch(/^<svg /);
    expect(claimAsset('spring_festival.svg')).toContain('福');
    expect(claimAsset('default.svg')).toMatch(/^<svg /);
    expect(claimAsset('../etc.svg')).toBeNull();
    expect(claimAsset('classic.png')).toBeNull();
    expect(claimDesignOf('spring')).toBe('default');
    expect(claimDesignOf('classic')).toBe('classic');
    for (const name of ['classic.svg', 'spring_festival.svg', 'default.svg']) {
      expect(claimAsset(name)).not.toMatch(/<script|href|on[a-z]+=/i);
    }
  });
});
