import { Injectable, Logger } from '@nestjs/common';
import type { RequestContext } from '../common/context/request-context';
import { TransactionService } from '../database/transaction.service';

/** Starts (or nudges) the sending of a distribution: the sending part enqueues its job for it. */
export type DistributionWaker = (distributionId: string) => Promise<void>;

/**
 * The seam between creating a distribution and sending it. Creation calls `wake` in its transaction; once that
 * commits, the registered waker runs (the sending part registers one at init that enqueues the `distribution-send`
 * job, payload `{ distributionId }`). Recipients are written due (`next_attempt_at`), so a waker that fails, or a
 * process without one, delays sending until the sender's sweep finds them; it never loses them.
 */
@Injectable()
export class DistributionQueue {
  private readonly logger = new Logger(DistributionQueue.name);
  private readonly wakers: DistributionWaker[] = [];

  constructor(private readonly transactions: TransactionService) {}

  onWake(waker: DistributionWaker): void {
    this.wakers.push(waker);
  }

  /** After the context's transaction commits (now, outside one): every waker, for this distribution. */
  async wake(ctx: RequestContext, distributionId: string): Promise<void> {
    await this.transactions.afterCommit(ctx, async () => {
      for (const waker of this.wakers) {
        try {
          await waker(distributionId);
        } catch (err) {
          this.logger.warn({ msg: 'could not wake the sending of a distribution', distributionId, err });
        }
      }
    });
  }
}
