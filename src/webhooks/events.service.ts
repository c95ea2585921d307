import { Injectable } from '@nestjs/common';
import type { EntityManager, QueryDeepPartialEntity } from 'typeorm';
import { newId } from '../common/ids';
import { Event } from './event.entity';

export type EventType =
  | 'order.created'
  | 'order.approval_required'
  | 'order.approved'
  | 'order.rejected'
  | 'order.paid'
  | 'order.cancelled'
  | 'payment.received'
  | 'batch.completed'
  | 'order.issued'
  | 'card.bound'
  | 'card.debited'
  | 'card.reversed'
  | 'card.frozen'
  | 'card.unfrozen'
  | 'card.lost'
  | 'card.replaced'
  | 'card.voided'
  | 'card.refunded'
  | 'card.expired'
  | 'card.reactivated';

/** Payloads stay small: they are delivered to ERPs and listed for 30 days. */
const MAX_PAYLOAD_BYTES = 20_000;

/**
 * Writes events into the outbox in the caller's transaction: the event exists
 * exactly when the change it announces has committed. Payloads carry ids,
 * serials and amounts, never card codes, PINs or personal data.
 */
@Injectable()
export class EventsService {
  async record(
    manager: EntityManager,
    event: { enterpriseId: string; type: EventType; data: Record<string, unknown> },
  ): Promise<Event> {
    const size = Buffer.byteLength(JSON.stringify(event.data));
    if (size > MAX_PAYLOAD_BYTES)
      throw new Error(`event ${event.type} payload is ${size} bytes (limit ${MAX_PAYLOAD_BYTES})`);
    const row = manager.create(Event, {
      id: newId('event'),
      enterpriseId: event.enterpriseId,
      type: event.type,
      schemaVersion: 1,
      data: event.data,
      relayedAt: null,
    });
    // jsonb payloads are plain data; TypeORM's deep-partial type cannot see that.
    await manager.insert(Event, row as QueryDeepPartialEntity<Event>);
    return row;
  }
}
