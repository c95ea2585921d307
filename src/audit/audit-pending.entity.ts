import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { AuditFields } from './audit-record.entity';

/**
 * An audit record written in its change's transaction but not yet linked into the chain: appending here takes no
 * lock, so concurrent changes (a redemption debit per request) do not queue on the chain's head. AuditService.seal
 * moves pending records into audit_records in `pendingNo` order, assigning seq and hashes under the head's lock,
 * right after each transaction commits. The MAC is made at append time, so a pending record is as tamper-evident
 * as a chained one; only a pending record deleted before it is sealed would leave no trace. No UPDATE or TRUNCATE.
 */
@Entity('audit_pending')
export class AuditPending extends AuditFields {
  /** Order of appending: the order records are sealed in. */
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  pendingNo: string;

  @Column('text', { unique: true })
  id: string;

  @Column('text', { nullable: true })
  enterpriseId: string | null;

  @Column('text')
  keyId: string;

  @Column('char', { length: 64 })
  mac: string;
}
