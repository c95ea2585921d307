import { claimSmsParams, escapeHtml, formatYuan, otpSmsParams, renderClaimMail } from './message-templates';

const base = {
  locale: 'zh-CN' as const,
  fromName: '腾飞科技',
  faceValueFen: 50_000,
  claimUrl: 'https://fuli.example/claim/AbCdEfGhIjKlMnOpQrStUv',
  designImageUrl: 'https://fuli.example/designs/spring.png',
};

describe('claim mail', () => {
  it('says who sends how much in a natural Chinese subject, with yuan to two decimals', () => {
    const mail = renderClaimMail(base);
    expect(mail.subject).toBe('腾飞科技送您一张500.00元电子卡');
    expect(mail.text).toContain('腾飞科技送您一张面值500.00元的电子卡');
    expect(mail.html).toContain('<html lang="zh-CN">');
    expect(mail.html).toContain(`href="${base.claimUrl}"`);
    expect(mail.html).toContain(`src="${base.designImageUrl}"`);
    expect(mail.text).toContain(base.claimUrl);
  });

  it('shows no code or PIN unless they are passed (the enterprise setting is off by default)', () => {
    const plain = renderClaimMail(base);
    expect(plain.html).not.toContain('卡号');
    expect(plain.html).not.toContain('密码');
    expect(plain.text).not.toContain('卡号');
    const withCode = renderClaimMail({ ...base, code: 'FL7K-2Q9M-XXC4', pin: '902716' });
    expect(withCode.html).toContain('FL7K-2Q9M-XXC4');
    expect(withCode.html).toContain('902716');
    expect(withCode.text).toContain('卡号：FL7K-2Q9M-XXC4');
    expect(withCode.text).toContain('密码：902716');
  });

  it('escapes every value it puts into the HTML', () => {
    const hostile = '<script>alert("x")</script>&\'';
    const mail = renderClaimMail({
      ...base,
      fromName: hostile,
      recipientName: hostile,
      greeting: `新年快乐 ${hostile}`,
      code: hostile,
      pin: hostile,
      claimUrl: 'https://fuli.example/claim/t?a=1&b="2"',
    });
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).not.toContain('"x"');
    expect(mail.html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;');
    expect(mail.html).toContain('href="https://fuli.example/claim/t?a=1&amp;b=%222%22"');
    // The text part is not HTML: it keeps the words as they are.
    expect(mail.text).toContain(hostile);
  });

  it('links only http(s) URLs', () => {
    expect(() => renderClaimMail({ ...base, claimUrl: 'javascript:alert(1)' })).toThrow(/claimUrl/);
    expect(() => renderClaimMail({ ...base, designImageUrl: 'data:image/png;base64,AAAA' })).toThrow(/designImageUrl/);
    expect(() => renderClaimMail({ ...base, claimUrl: '/claim/relative' })).toThrow(/claimUrl/);
  });

  it('keeps a name on one line (a subject is a header)', () => {
    expect(renderClaimMail({ ...base, fromName: '腾飞\r\nBcc: x@evil.example' }).subject).not.toMatch(/[\r\n]/);
  });

  it('greets by name and carries the greeting, in English too', () => {
    const mail = renderClaimMail({
      ...base,
      locale: 'en',
      recipientName: 'Li Lei',
      greeting: 'Happy new year!',
      faceValueFen: 12_345,
    });
    expect(mail.subject).toBe('腾飞科技 sent you a CNY 123.45 e-card');
    expect(mail.text).toContain('Dear Li Lei,');
    expect(mail.html).toContain('Happy new year!');
    expect(renderClaimMail({ ...base, recipientName: '王芳' }).text.startsWith('王芳，您好：')).toBe(true);
  });
});

describe('formatting and SMS parameters', () => {
  it('formats fen as yuan', () => {
    expect(formatYuan(50_000)).toBe('500.00');
    expect(formatYuan(5)).toBe('0.05');
    expect(formatYuan(100_000_001)).toBe('1000000.01');
    expect(() => formatYuan(1.5)).toThrow();
    expect(() => formatYuan(-1)).toThrow();
  });

  it('escapes the five HTML characters', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('orders the template parameters: sender, yuan, link; code, minutes', () => {
    expect(claimSmsParams({ fromName: '腾飞科技', faceValueFen: 20_000, claimUrl: base.claimUrl })).toEqual([
      '腾飞科技',
      '200.00',
      base.claimUrl,
    ]);
    expect(otpSmsParams({ code: '482913', ttlMinutes: 5 })).toEqual(['482913', '5']);
    expect(() => otpSmsParams({ code: '48a9', ttlMinutes: 5 })).toThrow();
    expect(() => claimSmsParams({ fromName: 'x', faceValueFen: 1, claimUrl: 'ftp://x' })).toThrow();
  });
});
