import { Test } from '@nestjs/testing';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../config/app-config';
import { ConfigModule } from '../../config/config.module';
import { DistributionChannelsModule } from './distribution-channels.module';
import { MailSender } from './mail.sender';
import { LogSmsSender, SmsSender, TencentSmsSender } from './sms.sender';

async function channels(env: Record<string, string>) {
  const config = loadConfig({ NODE_ENV: 'development', DATA_DIR: mkdtempSync(join(tmpdir(), 'fuli-ch-')), ...env });
  const module = await Test.createTestingModule({
    imports: [ConfigModule.forRoot(config), DistributionChannelsModule],
  }).compile();
  await module.init();
  return module;
}

describe('DistributionChannelsModule', () => {
  it('provides the mail sender and the SMS sender SMS_PROVIDER names, and closes the mail transport', async () => {
    const logOnly = await channels({});
    expect(logOnly.get(MailSender).describe()).toMatch(/^mail: \.eml files under .*\/mail \(SMTP_URL unset\)$/);
    expect(logOnly.get(SmsSender)).toBeInstanceOf(LogSmsSender);
    await logOnly.close();

    const tencent = await channels({
      SMS_PROVIDER: 'tencent',
      TENCENT_SMS_SECRET_ID: 'AKIDexample',
      TENCENT_SMS_SECRET_KEY: 'secret',
      TENCENT_SMS_SDK_APP_ID: '1400123456',
      TENCENT_SMS_SIGN_NAME: '福利卡',
      TENCENT_SMS_TEMPLATE_CLAIM: '1',
      TENCENT_SMS_TEMPLATE_OTP: '2',
      SMTP_URL: 'smtp://127.0.0.1:2525',
    });
    expect(tencent.get(SmsSender)).toBeInstanceOf(TencentSmsSender);
    const mail = tencent.get(MailSender);
    expect(mail.describe()).toBe('mail: SMTP smtp://127.0.0.1:2525 (pool of 5)');
    const close = jest.spyOn(mail, 'close');
    await tencent.close();
    expect(close).toHaveBeenCalled();
  });
});
