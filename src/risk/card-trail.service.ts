import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import type { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { isValidSerial } from '../cards/card-code';
import { CardErrors } from '../cards/card-errors';
import { CardsRepository } from '../cards/cards.repository';
import type { CardTrailDto } from './dto/card-trail.dto';

/** The step a record of the chain is in a card's life. */
const STEPS: Record<string, string> = {
  'cards.minted': 'minted',
  'distribution.cards_assigned': 'distributed',
  'card.viewed': 'claimed',
  'card.revealed': 'claimed',
  'card.bound': 'bound',
  'card.debited': 'debited',
  'card.reversed': 'reversed',
  'card.frozen': 'frozen',
  'card.unfrozen': 'unfrozen',
  'card.reported_lost': 'lost',
  'card.replaced': 'replaced',
  'cards.voided': 'voided',
  'card.refunded': 'refunded',
  'cards.expired': 'expired',
  'card.reactivated': 'reactivated',
  'risk.alert': 'alert',
};

/**
 * A card's trail (交易溯源): its whole history as the audit chain has it, each step with its record's seq and hash,
 * so that it can be checked against the chain (GET /v1/admin/audit, /v1/admin/audit/verify). For the card's
 * enterprise (cards:read) and the operator.
 */
@Injectable()
export class CardTrailService {
  constructor(
    private readonly cards: CardsRepository,
    private readonly audit: AuditService,
  ) {}

  async trail(ctx: RequestContext, serial: string): Promise<CardTrailDto> {
    const owner = ctx.actor?.scopes.has('cards:read') ?? false;
    if (!ctx.isOperator && !owner) throw ApiError.forbidden('insufficient_scope', "A card's trail needs cards:read");
    if (!isValidSerial(serial)) throw CardErrors.notFound(serial);
    const card = await this.cards.bySerial(ctx, serial);
    if (!card || (!ctx.isOperator && card.enterpriseId !== ctx.actor?.enterpriseId)) throw CardErrors.notFound(serial);
    const records = await this.audit.recordsOfCard(ctx, serial, card.orderId);
    return {
      object: 'card_trail',
      serial,
      enterprise_id: card.enterpriseId,
      order_id: card.orderId,
      status: card.status,
      steps: records.map((record) => ({
        step: STEPS[record.action] ?? (record.action.startsWith('card_export.') ? 'exported' : record.action),
        action: record.action,
        occurred_at: record.occurred_at,
        actor_client_id: record.actor_client_id,
        object_type: record.object_type,
        object_id: record.object_id,
        summary: record.data.summary,
        audit_record_id: record.id,
        seq: record.seq,
        prev_hash: record.prev_hash,
        hash: record.hash,
      })),
    };
  }
}
