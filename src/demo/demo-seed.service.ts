import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Injectable } from '@nestjs/common';
import { ApiClientsService } from '../auth/api-clients.service';
import { ROLE_SCOPES, type Scope } from '../common/access/scopes';
import { CatalogService } from '../catalog/catalog.service';
import type { CreateProductDto } from '../catalog/dto/create-product.dto';
import { RequestContext } from '../common/context/request-context';
import { MAX_PAGE_SIZE } from '../common/pagination/pagination';
import { AppConfig } from '../config/app-config';
import { creditCodeCheckCharacter } from '../enterprises/credit-code';
import { EnterprisesService } from '../enterprises/enterprises.service';

const DEMO_CODE_BODY = '91310000MA1FL8DM0';
export const DEMO_CREDIT_CODE = `${DEMO_CODE_BODY}${creditCodeCheckCharacter(DEMO_CODE_BODY)}`;

/** The demo catalog: one product of each card type, within the single-card limits (README.md, compliance limits). */
export const DEMO_PRODUCTS: readonly CreateProductDto[] = [
  {
    name: '福利电子卡 (不记名) Welfare e-card, anonymous',
    card_type: 'anonymous',
    face_values: [5_000, 10_000, 20_000, 50_000, 100_000],
    validity_months: 36,
    designs: ['classic', 'spring_festival'],
    greeting_allowed: true,
  },
  {
    name: '福利电子卡 (记名) Welfare e-card, registered',
    card_type: 'registered',
    face_values: [100_000, 200_000, 500_000],
    validity_months: null,
    designs: ['classic'],
    greeting_allowed: true,
  },
];

interface ClientCredentials {
  client_id: string;
  client_secret: string;
}

export interface DemoCredentials {
  enterprise_id: string;
  /** The demo catalog's products, in DEMO_PRODUCTS order. */
  product_ids: string[];
  /** The HR system: orders cards (and, as integrator, registers webhook endpoints). */
  hr: ClientCredentials;
  /** The finance system: approves orders above the approval threshold (a different client from the one ordering). */
  finance: ClientCredentials;
}

const DEMO_CLIENTS: Record<
  keyof Omit<DemoCredentials, 'enterprise_id' | 'product_ids'>,
  { name: string; scopes: Scope[] }
> = {
  // HR and integrator: the demo client orders cards and can register a webhook endpoint to watch them.
  hr: { name: 'Demo HR system', scopes: [...ROLE_SCOPES.hr, ...ROLE_SCOPES.integrator] },
  finance: { name: 'Demo finance system', scopes: [...ROLE_SCOPES.finance] },
};

/**
 * Outside production, `npm start` leaves a ready demo tenant: an enterprise (2 % discount, a credit line and an
 * approval threshold of 50,000 CNY), a catalog to buy from, and an HR and a finance client whose credentials are
 * kept in DATA_DIR/demo-credentials.json and printed at every start, so a newcomer can follow the README's HR
 * walk-through at once. Each part is created only when missing, so restarts change nothing.
 */
@Injectable()
export class DemoSeedService {
  constructor(
    private readonly config: AppConfig,
    private readonly enterprises: EnterprisesService,
    private readonly clients: ApiClientsService,
    private readonly catalog: CatalogService,
  ) {}

