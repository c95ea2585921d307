import { newId } from '../common/ids';
import { EVENT_SCHEMA_VERSION, type EventType } from './event-catalog';

/** Payloads stay small: they are delivered to ERPs and listed for 30 days (as EventsService.record checks). */
const MAX_PAYLOAD_BYTES = 20_000;

/** One outbox event a composed statement writes: `data` is completed in SQL by the statement's `extraData`. */
export interface EventInsert {
  enterpriseId: string;
  type: EventType;
  data: Record<string, unknown>;
}

/**
 * The events module's part of a single-statement hot path (docs/architecture.md): CTE `<name>`, the outbox rows
 * of `events`, written once per row of `source` (a one-row CTE of the composed statement: no row, no event), each
 * payload `data || extraData` (extraData: a jsonb expression over `source`'s columns, for figures the statement
 * itself computes). Parameters are numbered from `firstParam`. Relayed by the outbox relay like any other event.
 */
export function eventInsertSql(
  events: readonly EventInsert[],
  {
    source,
    firstParam,
    name = 'outbox',
    extraData,
  }: { source: string; firstParam: number; name?: string; extraData?: string },
): { sql: string; params: unknown[]; ids: string[] } {
  const params: unknown[] = [EVENT_SCHEMA_VERSION];
  const ids: string[] = [];
  const tuples = events.map((event) => {
    const json = JSON.stringify(event.data);
    // The statement adds a few figures at most: what it may add is far below the margin left here.
    if (Buffer.byteLength(json) > MAX_PAYLOAD_BYTES - 1_000) {
      throw new Error(`event ${event.type} payload is ${Buffer.byteLength(json)} bytes (limit ${MAX_PAYLOAD_BYTES})`);
    }
    const id = newId('event');
    ids.push(id);
    params.push(id, event.enterpriseId, event.type, json);
    const at = firstParam + params.length - 1;
    return `($${at - 3}::text, $${at - 2}::text, $${at - 1}::text, $${at}::jsonb)`;
  });
  return {
    sql: `${name} AS (
       INSERT INTO events (id, enterprise_id, type, schema_version, data)
       SELECT v.id, v.enterprise_id, v.type, $${firstParam}::integer, v.data${extraData ? ` || ${extraData}` : ''}
       FROM ${source}, (VALUES ${tuples.join(', ')}) AS v (id, enterprise_id, type, data)
       RETURNING id)`,
    params,
    ids,
  };
}
