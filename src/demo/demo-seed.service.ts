import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ApiClientsService } from '../auth/api-clients.service';
import { ROLE_SCOPES } from '../auth/scopes';
import { RequestContext } from '../common/context/request-context';
import { AppConfig } from '../config/app-config';
import { creditCodeCheckCharacter } from '../enterprises/credit-code';
import { Enterprise } from '../enterprises/enterprise.entity';
import { EnterprisesService } from '../enterprises/enterprises.service';

const DEMO_CODE_BODY = '91310000MA1FL8DM0';
export const DEMO_CREDIT_CODE = `${DEMO_CODE_BODY}${creditCodeCheckCharacter(DEMO_CODE_BODY)}`;

interface DemoCredentials {
  enterprise_id: string;
  client_id: string;
  client_secret: string;
}

/**
 * Outside production, `npm start` leaves a ready demo tenant: an enterprise and
 * an HR client whose credentials are kept in DATA_DIR/demo-credentials.json and
 * printed at every start, so a newcomer can call the API at once.
 */
@Injectable()
export class DemoSeedService {
  constructor(
    private readonly config: AppConfig,
    private readonly dataSource: DataSource,
    private readonly enterprises: EnterprisesService,
    private readonly clients: ApiClientsService,
  ) {}

  async seed(): Promise<DemoCredentials> {
    const ctx = RequestContext.system();
    let enterprise = await this.dataSource.manager.findOneBy(Enterprise, { creditCode: DEMO_CREDIT_CODE });
    if (!enterprise) {
      const created = await this.enterprises.create(ctx, {
        name: '示例科技有限公司 (Demo Technology Co., Ltd.)',
        credit_code: DEMO_CREDIT_CODE,
        invoice_title: '示例科技有限公司',
        registered_address: '上海市浦东新区示例路 1 号',
        contact_email: 'hr@demo.example',
        discount_bps: 200,
        credit_limit: 10_000_000,
      });
      enterprise = await this.dataSource.manager.findOneByOrFail(Enterprise, { id: created.id });
    }
    const file = join(this.config.dataDir, 'demo-credentials.json');
    const stored = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as DemoCredentials) : null;
    if (stored?.enterprise_id === enterprise.id && (await this.stillValid(stored))) return stored;
    const client = await this.clients.create(ctx, {
      name: 'Demo HR system',
      enterprise_id: enterprise.id,
      // HR and integrator: the demo client orders cards and can register a webhook endpoint to watch them.
      scopes: [...ROLE_SCOPES.hr, ...ROLE_SCOPES.integrator],
    });
    const credentials = { enterprise_id: enterprise.id, client_id: client.id, client_secret: client.client_secret };
    writeFileSync(file, JSON.stringify(credentials, null, 2), { mode: 0o600 });
    return credentials;
  }

  /** Prints to the terminal (not the JSON log): the one place demo secrets are shown. */
  async seedAndPrint(): Promise<void> {
    const demo = await this.seed();
    const url = this.config.publicUrl;
    const lines = [
      '',
      `Fuli is running at ${url}`,
      `  API docs:          ${url}/docs`,
      `  Demo enterprise:   ${demo.enterprise_id}`,
      `  Demo HR client:    client_id=${demo.client_id}`,
      `                     client_secret=${demo.client_secret}`,
      `  Operator client:   client_id=${this.config.ADMIN_CLIENT_ID} (secret: ADMIN_CLIENT_SECRET, or ${join(this.config.dataDir, 'secrets.json')})`,
      '  Get a token:',
      `    curl -s -u ${demo.client_id}:${demo.client_secret} -d grant_type=client_credentials ${url}/v1/oauth/token`,
      '',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }

  private async stillValid(credentials: DemoCredentials): Promise<boolean> {
    try {
      await this.clients.authenticate(credentials.client_id, credentials.client_secret, null);
      return true;
    } catch {
      return false;
    }
  }
}
