import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { RequestContext } from '../common/context/request-context';
import { TransactionService } from '../database/transaction.service';
import { EventsService } from '../events/events.service';
import { LedgerService } from '../ledger/ledger.service';
import { OnJob } from '../queue/on-job.decorator';
import { JobName } from '../queue/queue.constants';
import { QueueService } from '../queue/queue.service';
import { parseStatementPeriod, shanghaiDay } from './statement-period';
import { statementOf } from './statement.service';
import { ReconciliationDailyRepository } from './reconciliation-daily.repository';

const DAILY_SCHEDULER = 'reconciliation-daily';
/** Ten past midnight in China: yesterday's entries are all committed by then. */
export const DAILY_CRON = { cron: '10 0 * * *', tz: 'Asia/Shanghai' } as const;

/** Thrown inside a run's transaction when another run sent the day's event first: rolls the second event back. */
class AlreadySent extends Error {}

/**
 * The daily `reconciliation.daily` event: for each enterprise that has ledger entries on a day (Asia/Shanghai), that
 * day's statement (opening, movements by kind, closing) through the events outbox, so webhooks deliver it. At most
 * once per enterprise and day (reconciliation_daily_runs), however often the job runs.
 */
@Injectable()
export class ReconciliationDailyService implements OnApplicationBootstrap {
  private readonly logger = new Logger(ReconciliationDailyService.name);

  constructor(
    private readonly transactions: TransactionService,
    private readonly ledger: LedgerService,
    private readonly events: EventsService,
    private readonly runs: ReconciliationDailyRepository,
    private readonly queues: QueueService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.queues.isWorker) return;
    await this.queues.upsertScheduler(DAILY_SCHEDULER, JobName.ReconciliationDaily, {}, DAILY_CRON);
  }

  @OnJob(JobName.ReconciliationDaily)
  async dailyJob(payload: { day?: string }): Promise<{ day: string; sent: number }> {
    const day = payload.day ?? shanghaiDay(new Date(Date.now() - 86_400_000));
    return { day, sent: await this.sendDay(RequestContext.system(), day) };
  }

  /** Sends `day`'s (YYYY-MM-DD) event to each enterprise with entries that day and none yet; how many were sent. */
  async sendDay(ctx: RequestContext, day: string): Promise<number> {
    const { from, to } = parseStatementPeriod(day, day);
    let sent = 0;
    for (const enterpriseId of await this.ledger.enterprisesWithEntries(ctx, from, to)) {
      try {
        await this.transactions.run(ctx, async () => {
          const statement = statementOf(
            enterpriseId,
            from,
            to,
            await this.ledger.statementSums(ctx, enterpriseId, from, to),
          );
          const { object: _object, ...data } = statement;
          const event = await this.events.record(ctx, {
            enterpriseId,
            type: 'reconciliation.daily',
            data: { day, ...data },
          });
          if (!(await this.runs.claim(ctx, enterpriseId, day, event.id))) throw new AlreadySent();
        });
        sent += 1;
      } catch (error) {
        if (!(error instanceof AlreadySent)) throw error;
      }
    }
    this.logger.log({ msg: 'daily reconciliation events sent', day, sent });
    return sent;
  }
}
