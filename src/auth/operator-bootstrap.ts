import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { RequestContext } from '../common/context/request-context';
import { AppConfig } from '../config/app-config';
import { ApiClientsService } from './api-clients.service';

/** Every process makes sure ADMIN_CLIENT_ID / ADMIN_CLIENT_SECRET can get an operator token. */
@Injectable()
export class OperatorBootstrap implements OnApplicationBootstrap {
  constructor(
    private readonly config: AppConfig,
    private readonly clients: ApiClientsService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.clients.ensureBootstrapClient(
      RequestContext.system(),
      this.config.ADMIN_CLIENT_ID,
      this.config.ADMIN_CLIENT_SECRET,
    );
  }
}
