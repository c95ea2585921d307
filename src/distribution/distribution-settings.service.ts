import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import type { RequestContext } from '../common/context/request-context';
import { TransactionService } from '../database/transaction.service';
import { DistributionRepository } from './distribution.repository';
import {
  CLAIM_LINK_TTL_DAYS,
  DistributionSettingsDto,
  type UpdateDistributionSettingsDto,
} from './dto/distribution-settings.dto';

/** An enterprise's distribution settings: sender name, code in messages (anonymous cards), claim link lifetime. */
@Injectable()
export class DistributionSettingsService {
  constructor(
    private readonly distributions: DistributionRepository,
    private readonly transactions: TransactionService,
    private readonly audit: AuditService,
  ) {}

  async get(ctx: RequestContext): Promise<DistributionSettingsDto> {
    return DistributionSettingsDto.from(await this.distributions.settingsOf(ctx, ctx.enterpriseId));
  }

  /** The whole settings; a field left out takes its default. Audited: code_in_message changes who may see codes. */
  async put(ctx: RequestContext, dto: UpdateDistributionSettingsDto): Promise<DistributionSettingsDto> {
    return this.transactions.run(ctx, async () => {
      const before = DistributionSettingsDto.from(await this.distributions.settingsOf(ctx, ctx.enterpriseId));
      const saved = await this.distributions.saveSettings(ctx, {
        enterpriseId: ctx.enterpriseId,
        fromName: dto.from_name ?? null,
        codeInMessage: dto.code_in_message ?? false,
        claimLinkTtlDays: dto.claim_link_ttl_days ?? CLAIM_LINK_TTL_DAYS.default,
      });
      const after = DistributionSettingsDto.from(saved);
      await this.audit.record(ctx, {
        action: 'distribution_settings.updated',
        objectType: 'enterprise',
        objectId: ctx.enterpriseId,
        enterpriseId: ctx.enterpriseId,
        summary: {
          from_name: after.from_name,
          code_in_message: after.code_in_message,
          claim_link_ttl_days: after.claim_link_ttl_days,
          code_in_message_before: before.code_in_message,
        },
      });
      return after;
    });
  }
}
