import { AuditRecord } from '../audit/audit-record.entity';
import { ApiClient, ApiClientSecret } from '../auth/api-client.entity';
import { IdempotencyKey } from '../common/idempotency/idempotency-key.entity';
import { Enterprise } from '../enterprises/enterprise.entity';

/** Every entity, listed (not globbed) so tests, the CLI and the build load the same set. */
export const entities = [Enterprise, ApiClient, ApiClientSecret, IdempotencyKey, AuditRecord];
