import { newId } from '../common/ids';
import { EVENT_SCHEMA_VERSION, type EventType } from '../webhooks/event-catalog';

/** As EventsService.record: payloads stay small (delivered to ERPs, listed for 30 days). */
const MAX_PAYLOAD_BYTES = 20_000;

export interface OutboxEvent {
  enterpriseId: string;
  type: EventType;
  data: Record<string, unknown>;
}

/**
 * The outbox rows of `events` for a single-statement writer (docs/architecture.md): an INSERT … SELECT that writes
 * them when `condition` (an SQL boolean over the writer's CTEs) holds. Parameters numbered from `firstParam`.
 * Self-contained until the events module exports its own fragment (the integrator switches to it).
 */
export function outboxEventsSql(
  events: readonly OutboxEvent[],
  firstParam: number,
  condition: string,
): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const rows = events.map((event) => {
    const data = JSON.stringify(event.data);
    if (Buffer.byteLength(data) > MAX_PAYLOAD_BYTES) {
      throw new Error(`event ${event.type} payload is ${Buffer.byteLength(data)} bytes (limit ${MAX_PAYLOAD_BYTES})`);
    }
    params.push(newId('event'), event.enterpriseId, event.type, data);
    const at = firstParam + params.length - 4;
    return `($${at}::text, $${at + 1}::text, $${at + 2}::text, ${EVENT_SCHEMA_VERSION}, $${at + 3}::jsonb)`;
  });
  return {
    sql: `INSERT INTO events (id, enterprise_id, type, schema_version, data)
          SELECT * FROM (VALUES ${rows.join(', ')}) AS v WHERE ${condition}`,
    params,
  };
}
