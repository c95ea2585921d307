import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/context/request-context';
import { newId } from '../common/ids';
import { type Page } from '../common/pagination/pagination';
import { paginate } from '../database/paginate';
import { TransactionalConnection } from '../database/transactional-connection';
import type { ListEventsQueryDto } from './dto/event.dto';
import { Event } from './event.entity';
import { EVENT_SCHEMA_VERSION, isEventType, type EventType } from './event-catalog';

/** Payloads stay small: they are delivered to ERPs and listed for 30 days. */
export const MAX_EVENT_PAYLOAD_BYTES = 20_000;

export interface NewEvent {
  enterpriseId: string;
  type: EventType;
  data: Record<string, unknown>;
  /** Already relayed: the caller creates its deliveries itself (a ping goes to one endpoint only). */
  relayed?: boolean;
}

/** A SQL fragment and its parameters, numbered from the caller's first free placeholder. */
export interface SqlFragment {
  sql: string;
  params: unknown[];
}

/**
 * `INSERT INTO events … RETURNING id, created_at` for one event, with its parameters numbered from
 * `firstParam` ($firstParam, $firstParam+1, …), so that a hot path can put it in a data-modifying CTE
 * (`WITH event AS (<sql>) …`) and record its event in the same statement as its change. The events table's
 * rules are checked here, once for every caller: a catalogued type and a payload under MAX_EVENT_PAYLOAD_BYTES.
 * The event's id is generated here and is the first parameter (`params[0]`).
 */
export function eventInsertSql(event: NewEvent, firstParam: number): SqlFragment {
  if (!isEventType(event.type)) throw new Error(`unknown event type ${String(event.type)}`);
  if (event.data === null || typeof event.data !== 'object' || Array.isArray(event.data))
    throw new Error(`event ${event.type} payload must be an object`);
  const json = JSON.stringify(event.data);
  const size = Buffer.byteLength(json);
  if (size > MAX_EVENT_PAYLOAD_BYTES)
    throw new Error(`event ${event.type} payload is ${size} bytes (limit ${MAX_EVENT_PAYLOAD_BYTES})`);
  const p = (offset: number) => `$${firstParam + offset}`;
  return {
    sql:
      `INSERT INTO events (id, enterprise_id, type, schema_version, data, relayed_at) ` +
      `VALUES (${p(0)}, ${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}::jsonb, CASE WHEN ${p(5)}::boolean THEN now() END) ` +
      `RETURNING id, enterprise_id, type, schema_version, data, created_at, relayed_at`,
    params: [newId('event'), event.enterpriseId, event.type, EVENT_SCHEMA_VERSION, json, event.relayed ?? false],
  };
}

/**
 * CTE `<name>`: the outbox rows of `events`, written once per row of `source` (a one-row CTE of the composed
 * statement: no row, no event), each payload `data || extraData` (extraData: a jsonb expression over `source`'s
 * columns, for figures the statement itself computes). Parameters are numbered from `firstParam`. The same
 * checks as eventInsertSql; what the statement adds is a few figures, far below the margin left on the payload.
 */
