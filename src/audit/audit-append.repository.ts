import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/context/request-context';
import { newId } from '../common/ids';
import { AppConfig } from '../config/app-config';
import { TransactionalConnection } from '../database/transactional-connection';
import { auditData, recordMac } from './audit-chain';
import { auditKeysFrom, type AuditKeys } from './audit-keys';
import type { AuditEntry } from './audit.service';

/**
 * The audit module's part of a single-statement hot path (docs/architecture.md): the audit_pending row AuditService
 * .append would write (the same fields, signed with the same key), as a CTE of the composed statement, and the probe
 * its seal after the commit starts with. A record appended this way is sealed by `AuditService.seal` once the
 * statement has committed, as AuditService.append's are (sealAfterCommit).
 */
@Injectable()
export class AuditAppendRepository {
  private readonly keys: AuditKeys;

  constructor(
    config: AppConfig,
    private readonly connection: TransactionalConnection,
  ) {
    this.keys = auditKeysFrom(config);
  }

  /** CTE `<name>`: the signed pending record of `entry`, written once per row of `source`. */
  appendSql(
    ctx: RequestContext,
    entry: AuditEntry,
    { source, firstParam, name = 'audit' }: { source: string; firstParam: number; name?: string },
  ): { sql: string; params: unknown[]; id: string } {
    const { id: keyId, key } = this.keys.signing;
    const record = {
      id: newId('audit'),
      occurredAt: new Date(),
      actorClientId: ctx.clientId,
      enterpriseId: entry.enterpriseId ?? null,
      action: entry.action,
      objectType: entry.objectType,
      objectId: entry.objectId,
      requestId: ctx.requestId,
      data: auditData(entry.before, entry.after, entry.summary),
      keyId,
    };
    const mac = recordMac(key, record);
    const params = [
      record.id,
      record.occurredAt,
      record.actorClientId,
      record.enterpriseId,
      record.action,
      record.objectType,
      record.objectId,
      record.requestId,
      JSON.stringify(record.data),
      keyId,
      mac,
    ];
    const p = (n: number, cast: string) => `$${firstParam + n}::${cast}`;
    return {
      sql: `${name} AS (
         INSERT INTO audit_pending (id, occurred_at, actor_client_id, enterprise_id, action, object_type, object_id,
           request_id, data, key_id, mac)
         SELECT ${p(0, 'text')}, ${p(1, 'timestamptz')}, ${p(2, 'text')}, ${p(3, 'text')}, ${p(4, 'text')},
           ${p(5, 'text')}, ${p(6, 'text')}, ${p(7, 'text')}, ${p(8, 'jsonb')}, ${p(9, 'text')}, ${p(10, 'text')}
         FROM ${source}
         RETURNING id)`,
      params,
      id: record.id,
    };
  }
}
