import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/context/request-context';
import { TransactionalConnection } from '../database/transactional-connection';

/** card_serial_allocator: serial sequence numbers, in ranges for issuance's batches and one by one for replacements. */
@Injectable()
export class CardSerialsRepository {
  constructor(private readonly connection: TransactionalConnection) {}

  /** Reserves `count` sequence numbers in the context's transaction: answers the first. */
  async reserve(ctx: RequestContext, count: number): Promise<bigint> {
    const [{ first }] = await this.connection.query<Array<{ first: string }>>(
      ctx,
      'WITH r AS (UPDATE card_serial_allocator SET next_value = next_value + $1 WHERE id = 1 RETURNING next_value - $1 AS first) SELECT first::text AS first FROM r',
      [count],
    );
    return BigInt(first);
  }
}