export function eventRowsSql(
  events: readonly NewEvent[],
  {
    source,
    firstParam,
    name = 'outbox',
    extraData,
  }: { source: string; firstParam: number; name?: string; extraData?: string },
): SqlFragment & { ids: string[] } {
  const params: unknown[] = [EVENT_SCHEMA_VERSION];
  const ids: string[] = [];
  const tuples = events.map((event) => {
    if (!isEventType(event.type)) throw new Error(`unknown event type ${String(event.type)}`);
    const json = JSON.stringify(event.data);
    const size = Buffer.byteLength(json);
    if (size > MAX_EVENT_PAYLOAD_BYTES - 1_000)
      throw new Error(`event ${event.type} payload is ${size} bytes (limit ${MAX_EVENT_PAYLOAD_BYTES})`);
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

/**
 * CTE `<name>`: like eventRowsSql, but each event is written only if `source` has a row whose `keyColumn` equals the
 * event's key (a batch statement whose rows may or may not change: an event exactly for each row that did).
 */
export function keyedEventRowsSql(
  events: ReadonlyArray<NewEvent & { key: string }>,
  {
    source,
    keyColumn,
    firstParam,
    name = 'outbox',
  }: { source: string; keyColumn: string; firstParam: number; name?: string },
): SqlFragment & { ids: string[] } {
  const params: unknown[] = [EVENT_SCHEMA_VERSION];
  const columns: Array<string[]> = [[], [], [], [], []];
  const ids: string[] = [];
  for (const event of events) {
    if (!isEventType(event.type)) throw new Error(`unknown event type ${String(event.type)}`);
    const json = JSON.stringify(event.data);
    const size = Buffer.byteLength(json);
    if (size > MAX_EVENT_PAYLOAD_BYTES)
      throw new Error(`event ${event.type} payload is ${size} bytes (limit ${MAX_EVENT_PAYLOAD_BYTES})`);
    const id = newId('event');
    ids.push(id);
    columns[0].push(event.key);
    columns[1].push(id);
    columns[2].push(event.enterpriseId);
    columns[3].push(event.type);
    columns[4].push(json);
  }
  params.push(...columns);
  const p = (n: number) => `$${firstParam + n}`;
  return {
    sql: `${name} AS (
       INSERT INTO events (id, enterprise_id, type, schema_version, data)
       SELECT v.id, v.enterprise_id, v.type, ${p(0)}::integer, v.data::jsonb
       FROM unnest(${p(1)}::text[], ${p(2)}::text[], ${p(3)}::text[], ${p(4)}::text[], ${p(5)}::text[])
         AS v (key, id, enterprise_id, type, data)
       WHERE v.key IN (SELECT ${keyColumn} FROM ${source})
       RETURNING id)`,
    params,
    ids,
  };
}

/**
 * The columns of `events` a delivery needs, joined by the owner's own SQL: `JOIN events <alias> ON <alias>.id =
 * <eventIdColumn>` with the columns aliased event_* (webhooks compose it into their claim statement).
 */
export function eventJoinSql(alias: string, eventIdColumn: string): { join: string; columns: string } {
  return {
    join: `JOIN events ${alias} ON ${alias}.id = ${eventIdColumn}`,
    columns:
      `${alias}.type AS event_type, ${alias}.schema_version AS event_schema_version, ` +
      `${alias}.enterprise_id AS event_enterprise_id, ${alias}.data AS event_data, ` +
      `${alias}.created_at AS event_created_at`,
  };
}

interface EventRow {
  id: string;
  enterprise_id: string;
  type: string;
  schema_version: number;
  data: Record<string, unknown>;
  created_at: Date;
  relayed_at: Date | null;
}

/** The `events` table (the outbox): inserts, the tenant's reads, and the relay's claim of unrelayed rows. */
@Injectable()
export class EventsRepository {
  constructor(private readonly connection: TransactionalConnection) {}

  /** Inserts one event in the context's transaction (an event exists exactly when its change commits). */
  async insert(ctx: RequestContext, event: NewEvent): Promise<Event> {
    this.connection.transactionManager(ctx, 'EventsRepository.insert');
    const { sql, params } = eventInsertSql(event, 1);
    const [row] = await this.connection.query<EventRow[]>(ctx, sql, params);
    return toEvent(row);
  }

  /** An enterprise's events, newest first, filtered by type and creation time. */
  async list(ctx: RequestContext, enterpriseId: string, query: ListEventsQueryDto): Promise<Page<Event>> {
    const builder = this.connection
      .manager(ctx)
      .createQueryBuilder(Event, 'event')
      .where('event.enterprise_id = :enterpriseId', { enterpriseId });
    if (query.type) builder.andWhere('event.type = :type', { type: query.type });
    if (query.created_gte) builder.andWhere('event.created_at >= :gte', { gte: new Date(query.created_gte) });
    if (query.created_lt) builder.andWhere('event.created_at < :lt', { lt: new Date(query.created_lt) });
    return paginate(builder, query, (event) => event);
  }

  async findOfEnterprise(ctx: RequestContext, id: string, enterpriseId: string): Promise<Event | null> {
    return this.connection.manager(ctx).findOneBy(Event, { id, enterpriseId });
  }

  /**
   * Takes up to `limit` unrelayed events, oldest first, locked for the context's transaction and skipping those
   * another relay holds (several workers share the outbox).
   */
  async lockUnrelayed(
    ctx: RequestContext,
    limit: number,
  ): Promise<Array<{ id: string; enterpriseId: string; type: string }>> {
    this.connection.transactionManager(ctx, 'EventsRepository.lockUnrelayed');
    const rows = await this.connection.query<Array<{ id: string; enterprise_id: string; type: string }>>(
      ctx,
      `SELECT id, enterprise_id, type FROM events WHERE relayed_at IS NULL
       ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [limit],
    );
    return rows.map((row) => ({ id: row.id, enterpriseId: row.enterprise_id, type: row.type }));
  }

  async markRelayed(ctx: RequestContext, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.connection.query(ctx, 'UPDATE events SET relayed_at = now() WHERE id = ANY($1)', [ids]);
  }
}

function toEvent(row: EventRow): Event {
  return Object.assign(new Event(), {
    id: row.id,
    enterpriseId: row.enterprise_id,
    type: row.type,
    schemaVersion: row.schema_version,
    data: row.data,
    createdAt: row.created_at,
    relayedAt: row.relayed_at,
  });
}