  async seed(): Promise<DemoCredentials> {
    const ctx = RequestContext.system();
    let [enterprise] = (await this.enterprises.list(ctx, { credit_code: DEMO_CREDIT_CODE, limit: 1 })).data;
    if (!enterprise) {
      enterprise = await this.enterprises.create(ctx, {
        name: '示例科技有限公司 (Demo Technology Co., Ltd.)',
        credit_code: DEMO_CREDIT_CODE,
        invoice_title: '示例科技有限公司',
        registered_address: '上海市浦东新区示例路 1 号',
        contact_email: 'hr@demo.example',
        discount_bps: 200,
        credit_limit: 10_000_000,
        approval_threshold: 5_000_000,
      });
    }
    const existing = await this.productIdsByName(ctx);
    const productIds: string[] = [];
    for (const product of DEMO_PRODUCTS) {
      productIds.push(existing.get(product.name) ?? (await this.catalog.create(ctx, product)).id);
    }
    const file = join(this.config.dataDir, 'demo-credentials.json');
    const stored = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<DemoCredentials>) : {};
    const sameEnterprise = stored.enterprise_id === enterprise.id;
    const credentials: DemoCredentials = {
      enterprise_id: enterprise.id,
      product_ids: productIds,
      hr: await this.client(enterprise.id, 'hr', sameEnterprise ? stored.hr : undefined),
      finance: await this.client(enterprise.id, 'finance', sameEnterprise ? stored.finance : undefined),
    };
    writeFileSync(file, JSON.stringify(credentials, null, 2), { mode: 0o600 });
    return credentials;
  }

  /**
   * Prints to the terminal (not the JSON log): the one place demo secrets are shown. `notes` are lines the caller
   * adds (where mail and SMS go).
   */
  async seedAndPrint(notes: string[] = []): Promise<DemoCredentials> {
    const demo = await this.seed();
    const url = this.config.publicUrl;
    const lines = [
      '',
      `Fuli is running at ${url}`,
      `  API docs:            ${url}/docs`,
      `  Demo enterprise:     ${demo.enterprise_id}`,
      `  Demo HR client:      client_id=${demo.hr.client_id}`,
      `                       client_secret=${demo.hr.client_secret}`,
      `  Demo finance client: client_id=${demo.finance.client_id}`,
      `                       client_secret=${demo.finance.client_secret}`,
      `  Operator client:     client_id=${this.config.ADMIN_CLIENT_ID} (secret: ${this.operatorSecretSource()})`,
      `  All of these:        ${join(this.config.dataDir, 'demo-credentials.json')}`,
      '  Get a token:',
      `    curl -s -u ${demo.hr.client_id}:${demo.hr.client_secret} -d grant_type=client_credentials ${url}/v1/oauth/token`,
      ...notes.map((note) => `  ${note}`),
      '',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    return demo;
  }

  /**
   * Where the operator's secret is: the environment's when it set ADMIN_CLIENT_SECRET, else the one development
   * generated into DATA_DIR/secrets.json (the file's value tells which: loadConfig fills only what is unset).
   */
  operatorSecretSource(): string {
    const file = join(this.config.dataDir, 'secrets.json');
    const generated = existsSync(file)
      ? (JSON.parse(readFileSync(file, 'utf8')) as { ADMIN_CLIENT_SECRET?: string }).ADMIN_CLIENT_SECRET
      : undefined;
    return generated === this.config.ADMIN_CLIENT_SECRET
      ? `ADMIN_CLIENT_SECRET in ${file}`
      : 'the ADMIN_CLIENT_SECRET you set';
  }

  /** Every product of the catalog by name, read page by page through the catalog's own service. */
  private async productIdsByName(ctx: RequestContext): Promise<Map<string, string>> {
    const names = new Map<string, string>();
    for (let cursor: string | undefined; ;) {
      const page = await this.catalog.list(ctx, { limit: MAX_PAGE_SIZE, starting_after: cursor });
      for (const product of page.data) if (!names.has(product.name)) names.set(product.name, product.id);
      if (!page.next_cursor) return names;
      cursor = page.next_cursor;
    }
  }

  /** The stored client if its secret still works, else a new client of that role. */
  private async client(
    enterpriseId: string,
    role: keyof typeof DEMO_CLIENTS,
    stored: ClientCredentials | undefined,
  ): Promise<ClientCredentials> {
    if (stored && (await this.stillValid(stored))) return stored;
    const { name, scopes } = DEMO_CLIENTS[role];
    const created = await this.clients.create(RequestContext.system(), { name, enterprise_id: enterpriseId, scopes });
    return { client_id: created.id, client_secret: created.client_secret };
  }

  private async stillValid(credentials: ClientCredentials): Promise<boolean> {
    try {
      await this.clients.authenticate(credentials.client_id, credentials.client_secret, null);
      return true;
    } catch {
      return false;
    }
  }
}
