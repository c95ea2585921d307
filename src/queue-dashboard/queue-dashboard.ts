import { Injectable, Logger } from '@nestjs/common';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { OperatorCredentials } from '../auth/operator-credentials';
import { sendProblem } from '../common/errors/problem.filter';
import { QueueService } from '../queue/queue.service';

/** Where the dashboard is served, on the API's port. */
export const QUEUE_DASHBOARD_PATH = '/admin/queues';

/**
 * The operator's view of the queues: bull-board on every queue of the process, on either backend (bull-board's
 * BullMQ adapter takes BullMQ 6 queues on PostgreSQL as it takes them on Redis). Read-only: retrying, promoting,
 * cleaning or emptying a queue by hand would bypass the audit log and the database state the jobs act on (the
 * operator's own endpoints, such as POST /v1/admin/batches/{id}/retry, do that, audited). Every request, the
 * page's assets and its JSON API alike, needs the operator's credential (OperatorCredentials).
 */
@Injectable()
export class QueueDashboard {
  private readonly logger = new Logger(QueueDashboard.name);

  constructor(
    private readonly queues: QueueService,
    private readonly operators: OperatorCredentials,
  ) {}

  /** Registers the dashboard on the API's Fastify instance (before it is ready); `limit` spends the per-IP budget. */
  async mount(
    fastify: FastifyInstance,
    limit: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>,
  ): Promise<void> {
    const board = new FastifyAdapter();
    board.setBasePath(QUEUE_DASHBOARD_PATH);
    createBullBoard({
      queues: this.queues.all().map((queue) => new BullMQAdapter(queue, { readOnlyMode: true })),
      serverAdapter: board,
      options: { uiConfig: { boardTitle: 'Fuli queues' } },
    });
    await fastify.register(async (scope) => {
      scope.addHook('onRequest', async (request, reply) => {
        try {
          await limit(request, reply);
          await this.operators.check(request.headers.authorization, request.ip);
        } catch (error) {
          sendProblem(request, reply, error, this.logger);
          return reply;
        }
      });
      await scope.register(board.registerPlugin(), { prefix: QUEUE_DASHBOARD_PATH });
    });
  }
}
