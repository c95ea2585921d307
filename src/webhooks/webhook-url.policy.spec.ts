import { AppConfig } from '../config/app-config';
import { DENIED_RANGES, isAllowedAddress, WebhookUrlPolicy } from './webhook-url.policy';

const policy = (settings: Partial<AppConfig>) => new WebhookUrlPolicy(Object.assign(new AppConfig(), settings));
const strict = policy({ WEBHOOK_ALLOW_PRIVATE_NETWORKS: false, WEBHOOK_REQUIRE_HTTPS: true });
const lenient = policy({ WEBHOOK_ALLOW_PRIVATE_NETWORKS: true, WEBHOOK_REQUIRE_HTTPS: false });

describe('isAllowedAddress', () => {
  it.each([
    '127.0.0.1',
    '10.1.2.3',
    '172.16.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '::1',
    'fe80::1',
    'fd00:ec2::254',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    '224.0.0.1',
    '2001:db8::1',
  ])('refuses %s when private networks are not allowed', (address) => {
    expect(isAllowedAddress(address, false)).toBe(false);
  });

  it.each(['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111'])('allows the public address %s', (address) => {
    expect(isAllowedAddress(address, false)).toBe(true);
  });

  it.each([
    '169.254.0.1',
    '169.254.170.2',
    '::ffff:169.254.0.1',
    '::ffff:a9fe:a9fe',
    '100.100.100.200',
    '::ffff:100.100.100.200',
    'fd00:ec2::1',
    'fd00:ec2:ffff::23',
    '64:ff9b::a9fe:a9fe',
    '64:ff9b::7f00:1',
    '64:ff9b:1::1',
  ])('refuses %s even where private networks are allowed', (address) => {
    expect(isAllowedAddress(address, true)).toBe(false);
  });

  it('lists each denied IPv4 block in its IPv4-mapped form too', () => {
    expect(DENIED_RANGES).toEqual(
      expect.arrayContaining(['169.254.0.0/16', '::ffff:a9fe:0/112', '::ffff:6464:64c8/128', '64:ff9b::/96']),
    );
  });

  it('allows loopback and private ranges when asked, but never cloud metadata or unspecified', () => {
    expect(isAllowedAddress('127.0.0.1', true)).toBe(true);
    expect(isAllowedAddress('192.168.1.1', true)).toBe(true);
    expect(isAllowedAddress('169.254.169.254', true)).toBe(false);
    expect(isAllowedAddress('fd00:ec2::254', true)).toBe(false);
    expect(isAllowedAddress('::ffff:169.254.169.254', true)).toBe(false);
    expect(isAllowedAddress('0.0.0.0', true)).toBe(false);
    expect(isAllowedAddress('not-an-ip', true)).toBe(false);
  });
});

describe('WebhookUrlPolicy', () => {
  const refusal = async (check: Promise<string>) => {
    try {
      await check;
    } catch (err) {
      return (err as { code?: string }).code;
    }
    return 'accepted';
  };

  it('accepts and normalises a public https URL given as an address', async () => {
    await expect(strict.check('https://93.184.216.34:8443/Hooks?x=1')).resolves.toBe(
      'https://93.184.216.34:8443/Hooks?x=1',
    );
    await expect(strict.check('HTTPS://[2606:4700:4700::1111]/h')).resolves.toBe('https://[2606:4700:4700::1111]/h');
  });

  it('refuses what is not a webhook URL, each with its code', async () => {
    expect(await refusal(strict.check('not a url'))).toBe('invalid_webhook_url');
    expect(await refusal(strict.check('ftp://93.184.216.34/'))).toBe('invalid_webhook_url');
    expect(await refusal(strict.check('https://user:pass@93.184.216.34/'))).toBe('invalid_webhook_url');
    expect(await refusal(strict.check('https://93.184.216.34/#x'))).toBe('invalid_webhook_url');
    expect(await refusal(strict.check('http://93.184.216.34/'))).toBe('webhook_url_not_https');
    expect(await refusal(strict.check('https://127.0.0.1/'))).toBe('webhook_url_private_address');
    // Spellings of loopback that a naive string check lets through: the URL parser normalises all of them.
    expect(await refusal(strict.check('https://2130706433/'))).toBe('webhook_url_private_address');
    expect(await refusal(strict.check('https://0x7f.1/'))).toBe('webhook_url_private_address');
    expect(await refusal(strict.check('https://[::ffff:7f00:1]/'))).toBe('webhook_url_private_address');
    expect(await refusal(strict.check('https://169.254.169.254/latest/meta-data'))).toBe('webhook_url_private_address');
    expect(await refusal(strict.check('https://localhost/'))).toBe('webhook_url_private_address');
    expect(await refusal(strict.check('https://does-not-exist.invalid/'))).toBe('webhook_url_unresolvable');
  });

  it('lets tests and the demo use loopback over http, still never the metadata service', async () => {
    await expect(lenient.check('http://127.0.0.1:4000/hook')).resolves.toBe('http://127.0.0.1:4000/hook');
    await expect(lenient.check('http://localhost:4000/hook')).resolves.toBe('http://localhost:4000/hook');
    expect(await refusal(lenient.check('http://169.254.169.254/'))).toBe('webhook_url_private_address');
  });
});
